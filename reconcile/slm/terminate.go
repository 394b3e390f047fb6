package slm

import (
	"context"
	"errors"

	"github.com/manoctl/manoctl/reconcile/bus"
	"github.com/manoctl/manoctl/reconcile/wire"
	"github.com/manoctl/manoctl/schema/descriptor"
)

func init() {
	taskTable[TaskStopMonitoring] = (*Workflow).stopMonitoring
	taskTable[TaskWanDeconfigure] = func(w *Workflow) error {
		return w.iaStatus(bus.TopicIAWanDeconfigure, wire.IAServiceInstance{ServiceInstanceID: w.State.ID})
	}
	taskTable[TaskUnchain] = func(w *Workflow) error {
		return w.iaStatus(bus.TopicIAChainDeconfigure, wire.IAServiceInstance{ServiceInstanceID: w.State.ID})
	}
	taskTable[TaskTerminateSvc] = (*Workflow).terminateService
	taskTable[TaskTerminateSSMs] = func(w *Workflow) error { return w.managers().Terminate(w.ctx, w) }
	taskTable[TaskTerminateFSMs] = func(w *Workflow) error { return nil } // done with the SSMs, see Terminate
	taskTable[TaskRecordsTerm] = (*Workflow).recordsTerminated
	taskTable[TaskInformGK] = func(w *Workflow) error {
		// Yes, termination completes with READY (§4.5).
		w.final = func() { w.notify(bus.StatusReady, nil, nil) }
		return nil
	}
}

func (s *SLM) onTerminate(ctx context.Context, msg *bus.Message) {
	if !s.checkCorrelation(ctx, msg) || !s.accept(msg.CorrelationID) {
		return
	}
	var req wire.TerminateRequest
	if err := msg.Decode(&req); err != nil || req.ID() == "" {
		s.reject(ctx, msg, "Request "+msg.CorrelationID+": no instance_id to terminate.")
		return
	}
	st, err := s.cfg.Records.LoadService(ctx, req.ID())
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			s.reject(ctx, msg, "service instance "+req.ID()+" not found")
		} else {
			s.reject(ctx, msg, "cannot load service "+req.ID()+": "+err.Error())
		}
		return
	}
	if st.Status == StatusTerminated {
		s.reject(ctx, msg, "nsr already terminated")
		return
	}
	w := s.newWorkflow(KindTerminate, msg.Topic, msg.CorrelationID, st)
	if err := w.loadFunctions(); err != nil {
		s.reject(ctx, msg, err.Error())
		return
	}
	if !s.claim(st.ID, w) {
		s.reject(ctx, msg, "Workflow for service still going on, rejected")
		return
	}
	// Trigger updates a monitoring SSM sent meanwhile (a stop payload,
	// say) apply to this workflow (§4.8).
	w.applyUpdates(s.takeUpdates(st.ID))
	w.Schedule = w.terminationSchedule()
	s.spawn(w)
}

// loadFunctions rebuilds the ledger's function entries from the records,
// as the original rebuilt them from the repositories (§4.5).
func (w *Workflow) loadFunctions() error {
	nsd, err := descriptor.ParseNSD(w.State.NSD)
	if err != nil {
		return err
	}
	w.NSD = nsd
	w.SSMs = descriptor.TypedManagers(nsd.SSMs)
	if len(w.SSMs) == 0 {
		w.SSMs = nil
	}
	w.Functions = make([]*Function, len(w.State.Functions))
	for i := range w.State.Functions {
		v, err := descriptor.ParseVNFD(w.State.Functions[i].VNFD)
		if err != nil {
			return err
		}
		f := newFunction(w.State.Functions[i].ID, w.State.Functions[i].VNFID, v)
		f.FunctionState = &w.State.Functions[i]
		w.Functions[i] = f
	}
	return nil
}

// terminationSchedule is §4.5's schedule. IA steps are skipped for a
// service the IA never prepared (an instantiation that failed and was
// rolled back): there is nothing to remove.
func (w *Workflow) terminationSchedule() []string {
	sched := []string{TaskContactGK, TaskStopMonitoring}
	if w.State.Prepared {
		if w.State.NSR != nil {
			// Chaining and WAN were configured only for services that got
			// as far as storing their NSR.
			sched = append(sched, TaskWanDeconfigure, TaskUnchain, TaskStop)
		}
		sched = append(sched, TaskTerminateSvc)
	}
	if w.SSMs != nil || hasFSMs(w.Functions) {
		sched = append(sched, TaskTerminateSSMs)
	}
	return append(sched, TaskRecordsTerm, TaskInformGK)
}

func hasFSMs(fs []*Function) bool {
	for _, f := range fs {
		if len(descriptor.TypedManagers(f.Desc.FSMs)) > 0 {
			return true
		}
	}
	return false
}

func (w *Workflow) stopMonitoring() error {
	w.State.Status = StatusTerminating
	if err := w.saveState(); err != nil {
		return err
	}
	if m := w.slm.cfg.Monitor; m != nil {
		if err := m.ServiceStopped(w.ctx, w.State.ID); err != nil {
			return &stepError{Value: map[string]any{"http_code": "0", "message": err.Error()}, err: err}
		}
	}
	return nil
}

func (w *Workflow) terminateService() error {
	if err := w.removeService(); err != nil {
		return err
	}
	w.State.Prepared = false
	w.State.VIMs = nil
	return w.saveState()
}

// recordsTerminated sets the NSR and VNFRs to terminated with their
// versions incremented (§4.5 step 9).
func (w *Workflow) recordsTerminated() error {
	if w.State.NSR != nil {
		w.State.NSR = withStatus(w.State.NSR, "terminated", bumpVersion(w.State.NSR["version"]))
	}
	for i := range w.State.Functions {
		f := &w.State.Functions[i]
		f.Status = "terminated"
		if f.VNFR != nil {
			f.VNFR = withStatus(f.VNFR, "terminated", bumpVersion(f.VNFR["version"]))
		}
	}
	w.State.Status = StatusTerminated
	w.State.Error, w.State.FailedStep = "", ""
	w.slm.forget(w.State.ID)
	return w.saveState()
}
