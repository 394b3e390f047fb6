package records

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/manoctl/manoctl/schema/descriptor"
)

// uuidRE is an exact, lower-case UUID. The record schemas only search for a
// UUID inside the string (descriptors.md §7 #3); the corrected rules that
// manoctl's own records must pass require the whole value to be one.
var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// NewID returns a new record id (serv_id, func_id, operation id): a
// version-7 UUID. On the wire it is just a UUID, as the 2017 SLM's uuid4s
// were, and it passes the record schemas; being time-ordered, ids of
// records created one after another sort together, which keeps index
// insertion sequential when a state directory is loaded (README.md,
// "Performance").
func NewID() string {
	id, err := uuid.NewV7()
	if err != nil {
		// NewV7 fails only if the system's random source does; a v4 id
		// is just as valid, merely unordered.
		return uuid.NewString()
	}
	return id.String()
}

// IsUUID reports whether s is exactly a lower-case UUID.
func IsUUID(s string) bool { return len(s) == 36 && uuidRE.MatchString(s) }

// ServiceStatus is manoctl's lifecycle status of a service instance. It is
// what the CLI, the TUI and the planner look at; the SONATA NSR status string
// is RecordStatus, kept beside it because the two vocabularies differ (an
// instantiating service has no NSR status yet that says so).
type ServiceStatus string

const (
	// ServiceInstantiating: an instantiate operation is running.
	ServiceInstantiating ServiceStatus = "instantiating"
	// ServiceReady: every function is deployed and the GK was told READY.
	ServiceReady ServiceStatus = "ready"
	// ServiceUpdating: an update, scale or heal operation is running.
	ServiceUpdating ServiceStatus = "updating"
	// ServiceError: the last operation failed; Error says why.
	ServiceError ServiceStatus = "error"
	// ServiceTerminating: a terminate operation is running.
	ServiceTerminating ServiceStatus = "terminating"
	// ServiceTerminated: terminated; the record is kept as history.
	ServiceTerminated ServiceStatus = "terminated"
)

// ServiceStatuses lists the valid ServiceStatus values in lifecycle order.
var ServiceStatuses = []ServiceStatus{ServiceInstantiating, ServiceReady, ServiceUpdating, ServiceError, ServiceTerminating, ServiceTerminated}

// Valid reports whether s is one of ServiceStatuses.
func (s ServiceStatus) Valid() bool { return slices.Contains(ServiceStatuses, s) }

// RecordStatus is the status string of an NSR or VNFR (descriptors.md §5,
// §6). The strings travel on the wire and are reproduced byte for byte.
type RecordStatus string

const (
	RecordNormal     RecordStatus = "normal operation"
	RecordDegraded   RecordStatus = "degraded operation"
	RecordOffline    RecordStatus = "offline"
	RecordUpdating   RecordStatus = "updating" // NSR only: the VNFR enum has no "updating"
	RecordTerminated RecordStatus = "terminated"
	RecordFailed     RecordStatus = "failed"
)

// ValidNSR reports whether s is in the NSR status enum.
func (s RecordStatus) ValidNSR() bool {
	switch s {
	case RecordNormal, RecordDegraded, RecordOffline, RecordUpdating, RecordTerminated, RecordFailed:
		return true
	}
	return false
}

// ValidVNFR reports whether s is in the VNFR status enum.
func (s RecordStatus) ValidVNFR() bool { return s != RecordUpdating && s.ValidNSR() }

// DescriptorKind says what a stored descriptor is.
type DescriptorKind string

const (
	KindNSD  DescriptorKind = "nsd"
	KindVNFD DescriptorKind = "vnfd"
)

// Valid reports whether k is KindNSD or KindVNFD.
func (k DescriptorKind) Valid() bool { return k == KindNSD || k == KindVNFD }

