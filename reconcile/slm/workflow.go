package slm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/manoctl/manoctl/reconcile/bus"
	"github.com/manoctl/manoctl/reconcile/wire"
	"github.com/manoctl/manoctl/schema/descriptor"
)

// newID makes service and function instance ids: UUIDv7, time-ordered, so
// that the records store's indexes take them in order (its load is three
// times faster than with random ids); still plain UUIDs on the wire.
func newID() string { return uuid.Must(uuid.NewV7()).String() }

// Workflow kinds, as recorded in operations.
const (
	KindInstantiate = "instantiate"
	KindTerminate   = "terminate"
	KindScale       = "scale"
	KindUpdate      = "update"
)

// Task names are protocol: task SSMs receive and return the schedule as a
// list of these (wire-protocol §4.3).
const (
	TaskValidate        = "validate_deploy_request"
	TaskContactGK       = "contact_gk"
	TaskOnboardSSMs     = "onboard_ssms"
	TaskInstantSSMs     = "instant_ssms"
	TaskTriggerTaskSSM  = "trigger_task_ssm"
	TaskTopology        = "request_topology"
	TaskPlacementSSM    = "req_placement_from_ssm"
	TaskMapping         = "SLM_mapping"
	TaskPrepare         = "ia_prepare"
	TaskDeploy          = "vnf_deploy"
	TaskStart           = "vnfs_start"
	TaskStop            = "vnfs_stop"
	TaskConfig          = "vnfs_config"
	TaskScaleVNFs       = "vnfs_scale"
	TaskChain           = "vnf_chain"
	TaskUnchain         = "vnf_unchain"
	TaskStoreNSR        = "store_nsr"
	TaskWanConfigure    = "wan_configure"
	TaskWanDeconfigure  = "wan_deconfigure"
	TaskStartMonitoring = "start_monitoring"
	TaskStopMonitoring  = "stop_monitoring"
	TaskInformGKInst    = "inform_gk_instantiation"
	TaskInformGK        = "inform_gk"
	TaskConfigureSSM    = "configure_ssm"
	TaskTerminateSvc    = "terminate_service"
	TaskTerminateSSMs   = "terminate_ssms"
	TaskTerminateFSMs   = "terminate_fsms"
	TaskRecordsTerm     = "update_records_to_terminated"
	// manoctl's scale and update workflows add these.
	TaskRemoveVNFs    = "vnfs_remove"
	TaskInformGKScale = "inform_gk_scaling"
)

// Function is a function instance in a running workflow: the ledger's
// function entry.
type Function struct {
	*FunctionState
	// Desc is the typed VNFD.
	Desc      *descriptor.VNFD
	Start     wire.Trigger
	Stop      wire.Trigger
	Configure wire.Trigger
	Scale     wire.Trigger
	// New marks functions this workflow deploys (scale-out, update), as
	// opposed to ones already running.
	New bool
	// Remove marks functions this workflow removes (scale-in, update).
	Remove bool
}

// Workflow is one running workflow: the original's ledger entry for a
// service, with manoctl's bookkeeping for rollback and records.
type Workflow struct {
	slm  *SLM
	ctx  context.Context
	log  *slog.Logger
	Kind string
	// Topic is the gatekeeper topic the workflow reports on; CorrID the
	// requester's correlation id.
	Topic  string
	CorrID string
	// Silent workflows send no status messages (the original's custom
	// workflows triggered by a monitoring SSM).
	Silent bool

	State     *ServiceState
	NSD       *descriptor.NSD
	Functions []*Function
	Schedule  []string
	Op        *Operation
	Topology  []wire.VIMResources

	// Rollback bookkeeping: what has been done that must be undone.
	prepared      bool
	chained       bool
	wanConfigured bool
	deployed      []*Function // functions whose deploy request was sent
	orderedVIMs   []string
	removedAny    bool           // a scale-in or update removed a function
	prevNSD       descriptor.Doc // the NSD before an update
	// newSpecDigest is the desired-state digest the service has once a
	// scale succeeds.
	newSpecDigest string

	// final sends the workflow's last status message, once the
	// bookkeeping is done and the service is released.
	final func()
	// startStatus, when set, is what contact_gk sends instead of
	// INSTANTIATING (SCALING, UPDATING).
	startStatus func()
	// createIn is the create request being validated.
	createIn *createInput

	// SSM state for the SpecificManagers implementation.
	SSMs     map[string]descriptor.SpecificManager
	SSMState any

	// done is closed when the workflow has ended and released its
	// service.
	done chan struct{}

	mu sync.Mutex
}

