package sdk

import (
	"github.com/manoctl/manoctl/reconcile/bus"
	"github.com/manoctl/manoctl/reconcile/sm"
	"github.com/manoctl/manoctl/reconcile/wire"
)

// Completed is the minimal successful reply, {status: COMPLETED}, with
// extra keys added (never the ssm_type / fsm_type key).
func Completed(extra ...map[string]any) map[string]any {
	out := map[string]any{"status": bus.StatusCompleted}
	for _, e := range extra {
		for k, v := range e {
			out[k] = v
		}
	}
	return out
}

// Failed is an error reply, {status: ERROR, error: text}; the SLM and FLM
// fail the step with text.
func Failed(text string) map[string]any {
	return map[string]any{"status": bus.StatusError, "error": text}
}

// Schedule is a task manager's reply: {status: COMPLETED, schedule}.
func Schedule(tasks []string) sm.TaskReply {
	if tasks == nil {
		tasks = []string{}
	}
	return sm.TaskReply{Status: bus.StatusCompleted, Schedule: tasks}
}

// Configure is a configure SSM's reply: the per-function trigger updates
// the SLM merges into its ledger.
func Configure(updates ...sm.FunctionUpdate) sm.ConfigureReply {
	return sm.ConfigureReply{VNF: updates, Status: bus.StatusCompleted}
}

// Trigger is a function update that sets the trigger of one event (start,
// stop, configure, scale) of function instance funcID, with the payload
// the FLM then hands to the function's FSM as content.
func Trigger(funcID, event string, on bool, payload map[string]any) sm.FunctionUpdate {
	if payload == nil {
		payload = map[string]any{}
	}
	return sm.FunctionUpdate{"id": funcID, event: map[string]any{"trigger": on, "payload": payload}}
}

// Placement is a placement SSM's reply: mapping from function instance id
// (the VNFDs' instance_uuid) to VIM uuid, error null, status COMPLETED.
func Placement(mapping map[string]string) wire.PlaceReply {
	out := wire.PlaceReply{Mapping: make(map[string]wire.VIMRef, len(mapping)), Status: bus.StatusCompleted}
	for f, v := range mapping {
		out.Mapping[f] = wire.VIMRef{VIM: v}
	}
	return out
}

// PlacementFailed is a placement SSM's refusal: {mapping: null, error,
// status: ERROR}.
func PlacementFailed(text string) map[string]any {
	return map[string]any{"mapping": nil, "error": text, "status": bus.StatusError}
}

// errorReply is the reply for a handler error, in the shape of the call's
// type.
func errorReply(typ string, err error) any {
	if typ == sm.TypePlacement {
		return PlacementFailed(err.Error())
	}
	return Failed(err.Error())
}