// DescriptorRef points a record at the descriptor it was built from.
type DescriptorRef struct {
	// Digest is the key of the descriptor in the descriptors table
	// (DigestDoc of the canonical document). It is what the planner compares
	// to decide whether a descriptor changed ("replace").
	Digest string
	// Identity is the vendor/name/version triple, kept here so that listing
	// services never has to load a descriptor.
	Identity descriptor.Identity
	// UUID is the catalogue uuid of the descriptor, rendered as the record's
	// descriptor_reference; "" when the descriptor has none (then the key is
	// omitted rather than rendered invalid).
	UUID string
}

// Endpoint is an ingress or egress point of a service (GK request
// ingresses/egresses, wire-protocol §9.2).
type Endpoint struct {
	// Location is the city that placement matches against VIM cities.
	Location string
	// NAP is the network access point, an address.
	NAP string
}

// SpecRef records which desired-state entry a service was created from. The
// planner owns its meaning; the store only keeps it.
type SpecRef struct {
	// Digest is an opaque digest of the manifest entry (and everything it
	// resolved to) at the last apply; a different digest means drift.
	Digest string
	// Placement is the placement policy name the service was placed with.
	Placement string
}

// Service is a service instance: the compact, structured form of an NSR. The
// SONATA-shaped NSR document is rendered from it and its NSD by RenderNSR.
//
// Objects returned by the store are shared and immutable: Copy before
// changing one.
type Service struct {
	// ID is the service instance uuid (serv_id), the NSR id.
	ID string
	// Name is the instance name: the manifest's key for the service and the
	// stable key of the plan's diff. Unique when set; "" for services created
	// by an external gatekeeper.
	Name string
	// Status is manoctl's lifecycle status.
	Status ServiceStatus
	// RecordStatus is the NSR status string (normal operation, terminated,
	// failed, ...).
	RecordStatus RecordStatus
	// Version is the NSR version counter, incremented on every change of the
	// record the GK or repository would see; rendered as a decimal string.
	Version uint64
	// NSD is the network service descriptor the instance runs.
	NSD DescriptorRef
	// Functions are the ids of the service's functions (VNFR ids) in NSD
	// network_functions order (wire-protocol §14.3 S7).
	Functions []string
	// Ingresses and Egresses are the NAPs of the instantiation request.
	Ingresses []Endpoint
	Egresses  []Endpoint
	// Spec links the service to the desired state it was applied from.
	Spec SpecRef
	// Error is the error text of the last failed operation; "" otherwise.
	Error string
	// LastOperation is the id of the most recent operation on the service.
	LastOperation string
	// CreatedAt and UpdatedAt are set by the store (UTC) when the record is
	// first inserted and on every upsert.
	CreatedAt time.Time
	UpdatedAt time.Time
	// CreateIndex and ModifyIndex are the store indexes of the transaction
	// that inserted and last modified the record; set by the store.
	CreateIndex uint64
	ModifyIndex uint64
}

// Copy returns a deep copy of s; nil gives nil.
func (s *Service) Copy() *Service {
	if s == nil {
		return nil
	}
	c := *s
	c.Functions = slices.Clone(s.Functions)
	c.Ingresses = slices.Clone(s.Ingresses)
	c.Egresses = slices.Clone(s.Egresses)
	return &c
}

// Validate checks s against the rules every stored service follows and
// returns all problems found.
func (s *Service) Validate() error {
	var errs []error
	if !IsUUID(s.ID) {
		errs = append(errs, fmt.Errorf("id %q is not a UUID", s.ID))
	}
	if !s.Status.Valid() {
		errs = append(errs, fmt.Errorf("status %q is not one of %v", s.Status, ServiceStatuses))
	}
	if !s.RecordStatus.ValidNSR() {
		errs = append(errs, fmt.Errorf("record status %q is not an NSR status", s.RecordStatus))
	}
	if s.NSD.Digest == "" {
		errs = append(errs, errors.New("nsd digest is empty"))
	}
	if s.NSD.UUID != "" && !IsUUID(s.NSD.UUID) {
		errs = append(errs, fmt.Errorf("nsd uuid %q is not a UUID", s.NSD.UUID))
	}
	seen := make(map[string]bool, len(s.Functions))
	for _, f := range s.Functions {
		if !IsUUID(f) {
			errs = append(errs, fmt.Errorf("function id %q is not a UUID", f))
		}
		if seen[f] {
			errs = append(errs, fmt.Errorf("function id %q listed twice", f))
		}
		seen[f] = true
	}
	return joinErrs("service "+s.ID, errs)
}

