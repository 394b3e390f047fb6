// Package pm is the plugin manager (son-mano-pluginmanager, wire-protocol
// §3.3): it registers plugins, tracks their heartbeats, starts them,
// broadcasts the plugin table and sends lifecycle commands.
//
// manoctl's PM fixes the original where §14.2 says so: it answers
// deregistration requests (P1), reads YAML bodies as well as JSON (P2),
// stores READY and sends lifecycle.start once per transition (P3), marks
// silent plugins FAILED (P4) and records real registration times (P5).
package pm

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/manoctl/manoctl/reconcile/bus"
	"github.com/manoctl/manoctl/reconcile/wire"
)

// States the PM stores.
const (
	StateRegistered = "REGISTERED"
	StateReady      = "READY"
	StateRunning    = "RUNNING"
	StatePaused     = "PAUSED"
	StateFailed     = "FAILED"
)

// Plugin is one row of the plugin table.
type Plugin struct {
	UUID            string
	Name            string
	Version         string
	Description     *string
	State           string
	RegisteredAt    time.Time
	LastHeartbeatAt time.Time // zero until the first heartbeat
	// HeartbeatInterval is the observed interval between the last two
	// heartbeats; liveness is judged against it.
	HeartbeatInterval time.Duration
	// StartSentAt is when lifecycle.start was last sent.
	StartSentAt time.Time
}

// Info renders the row as the PM's REST and broadcast dict.
func (p Plugin) Info() wire.PluginInfo {
	hb := "None"
	if !p.LastHeartbeatAt.IsZero() {
		hb = wire.PythonTime(p.LastHeartbeatAt)
	}
	return wire.PluginInfo{
		UUID: p.UUID, Name: p.Name, Version: p.Version, Description: p.Description,
		State: p.State, RegisteredAt: wire.PythonTime(p.RegisteredAt), LastHeartbeatAt: hb,
	}
}

// Store keeps the plugin table. The PM's default is in memory; the
// records package persists it for the daemon.
type Store interface {
	PutPlugin(p Plugin) error
	Plugin(uuid string) (Plugin, bool)
	DeletePlugin(uuid string) error
	Plugins() []Plugin
}

// MemStore is an in-memory Store.
type MemStore struct {
	mu sync.Mutex
	m  map[string]Plugin
}

// NewMemStore returns an empty table.
func NewMemStore() *MemStore { return &MemStore{m: make(map[string]Plugin)} }

func (s *MemStore) PutPlugin(p Plugin) error {
	s.mu.Lock()
	s.m[p.UUID] = p
	s.mu.Unlock()
	return nil
}

func (s *MemStore) Plugin(id string) (Plugin, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.m[id]
	return p, ok
}

func (s *MemStore) DeletePlugin(id string) error {
	s.mu.Lock()
	delete(s.m, id)
	s.mu.Unlock()
	return nil
}

func (s *MemStore) Plugins() []Plugin {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Plugin, 0, len(s.m))
	for _, p := range s.m {
		out = append(out, p)
	}
	SortByRegistration(out)
	return out
}

// SortByRegistration sorts plugins in registration order (uuid among
// equal times), the order Store.Plugins returns them in.
func SortByRegistration(ps []Plugin) {
	sort.Slice(ps, func(i, j int) bool {
		if !ps[i].RegisteredAt.Equal(ps[j].RegisteredAt) {
			return ps[i].RegisteredAt.Before(ps[j].RegisteredAt)
		}
		return ps[i].UUID < ps[j].UUID
	})
}

// Config tunes the PM.
type Config struct {
	Store  Store
	Logger *slog.Logger
	// Now is the clock (tests).
	Now func() time.Time
	// StartResend is how long a plugin may keep reporting READY after
	// lifecycle.start before the PM sends it again (a lost message).
	StartResend time.Duration
	// MinLiveness is the shortest silence that marks a plugin FAILED; the
	// IA beats every 10 s, so the default is 30 s (§14.2 P4).
	MinLiveness time.Duration
	// CheckInterval is how often liveness is checked.
	CheckInterval time.Duration
}

// Manager is a running plugin manager.
type Manager struct {
	ep  *bus.Endpoint
	cfg Config

	mu     sync.Mutex // serialises table updates and broadcasts
	cancel context.CancelFunc
	done   chan struct{}
}