// Context is the workflow's context.
func (w *Workflow) Context() context.Context { return w.ctx }

// Endpoint returns the SLM's bus endpoint.
func (w *Workflow) Endpoint() *bus.Endpoint { return w.slm.ep }

// Logger returns the workflow's logger.
func (w *Workflow) Logger() *slog.Logger { return w.log }

// stepError is a failed task: Value is what the requester receives in the
// status message's error field (a string, or {http_code, message}).
type stepError struct {
	Value any
	err   error
	// exact marks the original's own fixed texts ("Request <R>: ...",
	// "Unable to perform placement."), which go to the requester byte
	// for byte; other texts are prefixed with the failing step's name.
	exact bool
	// transport marks a request that never reached its peer, or whose
	// reply could not be awaited: the bus itself failed (a broker going
	// away refuses the reply subscription, say). Trying again later may
	// work; the peer has not answered.
	transport bool
}

func (e *stepError) Error() string {
	if e.err != nil {
		return e.err.Error()
	}
	return wire.ErrorText(e.Value)
}
func (e *stepError) Unwrap() error { return e.err }

// Errorf fails a task with a message for the requester.
func Errorf(format string, args ...any) error {
	return &stepError{Value: fmt.Sprintf(format, args...)}
}

// exactErrorf is Errorf for the original's fixed texts.
func exactErrorf(format string, args ...any) error {
	return &stepError{Value: fmt.Sprintf(format, args...), exact: true}
}

// wrapErr turns a transport or decoding error into a task failure whose
// message names the topic.
func wrapErr(topic string, err error) error {
	var se *stepError
	if errors.As(err, &se) {
		return err
	}
	if bus.IsTimeout(err) {
		return &stepError{Value: err.Error(), err: err}
	}
	return &stepError{Value: fmt.Sprintf("%s: %v", topic, err), err: err}
}

type task func(w *Workflow) error

// taskTable maps task names to implementations; filled in by the files
// that implement each workflow.
var taskTable = map[string]task{}

func (w *Workflow) run() {
	w.log.Debug("workflow started", "kind", w.Kind, "schedule", w.Schedule)
	// Room for a step per scheduled task, so that the operation's step
	// list is not regrown step after step.
	w.mu.Lock()
	w.Op.Steps = slices.Grow(w.Op.Steps, len(w.Schedule))
	w.mu.Unlock()
	for len(w.Schedule) > 0 {
		name := w.Schedule[0]
		w.Schedule = w.Schedule[1:]
		t, ok := taskTable[name]
		if !ok {
			w.fail(name, Errorf("unknown task %q in schedule", name))
			return
		}
		w.stepStarted(name)
		if err := t(w); err != nil {
			w.stepEnded(name, err)
			w.fail(name, err)
			return
		}
		// Recorded with the next step's start, or by finish: nothing
		// happens in between, and a write per step is saved.
		w.stepEnded(name, nil)
	}
	w.finish()
	// The requester may act on the final status at once (terminate what
	// just became READY), so the service must be free by then.
	w.slm.release(w.State.ID, w)
	if w.final != nil {
		w.final()
	}
	w.interSLM()
}

func (w *Workflow) stepStarted(name string) {
	w.mu.Lock()
	w.Op.Steps = append(w.Op.Steps, Step{Name: name, Status: "running", Started: w.slm.cfg.Now()})
	w.mu.Unlock()
	// Recorded at once, so that the records tell where a workflow stands
	// (get operations, events, the TUI) and a restart after a crash knows
	// which step was cut short.
	w.saveOperation(w.Op)
}