// Demand is the resources a function takes from its VIM, in the units the IA
// reports (wire-protocol §14.5 L1): cores and MB.
type Demand struct {
	Cores    int
	MemoryMB float64
}

// IAInstance is what the IA's deploy reply says about where the function
// runs (wire-protocol §8.3).
type IAInstance struct {
	// Name is instanceName: the Heat stack name ("Stack-<id>" for the mock).
	Name string
	// VIMUUID is instanceVimUuid: the stack uuid in the VIM.
	VIMUUID string
}

// ConnectionPoint is a connection point of a function or of one of its VNFC
// instances, with the interface the IA reported.
type ConnectionPoint struct {
	// ID is the connection point id (e.g. "vdu01:cp01").
	ID string
	// Type is the connection point type as the IA reported it in the 2017
	// form (management, internal, external, ...); "" when the IA used the
	// 2016 form, which has no type. RenderVNFR resolves missing and
	// non-record types from the VNFD.
	Type string
	// Address, Netmask and HardwareAddress are the interface: address
	// (floating IP when there is one), netmask and MAC; "" when absent.
	Address         string
	Netmask         string
	HardwareAddress string
}

// VNFC is one VNFC instance of a VDU.
type VNFC struct {
	// ID is the VNFC id (the IA's index or name).
	ID string
	// VIMID is the VIM the VNFC runs on.
	VIMID string
	// VCID is the virtualisation container or VM id (Nova server id).
	VCID string
	// ConnectionPoints are the VNFC's interfaces.
	ConnectionPoints []ConnectionPoint
}

// VDU is a deployed virtual deployment unit.
type VDU struct {
	// ID is the VDU id the IA reports.
	ID string
	// Reference is vdu_reference, "<vnfd name>:<vdu id>"; RenderVNFR finds
	// the VNFD VDU whose id is a substring of it (wire-protocol §6.3).
	Reference string
	// NumberOfInstances is number_of_instances; 0 when the IA did not report
	// it (a deployed VDU never has zero instances), and then not rendered.
	NumberOfInstances int
	// VMImage is the image the IA deployed ("" when not reported).
	VMImage string
	// VNFCs are the VNFC instances (none from the 2017 mock IA).
	VNFCs []VNFC
}

// Function is a deployed function: the compact, structured form of a VNFR.
// RenderVNFR turns it and its VNFD into the SONATA VNFR document.
//
// Objects returned by the store are shared and immutable: Copy before
// changing one.
type Function struct {
	// ID is the function instance uuid (func_id), the VNFR id.
	ID string
	// ServiceID is the owning service's id (NSR id, the VNFR's parent_ns).
	ServiceID string
	// VNFID is the vnf_id of the function in the NSD's network_functions.
	VNFID string
	// VNFD is the function descriptor.
	VNFD DescriptorRef
	// VIM is the uuid of the VIM placement chose; "" before placement.
	VIM string
	// Status is the VNFR status string.
	Status RecordStatus
	// Version is the VNFR version counter; rendered as a decimal string.
	Version uint64
	// DescriptorVersion is the VNFR descriptor_version the IA reported
	// (vnfr-schema-01); RenderVNFR writes vnfr-schema-01 when empty.
	DescriptorVersion string
	// DeploymentFlavour is the flavour the IA reported, if any.
	DeploymentFlavour string
	// Instance is where the IA deployed the function.
	Instance IAInstance
	// VDUs are the deployed VDUs as the IA reported them.
	VDUs []VDU
	// ConnectionPoints are the function-level connection points the IA
	// reported.
	ConnectionPoints []ConnectionPoint
	// Demand is what the function takes from its VIM, for capacity
	// bookkeeping in plans (sum over VDUs, wire-protocol §14.5 L2).
	Demand Demand
	// CreateIndex and ModifyIndex are set by the store.
	CreateIndex uint64
	ModifyIndex uint64
}

