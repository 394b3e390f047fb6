package sm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/manoctl/manoctl/reconcile/bus"
	"github.com/manoctl/manoctl/reconcile/slm"
	"github.com/manoctl/manoctl/reconcile/wire"
	"github.com/manoctl/manoctl/schema/descriptor"
)

// ManagersConfig wires Managers.
type ManagersConfig struct {
	// Connector opens the SLM's connections to the ssm-<serv_id> vhosts;
	// required.
	Connector bus.Connector
	// Timeouts per topic for the calls to SSMs; default bus.DefaultTimeout
	// (generic.ssm.* and placement.ssm.* 120 s).
	Timeouts func(topic string) time.Duration
	Logger   *slog.Logger
}

// Managers runs the SSM steps of the SLM's workflows (wire-protocol §4.4
// steps 3, 4, 6b, 13a, §4.5 steps 7–8, §4.8); it implements
// slm.SpecificManagers. Requests to the registry go through the SLM's own
// endpoint, so they carry its app_id; calls to SSMs go over one connection
// per service to vhost ssm-<serv_id>, opened when the SSMs are instantiated
// (or on demand, when a later workflow needs them) and closed when they are
// terminated.
type Managers struct {
	cfg   ManagersConfig
	log   *slog.Logger
	exits *exitWatch

	mu       sync.Mutex
	conns    map[string]*ssmConn // by service id
	relaying bool                // son.monitoring is relayed (relay)
}

var _ slm.SpecificManagers = (*Managers)(nil)

// ssmConn is the SLM's connection to one service's SSM vhost.
type ssmConn struct {
	servID  string
	bus     bus.Bus
	ep      *bus.Endpoint
	monitor bus.Subscription
}

// workflowState is what Managers keeps in a workflow's SSMState.
type workflowState struct {
	// instantiateSent records that the registry was asked to start the
	// SSMs, so that a rollback terminates them.
	instantiateSent bool
	// uuids are the registration uuids of the typed SSMs, by type.
	uuids map[string]string
}

// NewManagers returns SLM-side SSM steps.
func NewManagers(cfg ManagersConfig) *Managers {
	if cfg.Timeouts == nil {
		cfg.Timeouts = bus.DefaultTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Managers{cfg: cfg, log: cfg.Logger.With("component", "slm-ssm"), conns: map[string]*ssmConn{},
		exits: newExitWatch(KindSSM)}
}

func state(w *slm.Workflow) *workflowState {
	st, ok := w.SSMState.(*workflowState)
	if !ok {
		st = &workflowState{uuids: map[string]string{}}
		w.SSMState = st
	}
	return st
}

// ssmRequest calls the SSM of type typ of the workflow's service over c
// and waits for its reply, or for the registry to report it exited.
func (m *Managers) ssmRequest(ctx context.Context, w *slm.Workflow, c *ssmConn, typ, topic string, payload any) (*bus.Message, error) {
	if err := m.exits.watch(ctx, w.Endpoint()); err != nil {
		m.log.Warn("calls to a crashed SSM will fail only at their timeout", "err", err)
	}
	return m.exits.request(ctx, c.ep, w.SSMs[typ].ID, w.State.ID, topic, payload)
}

// conn returns the connection to vhost ssm-<servID>, opening it if needed.
func (m *Managers) conn(ctx context.Context, servID string) (*ssmConn, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c := m.conns[servID]; c != nil {
		return c, nil
	}
	vhost := bus.SSMVhost(servID)
	b, err := m.cfg.Connector.Connect(ctx, vhost)
	if err != nil {
		return nil, fmt.Errorf("cannot connect to the SSMs of service %s on vhost %s: %w", servID, vhost, err)
	}
	c := &ssmConn{servID: servID, bus: b,
		ep: bus.NewEndpoint(b, bus.AppSLM, bus.WithTimeouts(m.cfg.Timeouts), bus.WithLogger(m.cfg.Logger))}
	m.conns[servID] = c
	return c, nil
}

// drop closes the connection to the service's SSM vhost.
func (m *Managers) drop(servID string) {
	m.mu.Lock()
	c := m.conns[servID]
	delete(m.conns, servID)
	m.mu.Unlock()
	if c != nil {
		c.ep.Close()
		c.bus.Close()
	}
}

// Close closes every SSM vhost connection.
func (m *Managers) Close() error {
	m.mu.Lock()
	ids := make([]string, 0, len(m.conns))
	for id := range m.conns {
		ids = append(ids, id)
	}
	m.mu.Unlock()
	for _, id := range ids {
		m.drop(id)
	}
	return nil
}

// Connected returns the services whose SSM vhost the SLM is connected to.
func (m *Managers) Connected() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]string, 0, len(m.conns))
	for id := range m.conns {
		out = append(out, id)
	}
	return out
}

