// Package smr is the specific manager registry (wire-protocol §7): the
// MANO plugin that on-boards, instantiates, updates and terminates the
// service and function specific managers (SSMs, FSMs) of service and
// function instances, on the specific.manager.registry.* topics, and keeps
// the registry of managers that registered on their vhosts.
//
// # Protocol
//
// Requests arrive on the default vhost as async-endpoint calls (reply_to
// set; the reply goes to reply_to with the request's correlation id). Every
// reply is a map keyed by the descriptor's manager id:
//
//	on-board     {<id>: {status: On-boarded,   error: 'None'}}
//	instantiate  {<id>: {status: Instantiated, uuid: <registration uuid>, error: 'None'}}
//	update       {<new id>: {status: Updated,  uuid, error: 'None'}}
//	terminate    {<id>: {status: Terminated,   error: 'None'}}
//	failures     {<id>: {status: Failed, [uuid: 'None',] error: <text>}}
//
// For an instance with uuid U, managers live on vhost ssm-U or fsm-U. The
// SMR creates the vhost through its Vhosts port, connects to it, answers
// registrations on specific.manager.registry.ssm.registration there (§7.3)
// and listens to the managers' status notices on
// specific.manager.registry.ssm.status there (§14.6 M4). It then starts each
// manager through its Runtime port with the environment broker_host (the
// vhost's URL), broker_exchange and sf_uuid, and answers as soon as the
// manager has registered as <id><U> (§14.6 M2), or fails it after the
// registration timeout or when the manager exits first. When the last
// manager of an instance is terminated, the SMR closes its connection and
// deletes the vhost (M5).
//
// Runtimes decide what "start a manager" means: a local process mapped
// from the descriptor's image, an in-process Go manager, a manager started
// elsewhere that only has to register (adapters/smruntime), or a container.
package smr

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/manoctl/manoctl/reconcile/bus"
	"github.com/manoctl/manoctl/reconcile/plugin"
	"github.com/manoctl/manoctl/reconcile/sm"
	"github.com/manoctl/manoctl/schema/descriptor"
)

// Info is the SMR's plugin identity (§3.1).
var Info = plugin.Info{Name: bus.AppSMR, Version: "v0.01", Description: "Specific Manager Registry"}

// PluginName is the SMR's name in mano.Config.Plugins.
const PluginName = "smr"

// ManagerSpec is what a Runtime needs to start one manager.
type ManagerSpec struct {
	// Kind is ssm or fsm.
	Kind sm.Kind
	// ID is the descriptor's manager id, also the manager's app_id.
	ID string
	// Image is the descriptor's image: a Docker image reference for the
	// original SMR, a key of the runtime configuration for manoctl's
	// local-process runtime.
	Image string
	// SFUUID is the service or function instance uuid.
	SFUUID string
	// Vhost is the manager's vhost, ssm-<uuid> or fsm-<uuid>.
	Vhost string
	// Name names the running instance: <id><uuid>, the original's
	// container name, or a random name while an update runs.
	Name string
	// Env is the manager's environment: broker_host, broker_exchange and
	// sf_uuid.
	Env map[string]string
	// Options are the descriptor entry's options.
	Options []descriptor.Option
}

// Runtime starts managers. Implementations live in adapters/smruntime.
type Runtime interface {
	Start(ctx context.Context, spec ManagerSpec) (Instance, error)
}

// Instance is a started manager.
type Instance interface {
	// Name is the ManagerSpec's Name.
	Name() string
	// Stop stops the manager and waits for it to be gone (or for ctx).
	// Stopping a manager that has exited is not an error.
	Stop(ctx context.Context) error
	// Done is closed when the manager has exited, for whatever reason.
	// Runtimes that cannot observe their managers never close it.
	Done() <-chan struct{}
	// Err explains the exit once Done is closed (nil for a clean exit).
	Err() error
}

// Onboarder is implemented by runtimes that can prepare a manager at
// on-board time (the original pulls the image). Runtimes without it
// on-board every manager.
type Onboarder interface {
	Onboard(ctx context.Context, spec ManagerSpec) error
}

// Vhosts administers the managers' virtual hosts: on the in-process bus
// they are namespaces of the broker, over AMQP real RabbitMQ vhosts created
// through the management API or rabbitmqctl (§7.1).
type Vhosts interface {
	// Create creates vhost name, if needed, and lets the managers' broker
	// user (and the MANO's) use it with full permissions.
	Create(ctx context.Context, name string) error
	// Delete deletes vhost name with everything on it; deleting a vhost
	// that does not exist succeeds.
	Delete(ctx context.Context, name string) error
}