// noteStep records err on the running step, which goes on: a failure the
// workflow tolerates.
func (w *Workflow) noteStep(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if n := len(w.Op.Steps); n > 0 {
		w.Op.Steps[n-1].Error = err.Error()
	}
}

// stepEnded ends the running step. A failed step is recorded at once,
// before the rollback; a step that succeeded is recorded with whatever
// comes next (the next step's start, or the operation's end), which
// follows without any I/O in between.
func (w *Workflow) stepEnded(name string, err error) {
	w.mu.Lock()
	st := &w.Op.Steps[len(w.Op.Steps)-1]
	st.Ended = w.slm.cfg.Now()
	if err != nil {
		st.Status = "failed"
		st.Error = err.Error()
	} else {
		st.Status = "done"
	}
	w.mu.Unlock()
	if err != nil {
		w.saveOperation(w.Op)
	}
}

func (w *Workflow) saveOperation(op *Operation) {
	if err := w.slm.cfg.Records.SaveOperation(w.ctx, op); err != nil {
		w.log.Error("records: save operation", "operation", op.ID, "err", err)
	}
}

// saveState persists the service state.
func (w *Workflow) saveState() error {
	w.State.UpdatedAt = w.slm.cfg.Now()
	if err := w.slm.cfg.Records.SaveService(w.ctx, w.State); err != nil {
		return &stepError{Value: fmt.Sprintf("cannot store service record: %v", err), err: err}
	}
	return nil
}

// notify sends a status message to the requester.
func (w *Workflow) notify(status string, errVal any, extra func(*wire.StatusMessage)) {
	if w.Silent {
		return
	}
	m := wire.StatusMessage{Status: status, Error: errVal, Timestamp: wire.Now()}
	if extra != nil {
		extra(&m)
	}
	if err := w.slm.ep.Notify(w.ctx, w.Topic, m, w.CorrID); err != nil {
		w.log.Error("status message not sent", "status", status, "err", err)
	}
}

// fail stops the workflow: roll back, record the failure, tell the
// requester once (§4.6, §14.3 S1).
func (w *Workflow) fail(step string, err error) {
	var se *stepError
	errVal := any(err.Error())
	exact := false
	if errors.As(err, &se) {
		errVal, exact = se.Value, se.exact
	}
	if s, ok := errVal.(string); ok && !exact {
		// Name the step: the gatekeeper only stores the status, but a
		// person reading the error wants to know where it failed.
		errVal = step + ": " + s
	}
	w.log.Warn("workflow failed", "kind", w.Kind, "step", step, "error", err)
	rolledBack := w.rollback()
	w.State.FailedStep = step
	w.State.Error = err.Error()
	switch w.Kind {
	case KindScale, KindUpdate, KindCustom:
		// The new instances are gone again; the service runs as before
		// unless this workflow had already removed some of its functions.
		if w.prevNSD != nil {
			w.State.NSD = w.prevNSD
		}
		if w.removedAny {
			w.State.Status = StatusError
		} else {
			w.State.Status = StatusReady
			w.State.Error, w.State.FailedStep = "", ""
		}
	default:
		w.State.Status = StatusError
		if w.State.NSR != nil {
			w.State.NSR = withStatus(w.State.NSR, "failed", "")
		}
	}
	if err := w.slm.cfg.Records.SaveService(w.ctx, w.State); err != nil {
		w.log.Error("records: save failed service", "err", err)
	}
	w.mu.Lock()
	w.Op.Status = OpFailed
	if rolledBack {
		w.Op.Status = OpRolledBack
	}
	w.Op.FailedStep = step
	w.Op.Error = err.Error()
	w.Op.Ended = w.slm.cfg.Now()
	op := w.Op.Copy()
	w.mu.Unlock()
	w.saveOperation(op)
	w.slm.release(w.State.ID, w)
	w.notify(bus.StatusError, errVal, nil)
	w.interSLM()
}