// smrCall sends a registry request on the SLM's endpoint and reads the
// keyed reply.
func smrCall(ctx context.Context, ep *bus.Endpoint, topic string, req SMRRequest) (map[string]SMRResult, error) {
	msg, err := ep.Request(ctx, topic, req)
	if err != nil {
		return nil, err
	}
	return ParseSMRReply(msg)
}

// entryError is the workflow error for a failed registry entry: the
// registry's text, with the manager it concerns.
func entryError(id string, r SMRResult) error {
	return fmt.Errorf("%s: %s", id, r.ErrorText())
}

// Onboard on-boards the service's SSMs (§4.4 step 3a): every entry of the
// reply must say 'None'.
func (m *Managers) Onboard(ctx context.Context, w *slm.Workflow) error {
	vnfds := make([]any, 0, len(w.Functions))
	for _, f := range w.Functions {
		vnfds = append(vnfds, f.VNFD)
	}
	res, err := smrCall(ctx, w.Endpoint(), bus.TopicSMRSSMOnboard, SMRRequest{NSD: w.State.NSD, VNFD: vnfds})
	if err != nil {
		return err
	}
	for _, id := range SortedIDs(res) {
		if !res[id].OK() {
			return entryError(id, res[id])
		}
	}
	return nil
}

// Instantiate starts the service's SSMs (§4.4 step 3b) and connects to
// their vhost.
func (m *Managers) Instantiate(ctx context.Context, w *slm.Workflow) error {
	st := state(w)
	st.instantiateSent = true
	// Watching before the registry starts them: a manager may crash at
	// once.
	if err := m.exits.watch(ctx, w.Endpoint()); err != nil {
		m.log.Warn("calls to a crashed SSM will fail only at their timeout", "err", err)
	}
	m.exits.forget(w.State.ID)
	res, err := smrCall(ctx, w.Endpoint(), bus.TopicSMRSSMInstantiate, SMRRequest{NSD: w.State.NSD, UUID: w.State.ID})
	if err != nil {
		return err
	}
	for _, typ := range descriptor.SortedTypes(w.SSMs) {
		id := w.SSMs[typ].ID
		r, ok := res[id]
		if !ok {
			return fmt.Errorf("%s: the specific manager registry did not instantiate it", id)
		}
		if !r.OK() {
			return entryError(id, r)
		}
		st.uuids[typ] = r.UUID
	}
	_, err = m.conn(ctx, w.State.ID)
	return err
}

