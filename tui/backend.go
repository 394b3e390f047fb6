package tui

import (
	"context"
	"errors"
	"time"

	"github.com/manoctl/manoctl/reconcile/bus"
	"github.com/manoctl/manoctl/reconcile/desired"
	"github.com/manoctl/manoctl/reconcile/plan"
)

// Backend is where the UI's records, bus traffic and actions come from.
// Embedded and Daemon implement it; tests use FakeBackend.
type Backend interface {
	// Info describes the source; the model asks once, at start.
	Info() Info
	// Run delivers the records to sink, first as a Reset holding all of
	// them, then as changes, and the bus traffic, until ctx ends. A Reset
	// may come again when the backend lost track (a records subscription
	// that overflowed, a broker reconnection). Run must never block the
	// platform: sink's methods return at once.
	Run(ctx context.Context, sink Sink) error
	// Plan computes what action would change for one service of the
	// manifest, for review. It needs a manifest (ErrNoManifest otherwise).
	Plan(ctx context.Context, action Action, service string) (*Proposal, error)
	// Apply runs a reviewed proposal and reports its progress, one line
	// per event; a proposal the records moved past is refused.
	Apply(ctx context.Context, p *Proposal, progress func(string)) error
	// PluginLifecycle sends start, pause or stop to the plugin uuid.
	PluginLifecycle(ctx context.Context, uuid, action string) error
}

// Info describes a backend.
type Info struct {
	// Source is shown in the header: "embedded .manoctl", "daemon
	// amqp://localhost:5672/ son-kernel".
	Source string
	// Manifest is the desired-state manifest actions use ("" when none).
	Manifest string
	// Desired lists the manifest's service names: the services view shows
	// the ones not running yet, so that they can be applied.
	Desired []string
}

// Sink receives what a backend delivers. Every method returns at once;
// Feed is the implementation the model uses.
type Sink interface {
	// Reset replaces every record with rows (all upserts).
	Reset(rows []Change)
	// Change reports one record change.
	Change(c Change)
	// Traffic hands over one bus message seen at time at; it never blocks
	// and drops the message when the UI is behind.
	Traffic(at time.Time, m *bus.Message)
	// Notice is a line for the status bar (a resync, a reconnection).
	Notice(text string)
}

// Kind is a record table.
type Kind uint8

const (
	KindPlugin Kind = iota
	KindService
	KindFunction
	KindOperation
	KindVIM
	numKinds
)

var kindNames = [...]string{"plugins", "services", "functions", "operations", "vims"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// Change is one record change. Row is *PluginRow, *ServiceRow,
// *FunctionRow, *OperationRow or *VIMRow, matching Kind; it is nil for a
// delete. Rows are never modified once handed over.
type Change struct {
	Kind    Kind
	Key     string
	Deleted bool
	Row     any
}

// Action is what the services view can do to a service.
type Action string

const (
	// ActionApply makes the service match the manifest (create, update,
	// scale, replace or heal, as the plan says).
	ActionApply Action = "apply"
	// ActionDestroy terminates the service.
	ActionDestroy Action = "destroy"
)

// Proposal is a plan restricted to one service, with its text for review.
type Proposal struct {
	Action  Action
	Service string
	// Plan is the plan to apply; it has no changes when the service is
	// already as asked.
	Plan *plan.Plan
	// Text is the plan as `manoctl plan` shows it.
	Text string

	// desired is the state the plan was made from; Apply sends it along.
	desired *desired.State
}

// ErrNoManifest is returned by Plan without a manifest.
var ErrNoManifest = errors.New("no manifest: start the TUI with -f MANIFEST to plan, apply or destroy")

// PluginRow is a registered plugin.
type PluginRow struct {
	UUID, Name, Version, Description, State string
	RegisteredAt, LastHeartbeat             time.Time
}

// ServiceRow is a service instance. A row with Placeholder set stands for
// a service of the manifest that does not run (yet).
type ServiceRow struct {
	ID, Name     string
	Status       string // manoctl's lifecycle status, lower case (ready, error, ...)
	RecordStatus string
	NSD          string // vendor.name.version
	NSDName      string // name version, for narrow columns ("" when unknown)
	Functions    []string
	Error        string
	LastOp       string
	Version      uint64
	CreatedAt    time.Time
	UpdatedAt    time.Time
	Placeholder  bool
}

// FunctionRow is a deployed function (VNFR).
type FunctionRow struct {
	ID, ServiceID, VNFID, VNFD, VIM string
	Status                          string
	Addresses                       []string // connection point id=address
	Cores                           int
	MemoryMB                        float64
}

// StepRow is one step of an operation.
type StepRow struct {
	Name, Status, Error string
	StartedAt, EndedAt  time.Time
}

// OperationRow is a lifecycle operation.
type OperationRow struct {
	ID, ServiceID, ServiceName, Kind, Status, CorrelationID string
	RequestedAt, StartedAt, EndedAt                         time.Time
	Steps                                                   []StepRow
	FailedStep, Error                                       string
}

// VIMRow is a compute VIM with its capacity and use (-1: unknown).
type VIMRow struct {
	UUID, Name, City, Endpoint string
	CoresTotal, CoresUsed      int64
	MemoryTotalMB, MemoryUsed  int64
}
