package slm

import (
	"context"
	"errors"
	"fmt"

	"github.com/manoctl/manoctl/reconcile/wire"
	"github.com/manoctl/manoctl/schema/descriptor"
)

// KindCustom is a workflow a monitoring SSM asked for with a schedule of
// its own (wire-protocol §4.7, §4.8). It reports to nobody, and when it
// fails nothing is rolled back: the service keeps running as it was.
const KindCustom = "custom"

// Feedback is what a monitoring SSM sends on monitor.ssm.<serv_id> (§4.8),
// as the SpecificManagers implementation hands it to the SLM.
type Feedback struct {
	// ServiceInstanceID names the service; required.
	ServiceInstanceID string
	// VNF lists function updates: each entry's id names a function
	// instance, and its start, stop, configure and scale keys
	// ({trigger, payload}) replace that function's triggers.
	VNF []map[string]any
	// Service carries {configure: ...}; it is stored for the next
	// configure SSM call.
	Service map[string]any
	// Workflow "termination" terminates the service without status
	// messages; other values are ignored.
	Workflow string
	// Schedule runs a custom workflow of these tasks.
	Schedule []string
}

// FunctionManagers is implemented by SpecificManagers that can terminate
// the FSMs of one function; the SLM uses it when it removes a function
// from a running service (scale-in, update, rollback of a scale-out).
type FunctionManagers interface {
	TerminateFunction(ctx context.Context, w *Workflow, f *Function) error
}

// SLM returns the SLM that runs the workflow; SpecificManagers hand
// monitoring feedback to it.
func (w *Workflow) SLM() *SLM { return w.slm }

// DeployedFunctions returns the functions whose deploy request this
// workflow has sent: their FSMs may run and must be terminated on
// rollback. For a termination or custom workflow it is every function.
func (w *Workflow) DeployedFunctions() []*Function {
	if w.Kind == KindTerminate || w.Kind == KindCustom {
		return w.Functions
	}
	return append([]*Function(nil), w.deployed...)
}

// WorkflowName is the workflow name a configure SSM is told (§4.8):
// instantiation, termination, or the kind of other workflows.
func (w *Workflow) WorkflowName() string {
	switch w.Kind {
	case KindInstantiate:
		return "instantiation"
	case KindTerminate:
		return "termination"
	}
	return w.Kind
}

// ServiceConfig is the service part of the ledger a monitoring SSM set
// with service: {configure: ...}, or nil.
func (w *Workflow) ServiceConfig() map[string]any {
	w.slm.mu.Lock()
	defer w.slm.mu.Unlock()
	return w.slm.serviceConfig[w.State.ID]
}

