// Package sdk is a Go SDK for writing SONATA specific managers (SSMs and
// FSMs) that manoctl, and the 2017 SONATA MANO, can run. It is the Go
// counterpart of the Python sonsmbase library (wire-protocol §7.3) with the
// dispatch conventions of the later SM templates (§7.5):
//
//   - A manager reads broker_host (the AMQP URI of its own vhost,
//     ssm-<uuid> or fsm-<uuid>), broker_exchange (default son-kernel) and
//     sf_uuid (the service or function instance it serves) from its
//     environment, as the registry starts it with them.
//   - Run connects through a Dialer, subscribes to generic.ssm.<sf_uuid>
//     (or generic.fsm.<sf_uuid>) and, for a placement SSM, to
//     placement.ssm.<sf_uuid>, then registers with the 2017 sonsmbase body
//     on specific.manager.registry.ssm.registration and waits for the
//     registry's "registered". A refused or unanswered registration ends
//     Run with an error, so that the registry sees the manager fail.
//   - Calls are dispatched on their ssm_type / fsm_type to the handler
//     registered for that type. Messages the manager published itself and
//     messages without the type key (replies of other managers on the same
//     topic) are ignored, and so are calls of types this manager has no
//     handler for: several managers of one instance share the topic.
//   - A handler's result is the reply: it is published with notify on the
//     request's topic with the request's correlation id and no reply_to.
//     An error becomes {status: ERROR, error: <text>}. Notifications (no
//     reply_to, such as the monitor SSM's start message) get no reply.
//
// The transport is a Dialer, so tests run managers on the in-process bus
// and deployments over AMQP (adapters/smruntime provides both).
package sdk

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/manoctl/manoctl/reconcile/bus"
	"github.com/manoctl/manoctl/reconcile/sm"
	"github.com/manoctl/manoctl/reconcile/wire"
)

// Dialer connects a manager to the broker: url is broker_host, exchange is
// broker_exchange and appID the manager id, which every message it sends
// carries as app_id.
type Dialer interface {
	Dial(ctx context.Context, url, exchange, appID string) (bus.Bus, error)
}

// DialerFunc adapts a function to Dialer.
type DialerFunc func(ctx context.Context, url, exchange, appID string) (bus.Bus, error)

// Dial calls f.
func (f DialerFunc) Dial(ctx context.Context, url, exchange, appID string) (bus.Bus, error) {
	return f(ctx, url, exchange, appID)
}

// VhostOf returns the virtual host named by a broker URL's path ("/" when
// it has none), the rule of amqpstorm and amqp091.
func VhostOf(rawURL string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", fmt.Errorf("sdk: broker URL: %w", err)
	}
	p := u.EscapedPath()
	if len(p) <= 1 {
		return bus.DefaultVhost, nil
	}
	return url.PathUnescape(p[1:])
}

// Config describes a manager: its names, from which its id is computed
// (§7.4), and its broker.
type Config struct {
	// Kind is sm.KindSSM or sm.KindFSM.
	Kind sm.Kind
	// ServiceName, FunctionName (FSMs only) and ManagerName must match
	// ^[a-zA-Z0-9][a-zA-Z0-9_.-]*$.
	ServiceName  string
	FunctionName string
	ManagerName  string
	// Number is the id number (digits); default "1".
	Number string
	// UpdateVersion registers as the replacement of a running manager with
	// the same id (an update, §7.2).
	UpdateVersion bool
	// Version and Description go into the registration; Version defaults
	// to "0.1".
	Version     string
	Description string

	// BrokerURL is broker_host, Exchange broker_exchange (default
	// son-kernel), SFUUID sf_uuid. FromEnv fills them.
	BrokerURL string
	Exchange  string
	SFUUID    string

	// RegistrationTimeout bounds the wait for the registry's answer;
	// default 20 s, as sonsmbase.
	RegistrationTimeout time.Duration
	// StatusText is the text of the status notice sent after registering;
	// default "running".
	StatusText string
	Logger     *slog.Logger
}

// FromEnv returns c with BrokerURL, Exchange and SFUUID taken from the
// environment variables broker_host, broker_exchange and sf_uuid where c
// leaves them empty. Pass os.Getenv.
func (c Config) FromEnv(getenv func(string) string) Config {
	if c.BrokerURL == "" {
		c.BrokerURL = getenv(sm.EnvBrokerHost)
	}
	if c.Exchange == "" {
		c.Exchange = getenv(sm.EnvBrokerExchange)
	}
	if c.SFUUID == "" {
		c.SFUUID = getenv(sm.EnvSFUUID)
	}
	return c
}

