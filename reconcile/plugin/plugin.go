// Package plugin is the behaviour every MANO plugin shares with
// son-mano-base's ManoBasePlugin (wire-protocol §3.2): register with the
// plugin manager, heartbeat, obey lifecycle start/pause/stop, deregister.
package plugin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/manoctl/manoctl/reconcile/bus"
	"github.com/manoctl/manoctl/reconcile/wire"
)

// Plugin states reported in heartbeats.
const (
	StateNone    = "None" // before registration, as the original reports it
	StateReady   = "READY"
	StateRunning = "RUNNING"
	StatePaused  = "PAUSED"
)

// Info identifies a plugin to the plugin manager.
type Info struct {
	// Name is "<name>.<ClassName>", also the AMQP app_id.
	Name        string
	Version     string
	Description string
}

// Config tunes a plugin's PM protocol.
type Config struct {
	// HeartbeatInterval is 2 s in the original (rate 0.5).
	HeartbeatInterval time.Duration
	// RegisterTimeout bounds registration; the original re-sends every
	// ~0.1 s for about 5 s.
	RegisterTimeout time.Duration
	// Logger for protocol events.
	Logger *slog.Logger
	// OnStart, OnPause and OnStop run on the corresponding lifecycle
	// notifications. OnStop runs after deregistration.
	OnStart, OnPause, OnStop func(ctx context.Context)
}

// Base is a running plugin's PM presence.
type Base struct {
	ep   *bus.Endpoint
	info Info
	cfg  Config

	mu    sync.Mutex
	uuid  string
	state string
	subs  []bus.Subscription
	// looping is set once the heartbeat goroutine runs.
	looping bool
	// left is set by the first Deregister: a plugin stopped by
	// lifecycle.stop has deregistered already when its platform closes.
	left bool

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// New prepares a plugin that speaks through ep (whose app id should be
// info.Name). Call Register to join the platform.
func New(ep *bus.Endpoint, info Info, cfg Config) *Base {
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = 2 * time.Second
	}
	if cfg.RegisterTimeout <= 0 {
		cfg.RegisterTimeout = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Base{ep: ep, info: info, cfg: cfg, state: StateNone, stop: make(chan struct{}), done: make(chan struct{})}
}

// UUID returns the uuid the PM assigned, or "".
func (b *Base) UUID() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.uuid
}

// State returns the current lifecycle state.
func (b *Base) State() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state
}

// ErrRejected is returned when the PM answers a registration with a status
// other than OK (the original exits with status 1).
var ErrRejected = errors.New("plugin: registration rejected")

// Register registers with the PM, re-sending the request with a fresh
// correlation id until a reply arrives (as the original does), then
// subscribes to its lifecycle topics, sends a first heartbeat and starts
// the heartbeat loop.
func (b *Base) Register(ctx context.Context) error {
	desc := b.info.Description
	req := wire.RegisterRequest{Name: b.info.Name, Version: b.info.Version, Description: &desc}
	deadline := time.Now().Add(b.cfg.RegisterTimeout)
	var reply wire.RegisterReply
	for {
		wait := 500 * time.Millisecond
		if left := time.Until(deadline); left < wait {
			wait = left
		}
		if wait <= 0 {
			return fmt.Errorf("plugin %s: register: no answer from the plugin manager within %s", b.info.Name, b.cfg.RegisterTimeout)
		}
		m, err := b.ep.Request(ctx, bus.TopicPluginRegister, req, bus.WithTimeout(wait))
		if bus.IsTimeout(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("plugin %s: register: %w", b.info.Name, err)
		}
		if err := m.Decode(&reply); err != nil {
			return fmt.Errorf("plugin %s: register reply: %w", b.info.Name, err)
		}
		break
	}
	if reply.Status != "OK" {
		return fmt.Errorf("plugin %s: %w: %s", b.info.Name, ErrRejected, wire.ErrorText(reply.Error))
	}
	b.mu.Lock()
	b.uuid = reply.UUID
	b.state = StateReady
	b.mu.Unlock()
	for _, action := range []string{"start", "pause", "stop"} {
		action := action
		sub, err := b.ep.Handle(ctx, bus.PluginLifecycleTopic(reply.UUID, action), bus.NotificationsOnly, func(ctx context.Context, _ *bus.Message) {
			b.onLifecycle(ctx, action)
		})
		if err != nil {
			return err
		}
		b.mu.Lock()
		b.subs = append(b.subs, sub)
		b.mu.Unlock()
	}
	b.heartbeat(ctx)
	b.mu.Lock()
	b.looping = true
	b.mu.Unlock()
	go b.heartbeatLoop()
	b.cfg.Logger.Info("plugin registered", "plugin", b.info.Name, "uuid", reply.UUID)
	return nil
}