// Feedback acts on a monitoring SSM's message (§4.8): function updates
// and service configuration are kept for the service's next workflows; a
// schedule starts a custom workflow of those tasks, and workflow
// "termination" terminates the service, both without status messages.
// Such a workflow waits for a workflow that runs on the service (the
// instantiation still reporting to the gatekeeper, say) to end first.
// Feedback returns once the message is accepted; problems found later are
// logged.
func (s *SLM) Feedback(ctx context.Context, fb Feedback) error {
	if fb.ServiceInstanceID == "" {
		return errors.New("monitoring feedback without service_instance_id")
	}
	id := fb.ServiceInstanceID
	if _, err := s.cfg.Records.LoadService(ctx, id); err != nil {
		return fmt.Errorf("monitoring feedback for %s: %w", id, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.serviceConfig == nil {
		s.serviceConfig = map[string]map[string]any{}
		s.pendingUpdates = map[string][]map[string]any{}
	}
	if c, ok := fb.Service["configure"]; ok {
		s.serviceConfig[id] = map[string]any{"configure": c}
	}
	s.pendingUpdates[id] = append(s.pendingUpdates[id], fb.VNF...)
	if fb.Workflow != "termination" && len(fb.Schedule) == 0 {
		return nil // kept for later workflows
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.runFeedback(context.WithoutCancel(ctx), fb)
	}()
	return nil
}

// ErrClosed is returned by Feedback once the SLM is closing.
var ErrClosed = errors.New("slm: closed")

// runFeedback starts the workflow a feedback message asks for as soon as
// the service is free.
func (s *SLM) runFeedback(ctx context.Context, fb Feedback) {
	id := fb.ServiceInstanceID
	log := s.log.With("service", id)
	for {
		st, err := s.cfg.Records.LoadService(ctx, id)
		if err != nil {
			log.Warn("monitoring feedback: service gone", "err", err)
			return
		}
		var w *Workflow
		if fb.Workflow == "termination" {
			if st.Status == StatusTerminated {
				return
			}
			w = s.newWorkflow(KindTerminate, "", "", st)
			if err := w.loadFunctions(); err != nil {
				log.Error("monitoring feedback: cannot terminate", "err", err)
				return
			}
			// Without a gatekeeper request there is nobody to tell (§4.7).
			w.Schedule = without(w.terminationSchedule(), TaskContactGK, TaskInformGK)
		} else {
			w = s.newWorkflow(KindCustom, "", "", st)
			if err := w.loadFunctions(); err != nil {
				log.Error("monitoring feedback: cannot run the custom workflow", "err", err)
				return
			}
			w.Schedule = append([]string(nil), fb.Schedule...)
		}
		w.Silent = true
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return
		}
		busy := s.active[id]
		if busy == nil {
			s.active[id] = w
		}
		s.mu.Unlock()
		if busy != nil {
			select {
			case <-busy.done:
				continue
			case <-s.quit:
				return
			}
		}
		if w.Kind == KindCustom && st.Status != StatusReady {
			s.release(id, w)
			log.Warn("monitoring feedback: custom workflow refused", "status", st.Status)
			return
		}
		w.applyUpdates(s.takeUpdates(id))
		log.Info("monitoring SSM started a workflow", "kind", w.Kind, "schedule", w.Schedule)
		s.spawn(w)
		return
	}
}

func (s *SLM) takeUpdates(servID string) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.pendingUpdates[servID]
	delete(s.pendingUpdates, servID)
	return u
}

// forget drops what monitoring feedback left for a terminated service.
func (s *SLM) forget(servID string) {
	s.mu.Lock()
	delete(s.serviceConfig, servID)
	delete(s.pendingUpdates, servID)
	s.mu.Unlock()
}

// applyUpdates merges function updates ({id, start|stop|configure|scale:
// {trigger, payload}}) into the workflow's functions (§4.8).
func (w *Workflow) applyUpdates(updates []map[string]any) {
	for _, u := range updates {
		id, _ := u["id"].(string)
		var f *Function
		for _, x := range w.Functions {
			if x.ID == id {
				f = x
			}
		}
		if f == nil {
			w.log.Warn("function update for an unknown function", "function", id)
			continue
		}
		for _, ev := range []string{"start", "stop", "configure", "scale"} {
			if t, ok := ParseTrigger(u[ev]); ok {
				f.SetTrigger(ev, t)
			}
		}
	}
}

// ParseTrigger reads a {trigger, payload} mapping.
func ParseTrigger(v any) (wire.Trigger, bool) {
	m := descriptor.AsMap(v)
	if m == nil {
		return wire.Trigger{}, false
	}
	t := wire.Trigger{Payload: map[string]any{}}
	switch x := m["trigger"].(type) {
	case bool:
		t.Trigger = x
	case string:
		t.Trigger = x == "true" || x == "True"
	}
	if p := descriptor.AsMap(m["payload"]); p != nil {
		t.Payload = p
	}
	return t, true
}

func without(l []string, drop ...string) []string {
	out := l[:0:0]
	for _, x := range l {
		keep := true
		for _, d := range drop {
			if x == d {
				keep = false
			}
		}
		if keep {
			out = append(out, x)
		}
	}
	return out
}