// ID is the manager id the configuration computes (§7.4).
func (c Config) ID() string {
	n := c.Number
	if n == "" {
		n = "1"
	}
	return sm.ID(c.Kind, c.ServiceName, c.FunctionName, c.ManagerName, n)
}

func (c Config) validate() error {
	if c.Kind != sm.KindSSM && c.Kind != sm.KindFSM {
		return fmt.Errorf("sdk: kind must be ssm or fsm, not %q", c.Kind)
	}
	names := []string{c.ServiceName, c.ManagerName}
	if c.Kind == sm.KindFSM {
		names = append(names, c.FunctionName)
	}
	for _, n := range names {
		if !sm.ValidName(n) {
			return fmt.Errorf("sdk: invalid name %q: names must match ^[a-zA-Z0-9][a-zA-Z0-9_.-]*$", n)
		}
	}
	if c.Number != "" && strings.Trim(c.Number, "0123456789") != "" {
		return fmt.Errorf("sdk: id number %q is not decimal", c.Number)
	}
	if c.BrokerURL == "" {
		return errors.New("sdk: no broker URL (broker_host)")
	}
	return nil
}

// Request is one call to the manager.
type Request struct {
	// Type is the call's ssm_type or fsm_type ("placement" for a call on
	// placement.ssm.<uuid>).
	Type string
	// Body is the call's body. Like Message, it is read-only: on the
	// in-process bus it is the caller's own value.
	Body map[string]any
	// Message is the call as it arrived.
	Message *bus.Message
}

// Decode stores the call's body in v (a pointer to one of the request
// types of package sm, or any other type of the right shape).
func (r *Request) Decode(v any) error { return r.Message.Decode(v) }

// Content returns the call's content key: the payload of FSM calls and of
// the 2019 placement and state calls.
func (r *Request) Content() map[string]any {
	c, _ := r.Body["content"].(map[string]any)
	return c
}

// DecodeContent stores the call's payload in v: the content key when the
// call has one (FSM calls, 2019 placement calls), else the whole body.
func (r *Request) DecodeContent(v any) error {
	if c, ok := r.Body["content"]; ok && c != nil {
		return (&bus.Message{Topic: r.Message.Topic, Payload: c}).Decode(v)
	}
	return r.Decode(v)
}

// IsCall reports whether the message expects a reply.
func (r *Request) IsCall() bool { return r.Message.ReplyTo != "" }

// HandlerFunc handles one call. Its result is the reply; a nil result to
// a call is answered {status: COMPLETED}. Replies must not carry the
// ssm_type / fsm_type key, or other managers would take them for calls.
type HandlerFunc func(ctx context.Context, req *Request) (any, error)

// Manager is a specific manager.
type Manager struct {
	cfg    Config
	id     string
	dialer Dialer
	log    *slog.Logger

	mu           sync.Mutex
	handlers     map[string]HandlerFunc
	placement    HandlerFunc
	onRegistered []func(ctx context.Context, reg sm.RegistrationReply)
	ep           *bus.Endpoint
	reg          *sm.RegistrationReply
	abort        context.CancelCauseFunc
	closing      bool
	wg           sync.WaitGroup
}