// Copy returns a deep copy of f; nil gives nil.
func (f *Function) Copy() *Function {
	if f == nil {
		return nil
	}
	c := *f
	c.ConnectionPoints = slices.Clone(f.ConnectionPoints)
	if f.VDUs != nil {
		c.VDUs = make([]VDU, len(f.VDUs))
		for i, u := range f.VDUs {
			c.VDUs[i] = u
			if u.VNFCs != nil {
				c.VDUs[i].VNFCs = make([]VNFC, len(u.VNFCs))
				for j, v := range u.VNFCs {
					c.VDUs[i].VNFCs[j] = v
					c.VDUs[i].VNFCs[j].ConnectionPoints = slices.Clone(v.ConnectionPoints)
				}
			}
		}
	}
	return &c
}

// Validate checks f and returns all problems found.
func (f *Function) Validate() error {
	var errs []error
	if !IsUUID(f.ID) {
		errs = append(errs, fmt.Errorf("id %q is not a UUID", f.ID))
	}
	if !IsUUID(f.ServiceID) {
		errs = append(errs, fmt.Errorf("service id %q is not a UUID", f.ServiceID))
	}
	if !f.Status.ValidVNFR() {
		errs = append(errs, fmt.Errorf("status %q is not a VNFR status", f.Status))
	}
	if f.VNFD.Digest == "" {
		errs = append(errs, errors.New("vnfd digest is empty"))
	}
	if f.VNFD.UUID != "" && !IsUUID(f.VNFD.UUID) {
		errs = append(errs, fmt.Errorf("vnfd uuid %q is not a UUID", f.VNFD.UUID))
	}
	if f.Demand.Cores < 0 || f.Demand.MemoryMB < 0 {
		errs = append(errs, fmt.Errorf("demand %+v is negative", f.Demand))
	}
	for _, u := range f.VDUs {
		if u.ID == "" {
			errs = append(errs, errors.New("vdu without id"))
		}
		if u.NumberOfInstances < 0 {
			errs = append(errs, fmt.Errorf("vdu %s: number of instances %d is negative", u.ID, u.NumberOfInstances))
		}
	}
	return joinErrs("function "+f.ID, errs)
}

// Descriptor is a stored NSD or VNFD. Descriptors are content-addressed:
// one copy per distinct content, shared by every record that uses it, and
// never modified (a changed descriptor is a new Descriptor).
type Descriptor struct {
	// Digest is DigestDoc(Doc), the primary key.
	Digest string
	// Kind is nsd or vnfd.
	Kind DescriptorKind
	// Identity is the vendor/name/version triple read from Doc.
	Identity descriptor.Identity
	// UUID is the catalogue uuid in Doc ("" when it has none).
	UUID string
	// Doc is the canonical document (see CanonicalDoc): keys as parsed,
	// numbers as int or float64, mappings as map[string]any. Shared: never
	// modify it; descriptor.Copy or RenderNSR/RenderVNFR give private trees.
	Doc descriptor.Doc
	// CreateIndex and ModifyIndex are set by the store; equal, since a
	// descriptor never changes.
	CreateIndex uint64
	ModifyIndex uint64
}

