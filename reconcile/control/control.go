// Package control is the protocol between the manoctl CLI (and TUI) and a
// running manoctl daemon: plan, apply, get, describe, plugin control and a
// live event stream, on manoctl's own topics of the same exchange the MANO
// plugins use. reconcile/spec/control-topics.md documents it.
//
// Requests follow the SONATA conventions (wire-protocol §1.6): published
// on a topic with reply_to set to that topic and a fresh correlation id,
// answered on the same topic with that correlation id and no reply_to.
// Bodies are JSON. Long operations (apply) answer with a stream of
// progress messages ending in a final one.
package control

import (
	"encoding/json"
	"time"

	"github.com/manoctl/manoctl/reconcile/desired"
	"github.com/manoctl/manoctl/reconcile/plan"
)

// Topics of the control protocol. They live under "manoctl.", which no
// SONATA component uses.
const (
	TopicPlan     = "manoctl.control.plan"
	TopicApply    = "manoctl.control.apply"
	TopicGet      = "manoctl.control.get"
	TopicDescribe = "manoctl.control.describe"
	TopicPlugins  = "manoctl.control.plugins"
	TopicStatus   = "manoctl.control.status"
	// TopicEvents carries the daemon's record changes as notifications;
	// subscribe to TopicEvents + ".#" for all of them. The suffix is the
	// table: manoctl.events.services, .functions, .operations, .plugins,
	// .vims.
	TopicEvents = "manoctl.events"
	// TopicEmulatorState is answered by manoctl's IA emulator only: the
	// function ids it runs, for drift detection (the 2017 IA cannot tell).
	TopicEmulatorState = "manoctl.emulator.state"
)

// AppDaemon is the app id of the daemon's control endpoint.
const AppDaemon = "manoctl.daemon"

// FormatVersion versions the control bodies.
const FormatVersion = "1.0"

// Error is the error part of a reply; Code follows the CLI's exit codes
// (3 invalid input, 4 stale plan, 1 anything else).
type Error struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Message }

// PlanRequest asks the daemon to plan a desired state against its
// records. The CLI resolves the manifest (and validates the descriptors)
// itself and sends the result.
type PlanRequest struct {
	Desired  *Desired `json:"desired"`
	Detailed bool     `json:"detailed,omitempty"`
}

// Desired is a resolved desired state as it travels: desired.State
// without the manifest's bytes.
type Desired struct {
	ManifestPath      string             `json:"manifest_path"`
	ManifestDigest    string             `json:"manifest_digest"`
	DescriptorDigests map[string]string  `json:"descriptor_digests"`
	VIMs              []desired.VIM      `json:"vims"`
	Services          []*desired.Service `json:"services"`
}

// FromState converts a resolved desired state for the wire.
func FromState(st *desired.State) *Desired {
	d := &Desired{ManifestDigest: st.ManifestDigest, DescriptorDigests: st.DescriptorDigests, VIMs: st.VIMs, Services: st.Services}
	if st.Manifest != nil {
		d.ManifestPath = st.Manifest.Path
	}
	return d
}

// State converts back.
func (d *Desired) State() *desired.State {
	return &desired.State{ManifestDigest: d.ManifestDigest, DescriptorDigests: d.DescriptorDigests, VIMs: d.VIMs, Services: d.Services,
		Manifest: &desired.Manifest{Path: d.ManifestPath}}
}

// PlanReply is the daemon's plan.
type PlanReply struct {
	Plan  *plan.Plan `json:"plan,omitempty"`
	Error *Error     `json:"error,omitempty"`
}

// ApplyRequest asks the daemon to apply a plan made against its records;
// it is refused (code 4) when the records moved since.
type ApplyRequest struct {
	Plan        *plan.Plan `json:"plan"`
	Desired     *Desired   `json:"desired"`
	Parallelism int        `json:"parallelism,omitempty"`
}

// Progress is one message of an apply's reply stream. Kind is "started",
// "request", "status", "step", "done" (per change), and "result" (the
// last message).
type Progress struct {
	Kind      string        `json:"kind"`
	Service   string        `json:"service,omitempty"`
	ServiceID string        `json:"service_id,omitempty"`
	Action    plan.Action   `json:"action,omitempty"`
	What      string        `json:"what,omitempty"`
	Status    string        `json:"status,omitempty"`
	Error     string        `json:"error,omitempty"`
	Results   []ApplyResult `json:"results,omitempty"`
	Failure   *Error        `json:"failure,omitempty"`
}

// ApplyResult is one change's outcome in the final Progress.
type ApplyResult struct {
	Service   string      `json:"service"`
	ServiceID string      `json:"service_id,omitempty"`
	Action    plan.Action `json:"action"`
	Error     string      `json:"error,omitempty"`
}

// GetRequest lists records of a kind (services, functions, vims, plugins,
// operations).
type GetRequest struct {
	Kind string `json:"kind"`
	All  bool   `json:"all,omitempty"`
}

// GetReply carries items in the same JSON shape `manoctl get -o json`
// prints.
type GetReply struct {
	FormatVersion string           `json:"format_version"`
	Kind          string           `json:"kind"`
	Items         []map[string]any `json:"items"`
	// Truncated counts the items left out so that the reply fits in a
	// message (MaxGetBytes): the oldest operations, or the last items in
	// the listing's order of any other kind.
	Truncated int    `json:"truncated,omitempty"`
	Error     *Error `json:"error,omitempty"`
}

// DescribeRequest describes one service by name or id.
type DescribeRequest struct {
	Service    string `json:"service"`
	Operations int    `json:"operations,omitempty"`
}

// DescribeReply is `manoctl describe service -o json`'s document.
type DescribeReply struct {
	Document map[string]any `json:"document,omitempty"`
	Error    *Error         `json:"error,omitempty"`
}

// PluginsRequest lists plugins or sends one a lifecycle action (start,
// pause, stop) by uuid or name.
type PluginsRequest struct {
	Action string `json:"action"` // list, describe, start, pause, stop
	Target string `json:"target,omitempty"`
}

// PluginsReply lists the affected plugins.
type PluginsReply struct {
	Plugins []map[string]any `json:"plugins,omitempty"`
	Error   *Error           `json:"error,omitempty"`
}

// StatusReply describes the daemon.
type StatusReply struct {
	Version   string    `json:"version"`
	Lineage   string    `json:"lineage"`
	Index     uint64    `json:"index"`
	StartedAt time.Time `json:"started_at"`
	Plugins   []string  `json:"plugins"`
	Manifest  string    `json:"manifest,omitempty"`
	// LastReconcile is the end of the last reconcile cycle (zero when the
	// daemon runs without a manifest).
	LastReconcile time.Time `json:"last_reconcile,omitzero"`
}

// Event is a record change, published on TopicEvents.<table>.
type Event struct {
	Index  uint64          `json:"index"`
	Table  string          `json:"table"`
	Key    string          `json:"key"`
	Op     string          `json:"op"`
	Time   time.Time       `json:"time"`
	Object json.RawMessage `json:"object,omitempty"`
}

// EmulatorState is the emulator's answer on TopicEmulatorState.
type EmulatorState struct {
	// Functions are the ids of the functions the VIMs run.
	Functions []string `json:"functions"`
	// Instances says which service instance and VIM each runs on.
	Instances []EmulatorFunction `json:"instances,omitempty"`
}

// EmulatorFunction is one function the emulator runs.
type EmulatorFunction struct {
	ID                string `json:"id"`
	ServiceInstanceID string `json:"service_instance_id"`
	VIMUUID           string `json:"vim_uuid"`
}
