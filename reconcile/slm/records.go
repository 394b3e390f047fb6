package slm

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/manoctl/manoctl/reconcile/wire"
	"github.com/manoctl/manoctl/schema/descriptor"
)

// Service lifecycle statuses the SLM records (manoctl's own vocabulary; the
// NSR status field keeps the SONATA enum).
const (
	StatusInstantiating = "instantiating"
	StatusReady         = "ready"
	StatusError         = "error"
	StatusTerminating   = "terminating"
	StatusTerminated    = "terminated"
	StatusScaling       = "scaling"
	StatusUpdating      = "updating"
)

// ServiceState is the durable view of one service the SLM keeps through
// its Records port: what the original wrote to the NSR/VNFR repositories,
// plus what manoctl needs to terminate, scale, resume or explain it.
type ServiceState struct {
	ID   string
	Name string // desired-state instance name; may be empty
	// Status is the lifecycle status (StatusReady, ...).
	Status string
	// Error explains StatusError.
	Error string
	// FailedStep names the step that failed.
	FailedStep string

	NSD        descriptor.Doc
	Functions  []FunctionState
	NSR        descriptor.Doc // set once stored (store_nsr)
	Ingresses  []wire.NAP
	Egresses   []wire.NAP
	Placement  *wire.PlacementSpec
	SpecDigest string
	// Prepared records that infrastructure.service.prepare was sent, so
	// termination and rollback know to ask the IA to remove the service.
	Prepared bool
	// VIMs the service was prepared on.
	VIMs []string

	CorrelationID string
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// FunctionState is one VNF instance of a service.
type FunctionState struct {
	ID     string
	VNFID  string
	VNFD   descriptor.Doc
	VIM    string
	VNFR   descriptor.Doc
	Status string // VNFR status ("normal operation", "failed", ...)
}

// Copy returns a deep-enough copy (slices copied; documents shared, they
// are never modified in place).
func (s *ServiceState) Copy() *ServiceState {
	c := *s
	c.Functions = append([]FunctionState(nil), s.Functions...)
	c.Ingresses = append([]wire.NAP(nil), s.Ingresses...)
	c.Egresses = append([]wire.NAP(nil), s.Egresses...)
	c.VIMs = append([]string(nil), s.VIMs...)
	return &c
}

// Operation is one lifecycle workflow as the records keep it.
type Operation struct {
	ID            string
	ServiceID     string
	ServiceName   string
	Kind          string // instantiate, terminate, scale, update
	CorrelationID string
	Status        string // running, succeeded, failed, rolled-back
	Steps         []Step
	FailedStep    string
	Error         string
	Started       time.Time
	Ended         time.Time
}

// Operation statuses.
const (
	OpRunning    = "running"
	OpSucceeded  = "succeeded"
	OpFailed     = "failed"
	OpRolledBack = "rolled-back"
)

// Step is one task of a workflow.
type Step struct {
	Name    string
	Status  string // running, done, failed, skipped
	Error   string
	Started time.Time
	Ended   time.Time
}

// Copy returns a copy with its own Steps.
func (o *Operation) Copy() *Operation {
	c := *o
	c.Steps = append([]Step(nil), o.Steps...)
	return &c
}

// Records is where the SLM keeps service records and operation history:
// the original's NSR/VNFR repositories. Implementations must be safe for
// concurrent use. Save methods must copy what they keep: the workflow goes
// on changing the values it passes. A returned ServiceState is the
// caller's to modify.
type Records interface {
	SaveService(ctx context.Context, s *ServiceState) error
	LoadService(ctx context.Context, id string) (*ServiceState, error)
	SaveOperation(ctx context.Context, op *Operation) error
}

// ErrNotFound is returned by LoadService for an unknown service.
var ErrNotFound = fmt.Errorf("not found")

// MemRecords is an in-memory Records.
type MemRecords struct {
	mu  sync.Mutex
	svc map[string]*ServiceState
	ops map[string]*Operation
}

// NewMemRecords returns empty in-memory records.
func NewMemRecords() *MemRecords {
	return &MemRecords{svc: make(map[string]*ServiceState), ops: make(map[string]*Operation)}
}

func (m *MemRecords) SaveService(_ context.Context, s *ServiceState) error {
	m.mu.Lock()
	m.svc[s.ID] = s.Copy()
	m.mu.Unlock()
	return nil
}

func (m *MemRecords) LoadService(_ context.Context, id string) (*ServiceState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.svc[id]
	if !ok {
		return nil, fmt.Errorf("service %s: %w", id, ErrNotFound)
	}
	return s.Copy(), nil
}

func (m *MemRecords) SaveOperation(_ context.Context, op *Operation) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	// A workflow saves its operation at every step with one more step
	// each time: update the kept copy in place rather than copying the
	// steps into a new slice at every save. Readers only ever get copies
	// (Operations), made under the lock.
	if cur, ok := m.ops[op.ID]; ok {
		steps := append(cur.Steps[:0], op.Steps...)
		*cur = *op
		cur.Steps = steps
		return nil
	}
	m.ops[op.ID] = op.Copy()
	return nil
}

// Services returns copies of all services (tests, the embedded engine).
func (m *MemRecords) Services() []*ServiceState {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*ServiceState, 0, len(m.svc))
	for _, s := range m.svc {
		out = append(out, s.Copy())
	}
	return out
}

// Operations returns copies of all operations.
func (m *MemRecords) Operations() []*Operation {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*Operation, 0, len(m.ops))
	for _, o := range m.ops {
		out = append(out, o.Copy())
	}
	return out
}