// Task lets the task SSM rewrite the remaining schedule (§4.4 step 4). A
// status other than COMPLETED is an error (§14.3 S4). The new schedule must
// still end with the task that reports to the requester, or the requester
// would never hear the end of the workflow.
func (m *Managers) Task(ctx context.Context, w *slm.Workflow, schedule []string) ([]string, error) {
	c, err := m.conn(ctx, w.State.ID)
	if err != nil {
		return nil, err
	}
	msg, err := m.ssmRequest(ctx, w, c, TypeTask, bus.GenericSSMTopic(w.State.ID), TaskRequest{Schedule: schedule, SSMType: TypeTask})
	if err != nil {
		return nil, err
	}
	var reply TaskReply
	if err := msg.Decode(&reply); err != nil {
		return nil, fmt.Errorf("malformed task SSM reply: %w", err)
	}
	if reply.Status != bus.StatusCompleted {
		if t := wire.ErrorText(reply.Error); t != "" {
			return nil, errors.New(t)
		}
		return nil, fmt.Errorf("task SSM returned status %s", reply.Status)
	}
	if len(reply.Schedule) == 0 && len(schedule) > 0 {
		return nil, errors.New("task SSM returned an empty schedule")
	}
	if n := len(schedule); n > 0 && !w.Silent && reply.Schedule[len(reply.Schedule)-1] != schedule[n-1] {
		return nil, fmt.Errorf("task SSM schedule must end with %s", schedule[n-1])
	}
	w.Logger().Info("task SSM rewrote the schedule", "schedule", reply.Schedule)
	return reply.Schedule, nil
}

// Place asks the placement SSM for the mapping, directly on
// placement.ssm.<serv_id> over the SSM vhost (§14.5 L5). The reply is
// {mapping, error, status?}; status ERROR without error text is an error
// too.
func (m *Managers) Place(ctx context.Context, w *slm.Workflow, req wire.PlaceRequest) (*wire.PlaceReply, error) {
	c, err := m.conn(ctx, w.State.ID)
	if err != nil {
		return nil, err
	}
	body := PlacementRequest{NSD: req.NSD, Topology: req.Topology, UUID: w.State.ID, NAP: req.NAP, VNFDs: []descriptor.Doc{}}
	for _, f := range req.Functions {
		d := descriptor.Copy(f.VNFD)
		d["instance_uuid"] = f.ID
		body.VNFDs = append(body.VNFDs, d)
	}
	msg, err := m.ssmRequest(ctx, w, c, TypePlacement, bus.PlacementSSMTopic(w.State.ID), body)
	if err != nil {
		return nil, err
	}
	var reply wire.PlaceReply
	if err := msg.Decode(&reply); err != nil {
		return nil, fmt.Errorf("malformed placement SSM reply: %w", err)
	}
	if reply.Status == bus.StatusError && (reply.Error == nil || reply.Error == NoError) {
		reply.Error = "placement SSM returned status ERROR"
	}
	return &reply, nil
}

// Configure calls the configure SSM (§4.8) and merges the function
// updates of its reply into the workflow's functions.
func (m *Managers) Configure(ctx context.Context, w *slm.Workflow) error {
	c, err := m.conn(ctx, w.State.ID)
	if err != nil {
		return err
	}
	service := map[string]any{"id": w.State.ID, "nsd": w.State.NSD}
	if w.State.NSR != nil {
		service["nsr"] = w.State.NSR
	}
	for k, v := range w.ServiceConfig() {
		service[k] = v
	}
	req := ConfigureRequest{Service: service, Functions: []map[string]any{}, SSMType: TypeConfigure,
		Workflow: w.WorkflowName(), Ingresses: w.State.Ingresses, Egresses: w.State.Egresses}
	for _, f := range w.Functions {
		req.Functions = append(req.Functions, map[string]any{
			"id": f.ID, "vnf_id": f.VNFID, "vnfd": f.VNFD, "vnfr": f.VNFR, "vim_uuid": f.VIM,
			"start": f.Start, "stop": f.Stop, "configure": f.Configure, "scale": f.Scale,
		})
	}
	msg, err := m.ssmRequest(ctx, w, c, TypeConfigure, bus.GenericSSMTopic(w.State.ID), req)
	if err != nil {
		return err
	}
	var reply ConfigureReply
	if err := msg.Decode(&reply); err != nil {
		return fmt.Errorf("malformed configure SSM reply: %w", err)
	}
	if reply.Status == bus.StatusError || reply.Status == bus.StatusFailed || reply.Status == bus.StatusFAILED {
		if t := wire.ErrorText(reply.Error); t != "" {
			return errors.New(t)
		}
		return fmt.Errorf("configure SSM returned status %s", reply.Status)
	}
	applyUpdates(w, reply.VNF)
	return nil
}