// New returns a manager for cfg; its names are checked as sonsmbase checks
// them.
func New(cfg Config, d Dialer) (*Manager, error) {
	if cfg.Exchange == "" {
		cfg.Exchange = bus.DefaultExchange
	}
	if cfg.Version == "" {
		cfg.Version = "0.1"
	}
	if cfg.RegistrationTimeout <= 0 {
		cfg.RegistrationTimeout = 20 * time.Second
	}
	if cfg.StatusText == "" {
		cfg.StatusText = "running"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if d == nil {
		return nil, errors.New("sdk: no dialer")
	}
	id := cfg.ID()
	return &Manager{cfg: cfg, id: id, dialer: d, log: cfg.Logger.With("manager", id), handlers: map[string]HandlerFunc{}}, nil
}

// ID returns the manager id, also its app_id.
func (m *Manager) ID() string { return m.id }

// Config returns the manager's configuration.
func (m *Manager) Config() Config { return m.cfg }

// Handle registers h for calls of type typ on generic.ssm.<sf_uuid> or
// generic.fsm.<sf_uuid> (task, configure, monitor, state; start, stop,
// configure, scale, task, ...). Register handlers before Run.
func (m *Manager) Handle(typ string, h HandlerFunc) {
	m.mu.Lock()
	m.handlers[typ] = h
	m.mu.Unlock()
}

// HandlePlacement registers h for placement requests on
// placement.ssm.<sf_uuid> (§14.5 L5; the body is sm.PlacementRequest and
// the reply a wire.PlaceReply, see Placement). It is also registered for
// ssm_type placement calls on generic.ssm.<sf_uuid>, the 2019 form (§12).
func (m *Manager) HandlePlacement(h HandlerFunc) {
	m.mu.Lock()
	m.placement = h
	m.handlers[sm.TypePlacement] = h
	m.mu.Unlock()
}

// OnRegistered adds a function Run calls once the registry has accepted
// the manager.
func (m *Manager) OnRegistered(f func(ctx context.Context, reg sm.RegistrationReply)) {
	m.mu.Lock()
	m.onRegistered = append(m.onRegistered, f)
	m.mu.Unlock()
}

// Registration returns the registry's answer once Run has registered.
func (m *Manager) Registration() (sm.RegistrationReply, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.reg == nil {
		return sm.RegistrationReply{}, false
	}
	return *m.reg, true
}

// ErrRegistration is wrapped by Run's error when the registry refused the
// manager or did not answer.
var ErrRegistration = errors.New("registration failed")

// Run connects, subscribes, registers and serves calls until ctx ends (nil
// is returned then) or Abort is called.
func (m *Manager) Run(ctx context.Context) error {
	ctx, abort := context.WithCancelCause(ctx)
	defer abort(nil)
	m.mu.Lock()
	m.abort = abort
	m.mu.Unlock()

	b, err := m.dialer.Dial(ctx, m.cfg.BrokerURL, m.cfg.Exchange, m.id)
	if err != nil {
		return fmt.Errorf("sdk: %s: connect: %w", m.id, err)
	}
	defer b.Close()
	ep := bus.NewEndpoint(b, m.id, bus.WithLogger(m.log),
		bus.WithTimeouts(func(string) time.Duration { return m.cfg.RegistrationTimeout }))
	defer ep.Close()
	m.mu.Lock()
	m.ep = ep
	m.mu.Unlock()

	// Listen before registering: the registry answers the MANO as soon as
	// the manager has registered, and the first call may follow at once.
	topic := m.cfg.Kind.GenericTopic(m.cfg.SFUUID)
	if _, err := ep.Handle(ctx, topic, bus.SkipOwn, func(_ context.Context, msg *bus.Message) {
		m.dispatch(ctx, ep, msg)
	}); err != nil {
		return fmt.Errorf("sdk: %s: %w", m.id, err)
	}
	m.mu.Lock()
	placing := m.placement != nil
	m.mu.Unlock()
	if placing {
		if _, err := ep.Handle(ctx, bus.PlacementSSMTopic(m.cfg.SFUUID), bus.SkipOwn|bus.RequestsOnly, func(_ context.Context, msg *bus.Message) {
			m.serve(ctx, ep, msg, sm.TypePlacement, m.placement, nil)
		}); err != nil {
			return fmt.Errorf("sdk: %s: %w", m.id, err)
		}
	}

	reg, err := m.register(ctx, ep)
	if err != nil {
		// A call may come before the registry's answer (see above) and
		// abort the manager: the abort is why it stopped, not the
		// registration it cut short.
		if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
			return cause
		}
		return err
	}
	m.mu.Lock()
	m.reg = &reg
	hooks := append([]func(context.Context, sm.RegistrationReply){}, m.onRegistered...)
	m.mu.Unlock()
	m.log.Info("registered", "uuid", reg.UUID, "sf_uuid", m.cfg.SFUUID)
	if err := m.Status(ctx, m.cfg.StatusText); err != nil {
		m.log.Warn("status notice not sent", "err", err)
	}
	for _, f := range hooks {
		f(ctx, reg)
	}

	<-ctx.Done()
	m.mu.Lock()
	m.closing = true
	m.mu.Unlock()
	m.wg.Wait()
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	return nil
}

// register sends the 2017 sonsmbase registration (§7.3) and waits for the
// answer.
func (m *Manager) register(ctx context.Context, ep *bus.Endpoint) (sm.RegistrationReply, error) {
	var fn *string
	if m.cfg.Kind == sm.KindFSM {
		f := m.cfg.FunctionName
		fn = &f
	}
	update := "false"
	if m.cfg.UpdateVersion {
		update = "true"
	}
	req := sm.RegistrationRequest{
		SpecificManagerType: string(m.cfg.Kind), ServiceName: m.cfg.ServiceName, FunctionName: fn,
		SpecificManagerName: m.cfg.ManagerName, SpecificManagerID: m.id, UpdateVersion: update,
		Version: m.cfg.Version, Description: m.cfg.Description, SFUUID: m.cfg.SFUUID,
	}
	msg, err := ep.Request(ctx, bus.TopicSMRegistration, req)
	if err != nil {
		return sm.RegistrationReply{}, fmt.Errorf("sdk: %s: %w: %v", m.id, ErrRegistration, err)
	}
	var reply sm.RegistrationReply
	if err := msg.Decode(&reply); err != nil {
		return sm.RegistrationReply{}, fmt.Errorf("sdk: %s: %w: malformed reply: %v", m.id, ErrRegistration, err)
	}
	if reply.Status != sm.StatusRegistered {
		return reply, fmt.Errorf("sdk: %s: %w: %s: %s", m.id, ErrRegistration, reply.Status, wire.ErrorText(reply.Error))
	}
	return reply, nil
}