// Config wires an SMR.
type Config struct {
	// Runtime starts managers; required.
	Runtime Runtime
	// Vhosts creates and deletes the managers' vhosts; required.
	Vhosts Vhosts
	// Connector opens connections to the managers' vhosts; required.
	Connector bus.Connector
	// BrokerURL returns the broker_host a manager on vhost is started with;
	// default DefaultBrokerURL.
	BrokerURL func(vhost string) string
	// Exchange is the broker_exchange managers are started with; default
	// son-kernel.
	Exchange string
	// RegistrationTimeout bounds the wait for a started manager to
	// register; default 30 s (§14.6 M2).
	RegistrationTimeout time.Duration
	// StopTimeout bounds stopping one manager; default 30 s.
	StopTimeout time.Duration
	// SharedQueues makes several SMR instances compete for requests
	// (§14.1 T1). They must then share one registry, which this package
	// does not provide: leave it off unless one SMR runs.
	SharedQueues bool
	Logger       *slog.Logger
	// Now is the clock of the registry.
	Now func() time.Time
}

// DefaultRegistrationTimeout is how long a started manager has to register.
const DefaultRegistrationTimeout = 30 * time.Second

// DefaultBrokerURL is the original's broker_host for managers: the SM
// broker base with the vhost as path (§7.1).
func DefaultBrokerURL(vhost string) string { return sm.DefaultSMBrokerBase + "/" + vhost }

// SMR is a running specific manager registry.
type SMR struct {
	ep  *bus.Endpoint
	cfg Config
	log *slog.Logger
	reg *registry

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	hosts  map[string]*vhost // by vhost name
	closed bool
}

// New attaches an SMR to b, the default vhost.
func New(b bus.Bus, cfg Config) *SMR {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.BrokerURL == nil {
		cfg.BrokerURL = DefaultBrokerURL
	}
	if cfg.Exchange == "" {
		cfg.Exchange = bus.DefaultExchange
	}
	if cfg.RegistrationTimeout <= 0 {
		cfg.RegistrationTimeout = DefaultRegistrationTimeout
	}
	if cfg.StopTimeout <= 0 {
		cfg.StopTimeout = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &SMR{
		ep:     bus.NewEndpoint(b, bus.AppSMR, bus.WithLogger(cfg.Logger)),
		cfg:    cfg,
		log:    cfg.Logger.With("plugin", "smr"),
		reg:    newRegistry(cfg.Now),
		ctx:    ctx,
		cancel: cancel,
		hosts:  make(map[string]*vhost),
	}
}

// Name is the SMR's plugin name (mano.Extension).
func (s *SMR) Name() string { return PluginName }

// Info is the SMR's plugin identity (mano.Extension).
func (s *SMR) Info() plugin.Info { return Info }

// Endpoint returns the SMR's endpoint on the default vhost.
func (s *SMR) Endpoint() *bus.Endpoint { return s.ep }

// Start subscribes to the registry topics on the default vhost.
func (s *SMR) Start(ctx context.Context) error {
	if s.cfg.Runtime == nil || s.cfg.Vhosts == nil || s.cfg.Connector == nil {
		return errors.New("smr: Runtime, Vhosts and Connector are required")
	}
	handlers := []struct {
		topic string
		kind  sm.Kind
		h     func(context.Context, *bus.Message, sm.Kind)
	}{
		{bus.TopicSMRSSMOnboard, sm.KindSSM, s.onboard},
		{bus.TopicSMRSSMInstantiate, sm.KindSSM, s.instantiate},
		{bus.TopicSMRSSMUpdate, sm.KindSSM, s.update},
		{bus.TopicSMRSSMTerminate, sm.KindSSM, s.terminate},
		{bus.TopicSMRFSMOnboard, sm.KindFSM, s.onboard},
		{bus.TopicSMRFSMInstantiate, sm.KindFSM, s.instantiate},
		{bus.TopicSMRFSMUpdate, sm.KindFSM, s.update},
		{bus.TopicSMRFSMTerminate, sm.KindFSM, s.terminate},
	}
	for _, x := range handlers {
		x := x
		var opts []bus.SubscribeOption
		if s.cfg.SharedQueues {
			opts = append(opts, bus.WithQueue("manoctl.smr."+x.topic))
		}
		// Async endpoints (§7.2): requests only. Each request may wait for
		// managers to register, so it runs in its own goroutine.
		_, err := s.ep.Handle(ctx, x.topic, bus.SkipOwn|bus.RequestsOnly, func(_ context.Context, m *bus.Message) {
			if !s.enter() {
				return
			}
			go func() {
				defer s.wg.Done()
				x.h(s.ctx, m, x.kind)
			}()
		}, opts...)
		if err != nil {
			return err
		}
	}
	return nil
}

// enter counts a request in; it fails once the SMR is closing.
func (s *SMR) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.wg.Add(1)
	return true
}