// New attaches a plugin manager to b.
func New(b bus.Bus, cfg Config) *Manager {
	if cfg.Store == nil {
		cfg.Store = NewMemStore()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.StartResend <= 0 {
		cfg.StartResend = 10 * time.Second
	}
	if cfg.MinLiveness <= 0 {
		cfg.MinLiveness = 30 * time.Second
	}
	if cfg.CheckInterval <= 0 {
		cfg.CheckInterval = 5 * time.Second
	}
	return &Manager{ep: bus.NewEndpoint(b, bus.AppPluginManager, bus.WithLogger(cfg.Logger)), cfg: cfg}
}

// Start subscribes to the PM topics and starts the liveness check.
func (m *Manager) Start(ctx context.Context) error {
	if _, err := m.ep.Handle(ctx, bus.TopicPluginRegister, bus.SkipOwn, m.onRegister); err != nil {
		return err
	}
	if _, err := m.ep.Handle(ctx, bus.TopicPluginDeregister, bus.SkipOwn, m.onDeregister); err != nil {
		return err
	}
	if _, err := m.ep.Handle(ctx, bus.TopicPluginHeartbeats, bus.NotificationsOnly, m.onHeartbeat); err != nil {
		return err
	}
	lctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	m.done = make(chan struct{})
	go m.livenessLoop(lctx)
	return nil
}

// Close stops the PM.
func (m *Manager) Close() error {
	if m.cancel != nil {
		m.cancel()
		<-m.done
	}
	return m.ep.Close()
}

// Plugins lists the table.
func (m *Manager) Plugins() []Plugin { return m.cfg.Store.Plugins() }

// Plugin returns one row.
func (m *Manager) Plugin(id string) (Plugin, bool) { return m.cfg.Store.Plugin(id) }

func (m *Manager) onRegister(ctx context.Context, msg *bus.Message) {
	if msg.ReplyTo == "" {
		return // a reply (ours are skipped by app id) or a stray notification
	}
	var req wire.RegisterRequest
	if err := msg.Decode(&req); err != nil || req.Name == "" {
		reason := "registration needs a name"
		if err != nil {
			reason = err.Error()
		}
		m.cfg.Logger.Warn("pm: malformed registration", "app_id", msg.AppID, "err", reason)
		m.ep.Reply(ctx, msg, wire.RegisterReply{Status: "ERROR", Error: "malformed registration: " + reason})
		return
	}
	p := Plugin{
		UUID: uuid.NewString(), Name: req.Name, Version: req.Version, Description: req.Description,
		State: StateRegistered, RegisteredAt: m.cfg.Now(),
	}
	m.mu.Lock()
	err := m.cfg.Store.PutPlugin(p)
	m.mu.Unlock()
	if err != nil {
		m.cfg.Logger.Error("pm: store plugin", "name", p.Name, "err", err)
		m.ep.Reply(ctx, msg, wire.RegisterReply{Status: "ERROR", Error: err.Error()})
		return
	}
	// The original answers with notify on the register topic: same
	// correlation id, no reply_to.
	m.ep.Notify(ctx, bus.TopicPluginRegister, wire.RegisterReply{
		Status: "OK", Name: p.Name, Version: p.Version, Description: p.Description, UUID: p.UUID, Error: nil,
	}, msg.CorrelationID)
	m.cfg.Logger.Info("pm: plugin registered", "name", p.Name, "uuid", p.UUID)
	m.broadcast(ctx)
}

func (m *Manager) onDeregister(ctx context.Context, msg *bus.Message) {
	var req wire.DeregisterRequest
	if err := msg.Decode(&req); err != nil || req.UUID == "" {
		m.cfg.Logger.Warn("pm: malformed deregistration", "app_id", msg.AppID, "err", err)
		if msg.ReplyTo != "" {
			m.ep.Reply(ctx, msg, wire.PMReply{Status: "ERROR", Error: "malformed deregistration"})
		}
		return
	}
	m.mu.Lock()
	_, ok := m.cfg.Store.Plugin(req.UUID)
	if ok {
		m.cfg.Store.DeletePlugin(req.UUID)
	}
	m.mu.Unlock()
	if msg.ReplyTo != "" {
		if ok {
			m.ep.Reply(ctx, msg, wire.PMReply{Status: "OK"})
		} else {
			m.ep.Reply(ctx, msg, wire.PMReply{Status: "ERROR", Error: "unknown plugin " + req.UUID})
		}
	}
	if ok {
		m.cfg.Logger.Info("pm: plugin deregistered", "uuid", req.UUID)
		m.broadcast(ctx)
	}
}

func (m *Manager) onHeartbeat(ctx context.Context, msg *bus.Message) {
	var hb wire.Heartbeat
	if err := msg.Decode(&hb); err != nil {
		m.cfg.Logger.Warn("pm: malformed heartbeat", "topic", msg.Topic, "app_id", msg.AppID, "err", err)
		return
	}
	now := m.cfg.Now()
	m.mu.Lock()
	p, ok := m.cfg.Store.Plugin(hb.UUID)
	if !ok {
		m.mu.Unlock()
		return // unknown uuids are ignored, as in the original
	}
	changed := false
	if !p.LastHeartbeatAt.IsZero() {
		p.HeartbeatInterval = now.Sub(p.LastHeartbeatAt)
	}
	p.LastHeartbeatAt = now
	sendStart := false
	switch {
	case hb.State == StateReady && p.State != StateReady:
		p.State = StateReady
		p.StartSentAt = now
		sendStart, changed = true, true
	case hb.State == StateReady && now.Sub(p.StartSentAt) >= m.cfg.StartResend:
		// Still READY long after start: the start message was lost.
		p.StartSentAt = now
		sendStart = true
	case hb.State != p.State:
		p.State = hb.State
		changed = true
	}
	m.cfg.Store.PutPlugin(p)
	m.mu.Unlock()
	if sendStart {
		m.ep.Notify(ctx, bus.PluginLifecycleTopic(p.UUID, "start"), map[string]any{}, "")
	}
	if changed {
		m.broadcast(ctx)
	}
}

// Lifecycle sends action (start, pause or stop) to the plugin id.
func (m *Manager) Lifecycle(ctx context.Context, id, action string) error {
	switch action {
	case "start", "pause", "stop":
	default:
		return fmt.Errorf("pm: unknown lifecycle action %q (want start, pause or stop)", action)
	}
	if _, ok := m.cfg.Store.Plugin(id); !ok {
		return fmt.Errorf("pm: %w: %s", ErrUnknownPlugin, id)
	}
	return m.ep.Notify(ctx, bus.PluginLifecycleTopic(id, action), map[string]any{}, "")
}

// ErrUnknownPlugin is returned for a uuid the PM does not know.
var ErrUnknownPlugin = fmt.Errorf("unknown plugin")

// Status returns the broadcast body.
func (m *Manager) Status() wire.PluginStatus {
	dict := make(map[string]wire.PluginInfo)
	for _, p := range m.cfg.Store.Plugins() {
		dict[p.UUID] = p.Info()
	}
	return wire.PluginStatus{Timestamp: wire.PythonTime(m.cfg.Now()), PluginDict: dict}
}

func (m *Manager) broadcast(ctx context.Context) {
	if err := m.ep.Notify(ctx, bus.TopicPluginStatus, m.Status(), ""); err != nil {
		m.cfg.Logger.Debug("pm: status broadcast", "err", err)
	}
}

func (m *Manager) livenessLoop(ctx context.Context) {
	defer close(m.done)
	t := time.NewTicker(m.cfg.CheckInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if m.checkLiveness() {
				m.broadcast(ctx)
			}
		}
	}
}

// checkLiveness marks plugins silent for 3x their heartbeat interval (at
// least MinLiveness) FAILED; it reports whether anything changed.
func (m *Manager) checkLiveness() bool {
	now := m.cfg.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	changed := false
	for _, p := range m.cfg.Store.Plugins() {
		if p.State == StateFailed {
			continue
		}
		last := p.LastHeartbeatAt
		if last.IsZero() {
			last = p.RegisteredAt
		}
		limit := 3 * p.HeartbeatInterval
		if limit < m.cfg.MinLiveness {
			limit = m.cfg.MinLiveness
		}
		if now.Sub(last) > limit {
			p.State = StateFailed
			m.cfg.Store.PutPlugin(p)
			m.cfg.Logger.Warn("pm: plugin silent, marked FAILED", "name", p.Name, "uuid", p.UUID, "silent_for", now.Sub(last).Round(time.Second))
			changed = true
		}
	}
	return changed
}

// CheckLiveness runs one liveness pass now (tests, REST).
func (m *Manager) CheckLiveness(ctx context.Context) {
	if m.checkLiveness() {
		m.broadcast(ctx)
	}
}