// VIM is a compute VIM as the IA reports it (compute.list, wire-protocol
// §8.3).
type VIM struct {
	// UUID is vim_uuid, the IA's id.
	UUID string
	// Name, City, Endpoint and Domain are vim_name, vim_city, vim_endpoint
	// and vim_domain ("" before Dec 2017 IAs).
	Name     string
	City     string
	Endpoint string
	Domain   string
	// CoresTotal, CoresUsed, MemoryTotalMB and MemoryUsedMB are the IA's
	// core_total, core_used, memory_total and memory_used (MB). -1 means the
	// wrapper reported no data (wire-protocol §8.3).
	CoresTotal    int64
	CoresUsed     int64
	MemoryTotalMB int64
	MemoryUsedMB  int64
	// CreateIndex and ModifyIndex are set by the store.
	CreateIndex uint64
	ModifyIndex uint64
}

// Copy returns a copy of v.
func (v *VIM) Copy() *VIM {
	if v == nil {
		return nil
	}
	c := *v
	return &c
}

// Validate checks v.
func (v *VIM) Validate() error {
	if v.UUID == "" {
		return errors.New("records: vim: uuid is empty")
	}
	return nil
}

// Plugin is a registered MANO plugin (plugin manager table, wire-protocol
// §3.3).
type Plugin struct {
	// UUID is the id the plugin manager assigned.
	UUID string
	// Name, Version and Description are from the registration.
	Name        string
	Version     string
	Description string
	// State is REGISTERED, READY, RUNNING, PAUSED, FAILED or what the
	// heartbeat reported; at most 16 characters, as in the PM's store.
	State string
	// RegisteredAt is when the plugin registered (wire-protocol §14.2 P5).
	RegisteredAt time.Time
	// LastHeartbeatAt is the last heartbeat; zero before the first one (the
	// PM broadcasts the string 'None' then).
	LastHeartbeatAt time.Time
	// CreateIndex and ModifyIndex are set by the store.
	CreateIndex uint64
	ModifyIndex uint64
}

// Copy returns a copy of p.
func (p *Plugin) Copy() *Plugin {
	if p == nil {
		return nil
	}
	c := *p
	return &c
}

// Validate checks p.
func (p *Plugin) Validate() error {
	var errs []error
	if p.UUID == "" {
		errs = append(errs, errors.New("uuid is empty"))
	}
	if p.Name == "" {
		errs = append(errs, errors.New("name is empty"))
	}
	if len(p.State) > 16 {
		errs = append(errs, fmt.Errorf("state %q is longer than 16 characters", p.State))
	}
	return joinErrs("plugin "+p.UUID, errs)
}

// OperationKind is what a lifecycle operation does.
type OperationKind string

const (
	OpInstantiate OperationKind = "instantiate"
	OpTerminate   OperationKind = "terminate"
	OpScale       OperationKind = "scale"
	OpUpdate      OperationKind = "update"
	OpHeal        OperationKind = "heal"
	OpMigrate     OperationKind = "migrate"
)

// OperationStatus is where an operation stands.
type OperationStatus string

const (
	// OpPending: requested, not started.
	OpPending OperationStatus = "pending"
	// OpRunning: steps are executing.
	OpRunning OperationStatus = "running"
	// OpSucceeded: every step succeeded.
	OpSucceeded OperationStatus = "succeeded"
	// OpFailed: a step failed and rollback did not complete.
	OpFailed OperationStatus = "failed"
	// OpRolledBack: a step failed and everything done was undone.
	OpRolledBack OperationStatus = "rolled-back"
	// OpInterrupted: the process running it stopped before it ended (set by
	// the daemon on restart for operations found running).
	OpInterrupted OperationStatus = "interrupted"
)

// OperationStatuses lists the valid OperationStatus values.
var OperationStatuses = []OperationStatus{OpPending, OpRunning, OpSucceeded, OpFailed, OpRolledBack, OpInterrupted}

// Valid reports whether s is one of OperationStatuses.
func (s OperationStatus) Valid() bool { return slices.Contains(OperationStatuses, s) }