// applyUpdates merges {id, start|stop|configure|scale: {trigger, payload}}
// entries into the workflow's functions.
func applyUpdates(w *slm.Workflow, updates []FunctionUpdate) {
	for _, u := range updates {
		id := descriptor.ToString(u["id"])
		var f *slm.Function
		for _, x := range w.Functions {
			if x.ID == id {
				f = x
			}
		}
		if f == nil {
			w.Logger().Warn("configure SSM named an unknown function", "function", id)
			continue
		}
		for _, ev := range []string{TypeStart, TypeStop, TypeConfigure, TypeScale} {
			if t, ok := slm.ParseTrigger(u[ev]); ok {
				f.SetTrigger(ev, t)
			}
		}
	}
}

// MonitorStart hands the running service to the monitor SSM (§4.4 step
// 13a): it listens to monitor.ssm.<serv_id> for the SSM's feedback, then
// notifies generic.ssm.<serv_id> with ssm_type monitor.
func (m *Managers) MonitorStart(ctx context.Context, w *slm.Workflow) error {
	c, err := m.conn(ctx, w.State.ID)
	if err != nil {
		return err
	}
	s, servID := w.SLM(), w.State.ID
	m.relay(ctx, w.Endpoint())
	m.mu.Lock()
	listening := c.monitor != nil
	m.mu.Unlock()
	if !listening {
		sub, err := c.ep.Handle(ctx, bus.MonitorSSMTopic(servID), bus.SkipOwn|bus.NotificationsOnly, func(ctx context.Context, msg *bus.Message) {
			m.feedback(ctx, s, servID, msg)
		})
		if err != nil {
			return err
		}
		m.mu.Lock()
		c.monitor = sub
		m.mu.Unlock()
	}
	body := MonitorStart{NSD: w.State.NSD, NSR: w.State.NSR, VNFs: []MonitorVNF{}, SSMType: TypeMonitor}
	for _, f := range w.Functions {
		body.VNFs = append(body.VNFs, MonitorVNF{VNFD: f.VNFD, ID: f.ID, VNFR: f.VNFR})
	}
	return c.ep.Notify(ctx, bus.GenericSSMTopic(servID), body, "")
}

// relay makes the SLM forward the monitoring manager's alarms on
// son.monitoring (JSON) to the monitor SSM of the service they name, as
// notify generic.ssm.<serviceID> with ssm_type monitor added (§4.8). It is
// set up on the SLM's endpoint the first time a service has a monitor SSM.
// Unlike the original, which swallows every failure, failures are logged
// (§14.3 S13).
func (m *Managers) relay(ctx context.Context, ep *bus.Endpoint) {
	m.mu.Lock()
	if m.relaying {
		m.mu.Unlock()
		return
	}
	m.relaying = true
	m.mu.Unlock()
	_, err := ep.Handle(context.WithoutCancel(ctx), bus.TopicMonitoring, bus.SkipOwn|bus.NotificationsOnly, func(ctx context.Context, msg *bus.Message) {
		var alarm map[string]any
		if err := msg.Decode(&alarm); err != nil || alarm == nil {
			m.log.Warn("malformed monitoring message", "err", err)
			return
		}
		servID := descriptor.Str(alarm, "serviceID")
		m.mu.Lock()
		c := m.conns[servID]
		monitored := c != nil && c.monitor != nil
		m.mu.Unlock()
		if !monitored {
			m.log.Warn("monitoring message for a service without monitor SSM", "service", servID)
			return
		}
		fwd := make(map[string]any, len(alarm)+1)
		for k, v := range alarm {
			fwd[k] = v
		}
		fwd[KeySSMType] = TypeMonitor
		if err := c.ep.Notify(ctx, bus.GenericSSMTopic(servID), fwd, ""); err != nil {
			m.log.Warn("monitoring message not forwarded", "service", servID, "err", err)
		}
	})
	if err != nil {
		m.log.Error("cannot relay son.monitoring", "err", err)
		m.mu.Lock()
		m.relaying = false
		m.mu.Unlock()
	}
}