func (w *Workflow) finish() {
	w.mu.Lock()
	w.Op.Status = OpSucceeded
	w.Op.Ended = w.slm.cfg.Now()
	op := w.Op.Copy()
	w.mu.Unlock()
	w.saveOperation(op)
	w.log.Debug("workflow done", "kind", w.Kind)
}

// interSLM publishes the end-of-workflow message the original sends on
// mano.inter.slm; nothing consumes it, manoctl keeps it for observers
// (§14.3 S11).
func (w *Workflow) interSLM() {
	state := map[string]any{
		"serv_id": w.State.ID, "status": w.State.Status, "current_workflow": w.Kind,
		"topic": w.Topic, "orig_corr_id": w.CorrID,
	}
	if w.State.Error != "" {
		state["error"] = w.State.Error
	}
	w.slm.ep.Notify(w.ctx, bus.TopicInterSLM, map[string]any{
		"status": "DONE", "state": state, "corr_id": newID(), "slm_id": w.slm.id,
	}, "")
}

// request sends a request on topic and decodes the reply into out.
func (w *Workflow) request(topic string, payload any, out any, opts ...bus.CallOption) error {
	m, err := w.slm.ep.Request(w.ctx, topic, payload, opts...)
	if err != nil {
		werr := wrapErr(topic, err)
		var se *stepError
		if errors.As(werr, &se) && !bus.IsTimeout(err) && !errors.Is(err, bus.ErrClosed) && w.ctx.Err() == nil {
			se.transport = true
		}
		return werr
	}
	if err := m.Decode(out); err != nil {
		if bus.IsIA(m.AppID) {
			// An IA wrapper error pasted into YAML unescaped (§14.7 I2).
			return &stepError{Value: fmt.Sprintf("malformed reply on %s: %s", topic, string(m.Body)), err: err}
		}
		return wrapErr(topic, fmt.Errorf("malformed reply: %w", err))
	}
	return nil
}

// iaStatus sends an IA request whose reply is {request_status, message}
// and fails unless request_status is COMPLETED (§14.3 S8).
func (w *Workflow) iaStatus(topic string, payload any) error {
	var r wire.IAStatusReply
	if err := w.request(topic, payload, &r); err != nil {
		return err
	}
	if !r.OK() {
		msg := r.Message
		if msg == "" {
			msg = fmt.Sprintf("%s returned %s", topic, r.RequestStatus)
		}
		return &stepError{Value: msg}
	}
	if r.Message != "" {
		w.log.Warn("IA reported a message with COMPLETED", "topic", topic, "message", r.Message)
	}
	return nil
}