// Done reports whether the operation has ended.
func (s OperationStatus) Done() bool {
	return s == OpSucceeded || s == OpFailed || s == OpRolledBack || s == OpInterrupted
}

// StepStatus is where one step of an operation stands.
type StepStatus string

const (
	StepPending    StepStatus = "pending"
	StepRunning    StepStatus = "running"
	StepSucceeded  StepStatus = "succeeded"
	StepFailed     StepStatus = "failed"
	StepSkipped    StepStatus = "skipped"
	StepRolledBack StepStatus = "rolled-back"
)

// StepStatuses lists the valid StepStatus values.
var StepStatuses = []StepStatus{StepPending, StepRunning, StepSucceeded, StepFailed, StepSkipped, StepRolledBack}

// Valid reports whether s is one of StepStatuses.
func (s StepStatus) Valid() bool { return slices.Contains(StepStatuses, s) }

// Step is one step of an operation (a workflow task such as ia_prepare or
// deploy_vnfs).
type Step struct {
	// Name is the step name.
	Name string
	// Status is the step's status.
	Status StepStatus
	// Attempt counts executions of the step, from 1.
	Attempt int
	// StartedAt and EndedAt bound the last attempt; zero when not reached.
	StartedAt time.Time
	EndedAt   time.Time
	// Error is the failure of the last attempt; "" otherwise.
	Error string
}

// Operation is one lifecycle operation on a service: what was asked, each
// step with timings, the result and the error, so that a failure is
// explainable and an interrupted operation resumable.
type Operation struct {
	// ID is the operation id (a uuid; the GK request id when there is one).
	ID string
	// ServiceID is the service the operation acts on ("" before the SLM
	// assigned one, e.g. a create that failed validation).
	ServiceID string
	// ServiceName is the service's instance name at request time.
	ServiceName string
	// Kind is what the operation does.
	Kind OperationKind
	// CorrelationID is the correlation id of the request on the bus.
	CorrelationID string
	// Status is where the operation stands.
	Status OperationStatus
	// RequestedAt, StartedAt and EndedAt are the request, start and end
	// times; zero when not reached.
	RequestedAt time.Time
	StartedAt   time.Time
	EndedAt     time.Time
	// Steps are the steps in execution order.
	Steps []Step
	// FailedStep and Error name the step that failed the operation and why.
	FailedStep string
	Error      string
	// Resume is the resumable marker: the name of the first step not known
	// to have completed, from which the daemon restarts the operation after a
	// crash; "" when the operation cannot be resumed (it ended, or the
	// workflow is not resumable).
	Resume string
	// CreateIndex and ModifyIndex are set by the store.
	CreateIndex uint64
	ModifyIndex uint64
}

// Copy returns a deep copy of o.
func (o *Operation) Copy() *Operation {
	if o == nil {
		return nil
	}
	c := *o
	c.Steps = slices.Clone(o.Steps)
	return &c
}

// Validate checks o and returns all problems found.
func (o *Operation) Validate() error {
	var errs []error
	if o.ID == "" {
		errs = append(errs, errors.New("id is empty"))
	}
	if o.Kind == "" {
		errs = append(errs, errors.New("kind is empty"))
	}
	if !o.Status.Valid() {
		errs = append(errs, fmt.Errorf("status %q is not one of %v", o.Status, OperationStatuses))
	}
	if o.ServiceID != "" && !IsUUID(o.ServiceID) {
		errs = append(errs, fmt.Errorf("service id %q is not a UUID", o.ServiceID))
	}
	for i, s := range o.Steps {
		if s.Name == "" {
			errs = append(errs, fmt.Errorf("step %d has no name", i))
		}
		if !s.Status.Valid() {
			errs = append(errs, fmt.Errorf("step %s: status %q is not one of %v", s.Name, s.Status, StepStatuses))
		}
	}
	return joinErrs("operation "+o.ID, errs)
}

func joinErrs(what string, errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("records: invalid %s: %w", what, errors.Join(errs...))
}