// dispatch routes a message on the generic topic.
func (m *Manager) dispatch(ctx context.Context, ep *bus.Endpoint, msg *bus.Message) {
	var body map[string]any
	if err := msg.Decode(&body); err != nil || body == nil {
		return // not a call: replies may be lists, strings, ...
	}
	typ, ok := body[m.cfg.Kind.TypeKey()].(string)
	if !ok {
		return // a reply of another manager, or no call at all
	}
	m.mu.Lock()
	h := m.handlers[typ]
	m.mu.Unlock()
	if h == nil {
		return // another manager of this instance serves that type
	}
	m.serve(ctx, ep, msg, typ, h, body)
}

// serve runs h in its own goroutine, so that a slow handler does not hold
// up the subscription, and replies.
func (m *Manager) serve(ctx context.Context, ep *bus.Endpoint, msg *bus.Message, typ string, h HandlerFunc, body map[string]any) {
	if body == nil {
		if err := msg.Decode(&body); err != nil {
			m.log.Warn("malformed call", "topic", msg.Topic, "err", err)
			if msg.ReplyTo != "" {
				ep.Notify(ctx, msg.Topic, errorReply(typ, fmt.Errorf("malformed request: %v", err)), msg.CorrelationID)
			}
			return
		}
	}
	m.mu.Lock()
	if m.closing {
		m.mu.Unlock()
		return
	}
	m.wg.Add(1)
	m.mu.Unlock()
	go func() {
		defer m.wg.Done()
		req := &Request{Type: typ, Body: body, Message: msg}
		res, err := h(ctx, req)
		if ctx.Err() != nil {
			return // stopped or aborted meanwhile: a dead manager says nothing
		}
		if err != nil {
			m.log.Warn("call failed", "type", typ, "correlation_id", msg.CorrelationID, "err", err)
			res = errorReply(typ, err)
		}
		if msg.ReplyTo == "" {
			return // a notification
		}
		if res == nil {
			res = Completed()
		}
		if err := ep.Notify(ctx, msg.Topic, res, msg.CorrelationID); err != nil {
			m.log.Error("reply not sent", "topic", msg.Topic, "err", err)
		}
	}()
}

func (m *Manager) endpoint() (*bus.Endpoint, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ep == nil {
		return nil, errors.New("sdk: manager is not running")
	}
	return m.ep, nil
}

// Notify publishes a notification on topic of the manager's vhost.
func (m *Manager) Notify(ctx context.Context, topic string, payload any) error {
	ep, err := m.endpoint()
	if err != nil {
		return err
	}
	return ep.Notify(ctx, topic, payload, "")
}

// Status publishes a status notice {name: <id>, status: text} on
// specific.manager.registry.ssm.status (§7.3).
func (m *Manager) Status(ctx context.Context, text string) error {
	return m.Notify(ctx, bus.TopicSMStatus, sm.StatusNotice{Name: m.id, Status: text})
}

// Feedback sends a monitoring SSM's feedback to the SLM on
// monitor.ssm.<sf_uuid> (§4.8). ServiceInstanceID defaults to sf_uuid.
func (m *Manager) Feedback(ctx context.Context, fb sm.Feedback) error {
	if fb.ServiceInstanceID == "" {
		fb.ServiceInstanceID = m.cfg.SFUUID
	}
	return m.Notify(ctx, bus.MonitorSSMTopic(m.cfg.SFUUID), fb)
}

// Abort stops Run at once with err, as if the manager had crashed: calls
// in progress are not answered.
func (m *Manager) Abort(err error) {
	if err == nil {
		err = errors.New("aborted")
	}
	m.mu.Lock()
	abort := m.abort
	m.mu.Unlock()
	if abort != nil {
		abort(err)
	}
}

// Main runs a manager process: cfg is completed from the environment
// (broker_host, broker_exchange, sf_uuid), setup registers the handlers,
// and SIGTERM or SIGINT stop the manager. It returns the exit code: 0 after
// a signal, 1 when the manager could not start or register.
func Main(cfg Config, d Dialer, setup func(*Manager) error) int {
	cfg = cfg.FromEnv(os.Getenv)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	m, err := New(cfg, d)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if setup != nil {
		if err := setup(m); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := m.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}