func (b *Base) onLifecycle(ctx context.Context, action string) {
	switch action {
	case "start":
		b.setState(StateRunning)
		if b.cfg.OnStart != nil {
			b.cfg.OnStart(ctx)
		}
	case "pause":
		b.setState(StatePaused)
		if b.cfg.OnPause != nil {
			b.cfg.OnPause(ctx)
		}
	case "stop":
		// Deregister from a goroutine: the reply to a deregister request
		// may come through the same subscription machinery.
		go func() {
			_ = b.Deregister(context.Background())
			if b.cfg.OnStop != nil {
				b.cfg.OnStop(context.Background())
			}
		}()
		return
	}
	b.heartbeat(ctx)
}

func (b *Base) setState(s string) {
	b.mu.Lock()
	b.state = s
	b.mu.Unlock()
}

func (b *Base) heartbeat(ctx context.Context) {
	b.mu.Lock()
	uuid, state := b.uuid, b.state
	b.mu.Unlock()
	if uuid == "" {
		return
	}
	if err := b.ep.Notify(ctx, bus.PluginHeartbeatTopic(uuid), wire.Heartbeat{UUID: uuid, State: state}, ""); err != nil {
		b.cfg.Logger.Debug("heartbeat not sent", "plugin", b.info.Name, "err", err)
	}
}

func (b *Base) heartbeatLoop() {
	defer close(b.done)
	t := time.NewTicker(b.cfg.HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			b.heartbeat(context.Background())
		}
	}
}

// Deregister tells the PM the plugin leaves and stops heartbeats. It waits
// briefly for the PM's answer, which only manoctl's PM sends (§14.2 P1).
// Only the first call deregisters; later ones (a platform closing after
// lifecycle.stop) do nothing.
func (b *Base) Deregister(ctx context.Context) error {
	b.mu.Lock()
	uuid, left := b.uuid, b.left
	b.left = true
	b.mu.Unlock()
	b.halt()
	if left || uuid == "" {
		return nil
	}
	m, err := b.ep.Request(ctx, bus.TopicPluginDeregister, wire.DeregisterRequest{UUID: uuid}, bus.WithTimeout(time.Second))
	if err != nil {
		if bus.IsTimeout(err) {
			return nil // an original PM never answers
		}
		return fmt.Errorf("plugin %s: deregister: %w", b.info.Name, err)
	}
	var r wire.PMReply
	if err := m.Decode(&r); err == nil && r.Status != "OK" {
		return fmt.Errorf("plugin %s: deregister: %s", b.info.Name, r.Error)
	}
	return nil
}

// halt stops the heartbeat loop and lifecycle subscriptions.
func (b *Base) halt() {
	b.once.Do(func() {
		close(b.stop)
		b.mu.Lock()
		subs := b.subs
		b.subs = nil
		looping := b.looping
		b.mu.Unlock()
		for _, s := range subs {
			s.Unsubscribe()
		}
		if looping {
			<-b.done
		}
	})
}

// Close stops heartbeats without deregistering.
func (b *Base) Close() { b.halt() }