// Close stops taking requests, cancels those in progress, stops every
// manager this SMR started and deletes their vhosts.
func (s *SMR) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	err := s.ep.Close()
	s.cancel()
	s.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.StopTimeout)
	defer cancel()
	s.mu.Lock()
	hosts := make([]*vhost, 0, len(s.hosts))
	for _, v := range s.hosts {
		hosts = append(hosts, v)
	}
	s.mu.Unlock()
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	for _, v := range hosts {
		v.op.Lock()
		for _, r := range s.instancesOf(v) {
			if err := s.stop(ctx, v, r); err != nil {
				errs = append(errs, err)
			}
		}
		if err := s.release(ctx, v); err != nil {
			errs = append(errs, err)
		}
		v.op.Unlock()
		s.mu.Lock()
		if s.hosts[v.name] == v && v.users == 0 {
			delete(s.hosts, v.name)
		}
		s.mu.Unlock()
	}
	return errors.Join(errs...)
}

// Records returns a copy of the registry, ordered by key.
func (s *SMR) Records() []Record { return s.reg.list() }

// Record returns the registry record <id><uuid>.
func (s *SMR) Record(id, uuid string) (Record, bool) { return s.reg.get(id + uuid) }

// Running returns the names of the managers this SMR has started and not
// stopped, ordered.
func (s *SMR) Running() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, v := range s.hosts {
		for _, r := range v.running {
			out = append(out, r.inst.Name())
		}
	}
	sortStrings(out)
	return out
}

// Vhosts returns the managers' vhosts the SMR currently holds, ordered.
func (s *SMR) Vhosts() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for n, v := range s.hosts {
		if v.created {
			out = append(out, n)
		}
	}
	sortStrings(out)
	return out
}

// managersOf returns the manager entries of the request's descriptor: the
// NSD's SSMs or the VNFD's FSMs. ok is false when the descriptor is
// missing.
func managersOf(kind sm.Kind, req sm.SMRRequest) (doc descriptor.Doc, ms []descriptor.SpecificManager, ok bool) {
	if kind == sm.KindSSM {
		if req.NSD == nil {
			return nil, nil, false
		}
		nsd, err := descriptor.ParseNSD(req.NSD)
		if err != nil {
			return nil, nil, false
		}
		return req.NSD, nsd.SSMs, true
	}
	d := descriptor.AsMap(req.VNFD)
	if d == nil {
		return nil, nil, false
	}
	vnfd, err := descriptor.ParseVNFD(d)
	if err != nil {
		return nil, nil, false
	}
	return d, vnfd.FSMs, true
}

func missingText(kind sm.Kind) string {
	if kind == sm.KindSSM {
		return "NSD not found"
	}
	return "VNFD not found"
}

// failure is the unkeyed error reply of the original (§7.2).
func failure(text string) map[string]any {
	return map[string]any{"status": sm.StatusFailed, "error": text}
}

func (s *SMR) reply(ctx context.Context, m *bus.Message, body any) {
	if err := s.ep.Reply(ctx, m, body); err != nil {
		s.log.Error("reply not sent", "topic", m.Topic, "correlation_id", m.CorrelationID, "err", err)
	}
}

func decodeRequest(m *bus.Message) (sm.SMRRequest, error) {
	var req sm.SMRRequest
	var generic map[string]any
	if err := m.Decode(&generic); err != nil {
		return req, err
	}
	if generic == nil {
		return req, fmt.Errorf("body is not a mapping")
	}
	req.NSD = descriptor.AsMap(generic["NSD"])
	req.VNFD = generic["VNFD"]
	if vnfd := descriptor.AsMap(req.VNFD); vnfd != nil {
		req.VNFD = vnfd
	}
	req.UUID = descriptor.Str(generic, "UUID")
	return req, nil
}
