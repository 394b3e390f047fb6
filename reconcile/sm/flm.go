package sm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/manoctl/manoctl/reconcile/bus"
	"github.com/manoctl/manoctl/reconcile/flm"
	"github.com/manoctl/manoctl/reconcile/wire"
	"github.com/manoctl/manoctl/schema/descriptor"
)

// FLM deploy steps a task FSM sees (§6.2). manoctl's FLM runs them in this
// order whatever the FSM answers; the FSM may only confirm them.
var deploySchedule = []string{"deploy_vnf", "store_vnfr", "inform_slm_on_deployment"}

// FSMsConfig wires FSMs.
type FSMsConfig struct {
	// Connector opens the FLM's connections to the fsm-<func_id> vhosts;
	// required.
	Connector bus.Connector
	// Timeouts per topic; default bus.DefaultTimeout.
	Timeouts func(topic string) time.Duration
	Logger   *slog.Logger
}

// FSMs runs the FSM steps of the FLM (wire-protocol §6.2, §6.4, §7.5); it
// implements flm.FSMs. Registry requests carry the FLM's app_id; FSM calls
// go over one connection per function to vhost fsm-<func_id>, which is
// re-established on demand when an event arrives at an FLM that did not
// deploy the function, or that restarted (§14.4 F5).
type FSMs struct {
	ep  *bus.Endpoint
	cfg FSMsConfig
	log *slog.Logger

	exits *exitWatch

	mu       sync.Mutex
	conns    map[string]*fsmConn // by function id
	watching bool
	closed   bool
}

var _ flm.FSMs = (*FSMs)(nil)

type fsmConn struct {
	bus bus.Bus
	ep  *bus.Endpoint
}

// NewFSMs returns FLM-side FSM steps that reach the registry over b, the
// default vhost.
func NewFSMs(b bus.Bus, cfg FSMsConfig) *FSMs {
	if cfg.Timeouts == nil {
		cfg.Timeouts = bus.DefaultTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &FSMs{
		ep:    bus.NewEndpoint(b, bus.AppFLM, bus.WithTimeouts(cfg.Timeouts), bus.WithLogger(cfg.Logger)),
		cfg:   cfg,
		log:   cfg.Logger.With("component", "flm-fsm"),
		conns: map[string]*fsmConn{},
		exits: newExitWatch(KindFSM),
	}
}

// watch makes the FLM forget the connection of a function whose FSMs are
// terminated by anyone (the SLM terminates FSMs itself, §4.5): the
// registry deletes the vhost after that.
func (f *FSMs) watch(ctx context.Context) {
	if err := f.exits.watch(ctx, f.ep); err != nil {
		f.log.Warn("calls to a crashed FSM will fail only at their timeout", "err", err)
	}
	f.mu.Lock()
	if f.watching || f.closed {
		f.mu.Unlock()
		return
	}
	f.watching = true
	f.mu.Unlock()
	_, err := f.ep.Handle(context.WithoutCancel(ctx), bus.TopicSMRFSMTerminate, bus.RequestsOnly, func(_ context.Context, m *bus.Message) {
		var req SMRRequest
		if m.Decode(&req) == nil && req.UUID != "" {
			f.drop(req.UUID)
			f.exits.forget(req.UUID)
		}
	})
	if err != nil {
		f.log.Warn("cannot watch FSM terminations", "err", err)
		f.mu.Lock()
		f.watching = false
		f.mu.Unlock()
	}
}

func (f *FSMs) conn(ctx context.Context, funcID string) (*fsmConn, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil, bus.ErrClosed
	}
	if c := f.conns[funcID]; c != nil {
		return c, nil
	}
	vhost := bus.FSMVhost(funcID)
	b, err := f.cfg.Connector.Connect(ctx, vhost)
	if err != nil {
		return nil, fmt.Errorf("cannot connect to the FSMs of function %s on vhost %s: %w", funcID, vhost, err)
	}
	c := &fsmConn{bus: b, ep: bus.NewEndpoint(b, bus.AppFLM, bus.WithTimeouts(f.cfg.Timeouts), bus.WithLogger(f.cfg.Logger))}
	f.conns[funcID] = c
	return c, nil
}

func (f *FSMs) drop(funcID string) {
	f.mu.Lock()
	c := f.conns[funcID]
	delete(f.conns, funcID)
	f.mu.Unlock()
	if c != nil {
		c.ep.Close()
		c.bus.Close()
	}
}

// Close closes the FSM vhost connections and the registry endpoint.
func (f *FSMs) Close() error {
	f.mu.Lock()
	f.closed = true
	ids := make([]string, 0, len(f.conns))
	for id := range f.conns {
		ids = append(ids, id)
	}
	f.mu.Unlock()
	for _, id := range ids {
		f.drop(id)
	}
	return f.ep.Close()
}

// Connected returns the functions whose FSM vhost the FLM is connected to.
func (f *FSMs) Connected() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]string, 0, len(f.conns))
	for id := range f.conns {
		out = append(out, id)
	}
	return out
}