// rollback undoes what the workflow did, in reverse order, with the 2017
// topics and shapes. It reports whether anything was undone. Failures are
// logged, not reported to the requester again.
func (w *Workflow) rollback() bool {
	if w.Kind == KindTerminate || w.Kind == KindCustom {
		// Nothing to undo: the service is going away anyway, or (custom
		// workflows of a monitoring SSM) keeps running as it was.
		return false
	}
	did := false
	// Give every undo call its own deadline even if the workflow's was
	// the reason for failing.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(w.ctx), 5*time.Minute)
	defer cancel()
	old := w.ctx
	w.ctx = ctx
	defer func() { w.ctx = old }()

	if w.Kind == KindScale || w.Kind == KindUpdate {
		// Remove only what this workflow added; the service keeps running.
		for i := len(w.deployed) - 1; i >= 0; i-- {
			f := w.deployed[i]
			if !f.New {
				continue
			}
			did = true
			if err := w.undo("remove function", func() error { return w.removeFunction(f) }); err != nil {
				w.log.Error("rollback: remove function", "function", f.ID, "err", err)
			}
		}
		return did
	}
	if w.wanConfigured {
		did = true
		if err := w.undo("wan.deconfigure", func() error {
			return w.iaStatus(bus.TopicIAWanDeconfigure, wire.IAServiceInstance{ServiceInstanceID: w.State.ID})
		}); err != nil {
			w.log.Error("rollback: wan.deconfigure", "err", err)
		}
	}
	if w.chained {
		did = true
		if err := w.undo("chain.deconfigure", func() error {
			return w.iaStatus(bus.TopicIAChainDeconfigure, wire.IAServiceInstance{ServiceInstanceID: w.State.ID})
		}); err != nil {
			w.log.Error("rollback: chain.deconfigure", "err", err)
		}
	}
	if w.prepared {
		did = true
		if err := w.undo("service.remove", w.removeService); err != nil {
			w.log.Error("rollback: service.remove", "err", err)
		} else {
			w.State.Prepared = false
			w.State.VIMs = nil
		}
	}
	if (w.SSMs != nil || hasFSMs(w.deployed)) && w.slm.cfg.Managers != nil {
		did = true
		if err := w.slm.cfg.Managers.Terminate(ctx, w); err != nil {
			w.log.Error("rollback: terminate specific managers", "err", err)
		}
	}
	for i := range w.State.Functions {
		w.State.Functions[i].Status = "failed"
		if w.State.Functions[i].VNFR != nil {
			w.State.Functions[i].VNFR = withStatus(w.State.Functions[i].VNFR, "failed", "")
		}
	}
	return did
}

// undoRetries and undoBackoff bound how rollback retries a call that the
// bus failed (see undo): 7.5 s in all, longer than a broker takes to
// come back.
const (
	undoRetries = 4
	undoBackoff = 500 * time.Millisecond
)

// undo runs one rollback call, retrying it with backoff while the bus
// itself fails. Giving up at once would leave functions deployed that no
// running service owns: the broker restarting under a failing workflow
// refuses its reply subscription for a moment, then works again. An
// answer of the peer, and a timeout (the peer may have heard), are
// final.
func (w *Workflow) undo(what string, call func() error) error {
	err := call()
	for attempt := 1; attempt <= undoRetries && isTransport(err); attempt++ {
		w.log.Warn("rollback: the bus failed, retrying", "call", what, "attempt", attempt, "err", err)
		select {
		case <-time.After(undoBackoff << (attempt - 1)):
		case <-w.ctx.Done():
			return err
		}
		err = call()
	}
	return err
}

func isTransport(err error) bool {
	var se *stepError
	return errors.As(err, &se) && se.transport
}

// removeFunction removes one function instance through the FLM
// (mano.function.remove -> infrastructure.function.remove).
func (w *Workflow) removeFunction(f *Function) error {
	// The function's FSMs go first (scale-in, update, and the rollback of
	// a scale-out): nothing else would stop them.
	if ft, ok := w.slm.cfg.Managers.(FunctionManagers); ok && hasFSMs([]*Function{f}) {
		if err := ft.TerminateFunction(w.ctx, w, f); err != nil {
			return err
		}
	}
	var reply wire.FunctionEventReply
	if err := w.request(bus.TopicFunctionRemove, wire.FunctionRemoveRequest{VNFID: f.ID, VIMID: f.VIM, ServID: w.State.ID}, &reply); err != nil {
		return err
	}
	if wire.FunctionFailed(reply.Status, reply.Error) {
		return &stepError{Value: reply.Error}
	}
	w.removedAny = true
	return nil
}

// msgUnknownInstance is the IA's answer to removing a service it does not
// know (§8.3): nothing of the service exists there.
const msgUnknownInstance = "can't find instance UUID or associated VIMs"

// removeService asks the IA to remove the service; an IA that does not
// know the service (its prepare never took effect) has nothing to remove,
// which counts as done.
func (w *Workflow) removeService() error {
	err := w.iaStatus(bus.TopicIAServiceRemove, wire.IAServiceRemoveRequest{InstanceUUID: w.State.ID})
	var se *stepError
	if errors.As(err, &se) && wire.ErrorText(se.Value) == msgUnknownInstance {
		return nil
	}
	return err
}