// feedback hands a monitor SSM's message to the SLM (§4.8).
func (m *Managers) feedback(ctx context.Context, s *slm.SLM, servID string, msg *bus.Message) {
	var fb Feedback
	if err := msg.Decode(&fb); err != nil {
		m.log.Warn("malformed monitoring SSM feedback", "service", servID, "err", err)
		return
	}
	if fb.ServiceInstanceID == "" {
		fb.ServiceInstanceID = servID
	}
	if fb.ServiceInstanceID != servID {
		m.log.Warn("monitoring SSM feedback for another service ignored", "service", servID, "names", fb.ServiceInstanceID)
		return
	}
	vnf := make([]map[string]any, 0, len(fb.VNF))
	for _, u := range fb.VNF {
		vnf = append(vnf, map[string]any(u))
	}
	err := s.Feedback(context.WithoutCancel(ctx), slm.Feedback{
		ServiceInstanceID: servID, VNF: vnf, Service: fb.Service, Workflow: fb.Workflow, Schedule: fb.Schedule,
	})
	if err != nil {
		m.log.Warn("monitoring SSM feedback not acted on", "service", servID, "err", err)
	}
}

// Terminate terminates the service's SSMs and the FSMs of every function
// (§4.5 steps 7–8, §14.3 S6), each request carrying the option
// {termination: 'true'} on every manager entry. During a rollback only
// what was started is terminated: the SSMs if the registry was asked to
// instantiate them, the FSMs of the functions whose deploy was sent.
// Entries the registry reports Failed make the step fail (the service
// record stays for a retry).
func (m *Managers) Terminate(ctx context.Context, w *slm.Workflow) error {
	servID := w.State.ID
	// The registry deletes the vhost: leave it first.
	m.drop(servID)
	defer m.exits.forget(servID)
	var errs []error
	ssms := w.SSMs != nil
	if w.Kind == slm.KindInstantiate {
		st, _ := w.SSMState.(*workflowState)
		ssms = ssms && st != nil && st.instantiateSent
	}
	if ssms {
		nsd := WithOption(w.State.NSD, SSMKey, OptionTermination, "true")
		res, err := smrCall(ctx, w.Endpoint(), bus.TopicSMRSSMTerminate, SMRRequest{NSD: nsd, UUID: servID})
		errs = append(errs, checkTerminated(res, err)...)
	}
	for _, f := range w.DeployedFunctions() {
		if len(descriptor.TypedManagers(f.Desc.FSMs)) == 0 {
			continue
		}
		vnfd := WithOption(f.VNFD, FSMKey, OptionTermination, "true")
		res, err := smrCall(ctx, w.Endpoint(), bus.TopicSMRFSMTerminate, SMRRequest{VNFD: vnfd, UUID: f.ID})
		errs = append(errs, checkTerminated(res, err)...)
	}
	return errors.Join(errs...)
}

// TerminateFunction terminates the FSMs of one function the SLM removes
// from a running service (slm.FunctionManagers).
func (m *Managers) TerminateFunction(ctx context.Context, w *slm.Workflow, f *slm.Function) error {
	vnfd := WithOption(f.VNFD, FSMKey, OptionTermination, "true")
	res, err := smrCall(ctx, w.Endpoint(), bus.TopicSMRFSMTerminate, SMRRequest{VNFD: vnfd, UUID: f.ID})
	return errors.Join(checkTerminated(res, err)...)
}

var _ slm.FunctionManagers = (*Managers)(nil)

func checkTerminated(res map[string]SMRResult, err error) []error {
	if err != nil {
		return []error{err}
	}
	var errs []error
	for _, id := range SortedIDs(res) {
		if !res[id].OK() {
			errs = append(errs, entryError(id, res[id]))
		}
	}
	return errs
}