// Deploy on-boards and instantiates the function's FSMs (§6.2) and lets a
// task FSM see the deploy schedule (§14.4 F2). When any of it fails, the
// FSMs that were started are terminated again.
func (f *FSMs) Deploy(ctx context.Context, funcID string, vnfd descriptor.Doc) error {
	f.watch(ctx)
	f.exits.forget(funcID)
	v, err := descriptor.ParseVNFD(vnfd)
	if err != nil {
		return err
	}
	typed := descriptor.TypedManagers(v.FSMs)
	res, err := smrCall(ctx, f.ep, bus.TopicSMRFSMOnboard, SMRRequest{VNFD: vnfd})
	if err != nil {
		return err
	}
	for _, id := range SortedIDs(res) {
		if !res[id].OK() {
			return entryError(id, res[id])
		}
	}
	res, err = smrCall(ctx, f.ep, bus.TopicSMRFSMInstantiate, SMRRequest{VNFD: vnfd, UUID: funcID})
	if err == nil {
		for _, typ := range descriptor.SortedTypes(typed) {
			id := typed[typ].ID
			r, ok := res[id]
			if !ok {
				err = fmt.Errorf("%s: the specific manager registry did not instantiate it", id)
				break
			}
			if !r.OK() {
				err = entryError(id, r)
				break
			}
		}
	}
	if err == nil {
		_, err = f.conn(ctx, funcID)
	}
	if id := typed[TypeTask].ID; err == nil && id != "" {
		err = f.task(ctx, funcID, id)
	}
	if err != nil {
		if terr := f.Terminate(context.WithoutCancel(ctx), funcID, vnfd); terr != nil {
			f.log.Error("FSMs of a failed deploy not terminated", "function", funcID, "err", terr)
		}
		return err
	}
	return nil
}

// task calls the task FSM with the rest of the deploy schedule (§14.4 F2).
// manoctl's deploy steps are fixed, so the schedule it returns must keep
// them, in order; dropping or reordering them is an error.
func (f *FSMs) task(ctx context.Context, funcID, id string) error {
	reply, err := f.call(ctx, funcID, id, FSMRequest{FSMType: TypeTask, Schedule: slices.Clone(deploySchedule), Topic: bus.TopicFunctionDeploy})
	if err != nil {
		return err
	}
	if !slices.Equal(reply.Schedule, deploySchedule) {
		return fmt.Errorf("task FSM returned schedule %v; this FLM runs %v", reply.Schedule, deploySchedule)
	}
	return nil
}

// call sends one call to the function's FSMs, served by the FSM with
// descriptor id id ("" if unknown), and checks the status.
func (f *FSMs) call(ctx context.Context, funcID, id string, req FSMRequest) (*FSMReply, error) {
	c, err := f.conn(ctx, funcID)
	if err != nil {
		return nil, err
	}
	topic := bus.GenericFSMTopic(funcID)
	msg, err := f.exits.request(ctx, c.ep, id, funcID, topic, req)
	if errors.Is(err, bus.ErrClosed) {
		// The vhost connection went away (vhost deleted and created
		// again, broker restart): connect again, once.
		f.drop(funcID)
		if c, err = f.conn(ctx, funcID); err != nil {
			return nil, err
		}
		msg, err = f.exits.request(ctx, c.ep, id, funcID, topic, req)
	}
	if err != nil {
		return nil, err
	}
	var reply FSMReply
	if err := msg.Decode(&reply); err != nil {
		return nil, fmt.Errorf("malformed %s FSM reply: %w", req.FSMType, err)
	}
	if reply.Status != bus.StatusCompleted {
		if t := wire.ErrorText(reply.Error); t != "" && t != NoError {
			return nil, errors.New(t)
		}
		return nil, fmt.Errorf("%s FSM returned status %s", req.FSMType, reply.Status)
	}
	return &reply, nil
}

// Event calls the FSM of fsmType with content (§6.4).
func (f *FSMs) Event(ctx context.Context, funcID string, vnfd descriptor.Doc, fsmType string, content map[string]any) error {
	f.watch(ctx)
	if content == nil {
		content = map[string]any{}
	}
	_, err := f.call(ctx, funcID, fsmID(vnfd, fsmType), FSMRequest{Content: content, FSMType: fsmType})
	return err
}

// fsmID is the descriptor id of the FSM of type typ in vnfd, "" if none.
func fsmID(vnfd descriptor.Doc, typ string) string {
	v, err := descriptor.ParseVNFD(vnfd)
	if err != nil {
		return ""
	}
	return descriptor.TypedManagers(v.FSMs)[typ].ID
}

// Terminate terminates the function's FSMs: the registry request carries
// the option {termination: 'true'} on every FSM entry.
func (f *FSMs) Terminate(ctx context.Context, funcID string, vnfd descriptor.Doc) error {
	f.drop(funcID)
	defer f.exits.forget(funcID)
	doc := WithOption(vnfd, FSMKey, OptionTermination, "true")
	res, err := smrCall(ctx, f.ep, bus.TopicSMRFSMTerminate, SMRRequest{VNFD: doc, UUID: funcID})
	return errors.Join(checkTerminated(res, err)...)
}
