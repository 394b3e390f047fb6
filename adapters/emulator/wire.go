package emulator

import "github.com/manoctl/manoctl/reconcile/bus"

// Reply bodies, as the Java IA writes them (wire-protocol §8.3, §8.6). The
// struct tags are the wire keys: snake_case for status fields, Jackson's
// mixed case on the deploy reply.
//
// The typed structs are the Go model (Snapshot, tests). On the bus the
// emulator publishes the equivalent generic tree (map[string]any, []any,
// string, int), built by each type's doc method: on the in-process bus a
// subscriber that decodes into map[string]any or any then gets the value
// without a JSON round trip, which would otherwise cost more than the
// whole deploy. TestDocsMatchTags keeps the two forms identical. Reply
// payloads are shared with every subscriber and must be treated as
// read-only.

// Request status values of the IA. COMPLETED is shared with the MANO
// vocabulary; the error spellings vary by topic and are reproduced as the
// original uses them.
const (
	StatusCompleted = bus.StatusCompleted // "COMPLETED"
	StatusError     = bus.StatusError     // "ERROR": most IA topics
	StatusFAILED    = bus.StatusFAILED    // "FAILED": wan.configure
	StatusFail      = "fail"              // compute.list, wan.configure payload errors
)

// Error texts of the original IA that callers or operators may match on.
// Texts introduced by the emulator are free text (wire-protocol §14).
const (
	MsgDeploymentError   = "Deployment Error"
	MsgVIMNotFound       = "VIM not found"
	MsgNotPrepared       = "VIM not prepared for service"
	MsgUnknownInstance   = "can't find instance UUID or associated VIMs"
	MsgDeprecated        = "This function is deprecated"
	MsgCannotAttach      = "Cannot Attach To Vim"
	MsgDuplicateVIMs     = "Duplicate VIMs in vim_list"
	MsgPayloadParseError = "Payload parse error"
	MsgMalformedRequest  = "Malformed request"
	MsgNoCorrelationID   = "Please provide a correlation id."
)

// StatusReply is the status reply of most IA topics: prepare, chain.*,
// wan.*, service.remove, function.remove, and every error reply.
type StatusReply struct {
	RequestStatus string `json:"request_status" yaml:"request_status"`
	Message       string `json:"message" yaml:"message"`
}

// addReply answers compute.add and network.add: the IA writes no message
// key on success.
type addReply struct {
	RequestStatus string `json:"request_status" yaml:"request_status"`
	UUID          string `json:"uuid" yaml:"uuid"`
}

// wanAddReply answers wan.add, which does carry an empty message.
type wanAddReply struct {
	RequestStatus string `json:"request_status" yaml:"request_status"`
	UUID          string `json:"uuid" yaml:"uuid"`
	Message       string `json:"message" yaml:"message"`
}

// bareStatus answers compute.remove, network.remove, wan.remove and
// wan.attach: request_status alone.
type bareStatus struct {
	RequestStatus string `json:"request_status" yaml:"request_status"`
}

// availabilityReply answers compute.resourceAvailability, which checks
// nothing (§8.3).
type availabilityReply struct {
	Status string `json:"status" yaml:"status"`
}

// ComputeResources is one element of the compute.list reply (§8.3), memory
// in MB. The list is a top-level YAML sequence.
type ComputeResources struct {
	VIMUUID     string `json:"vim_uuid" yaml:"vim_uuid"`
	VIMName     string `json:"vim_name" yaml:"vim_name"`
	VIMCity     string `json:"vim_city" yaml:"vim_city"`
	VIMEndpoint string `json:"vim_endpoint" yaml:"vim_endpoint"`
	CoreTotal   int    `json:"core_total" yaml:"core_total"`
	CoreUsed    int    `json:"core_used" yaml:"core_used"`
	MemoryTotal int    `json:"memory_total" yaml:"memory_total"`
	MemoryUsed  int    `json:"memory_used" yaml:"memory_used"`
	// VIMDomain is the Dec-2017 addition (§8.8); Jackson omits it when
	// null, so a VIM without a domain lists the eight Sep-2017 keys.
	VIMDomain string `json:"vim_domain,omitempty" yaml:"vim_domain,omitempty"`
}

// networkVIMListing is one element of the network.list reply. The 2017
// reply was unreliable (§8.3); the emulator lists the compute keys plus the
// linked compute VIM.
type networkVIMListing struct {
	VIMUUID     string `json:"vim_uuid" yaml:"vim_uuid"`
	VIMName     string `json:"vim_name" yaml:"vim_name"`
	VIMCity     string `json:"vim_city" yaml:"vim_city"`
	VIMEndpoint string `json:"vim_endpoint" yaml:"vim_endpoint"`
	ComputeUUID string `json:"compute_uuid" yaml:"compute_uuid"`
}

// WIMRecord is one element of the wan.list reply (the WIM adaptor's
// WimRecord).
type WIMRecord struct {
	UUID         string   `json:"uuid" yaml:"uuid"`
	Name         string   `json:"name" yaml:"name"`
	AttachedVIMs []string `json:"attached_vims" yaml:"attached_vims"`
}

// DeployReply is the function.deploy success reply (§8.3), YAML on the
// wire. Keys are mixed case, as Jackson writes them.
type DeployReply struct {
	RequestStatus   string `json:"request_status" yaml:"request_status"`
	Message         string `json:"message" yaml:"message"`
	InstanceName    string `json:"instanceName" yaml:"instanceName"`
	InstanceVimUUID string `json:"instanceVimUuid" yaml:"instanceVimUuid"`
	VIMUUID         string `json:"vimUuid" yaml:"vimUuid"`
	VNFR            *VNFR  `json:"vnfr" yaml:"vnfr"`

	// wire is the reply's tree, built once when the function is deployed
	// (and never modified), so that an idempotent replay costs nothing.
	wire map[string]any
}

// VNFR is the IA's record of a deployed function: the part the FLM builds
// its own VNFR from (§6.3).
type VNFR struct {
	DescriptorVersion string `json:"descriptor_version" yaml:"descriptor_version"`
	// ID is vnfd.instance_uuid, the SLM's function id.
	ID string `json:"id" yaml:"id"`
	// DescriptorReference is vnfd.uuid.
	DescriptorReference    string     `json:"descriptor_reference" yaml:"descriptor_reference"`
	Status                 string     `json:"status" yaml:"status"`
	VirtualDeploymentUnits []VDUR     `json:"virtual_deployment_units" yaml:"virtual_deployment_units"`
	ConnectionPoints       []VNFCPRef `json:"connection_points" yaml:"connection_points"`
}

// VDUR is one deployed VDU.
type VDUR struct {
	ID                string         `json:"id" yaml:"id"`
	VMImage           string         `json:"vm_image,omitempty" yaml:"vm_image,omitempty"`
	VDUReference      string         `json:"vdu_reference" yaml:"vdu_reference"`
	NumberOfInstances int            `json:"number_of_instances" yaml:"number_of_instances"`
	VNFCInstance      []VNFCInstance `json:"vnfc_instance" yaml:"vnfc_instance"`
}

// VNFCInstance is one VM of a VDU: the part the 2017 mock never emitted and
// that FSMs and monitoring need (§14.7 I4).
type VNFCInstance struct {
	ID               string     `json:"id" yaml:"id"`
	VIMID            string     `json:"vim_id" yaml:"vim_id"`
	VCID             string     `json:"vc_id" yaml:"vc_id"`
	ConnectionPoints []CPRecord `json:"connection_points" yaml:"connection_points"`
}

// CPRecord is a connection point of a VNFC in the Sep-2017 form (§14.7 I5).
type CPRecord struct {
	ID        string          `json:"id" yaml:"id"`
	Type      string          `json:"type" yaml:"type"`
	Interface InterfaceRecord `json:"interface" yaml:"interface"`
}

// InterfaceRecord is a fake but well-formed address. Management points get
// a "floating" address without netmask; the others a fixed address with the
// Heat wrapper's /29 netmask (§8.3).
type InterfaceRecord struct {
	Address         string `json:"address" yaml:"address"`
	Netmask         string `json:"netmask,omitempty" yaml:"netmask,omitempty"`
	HardwareAddress string `json:"hardware_address" yaml:"hardware_address"`
}

// VNFCPRef is a VNF-level connection point of the record, copied from the
// VNFD.
type VNFCPRef struct {
	ID   string `json:"id" yaml:"id"`
	Type string `json:"type,omitempty" yaml:"type,omitempty"`
}

// VNFR constants of the deploy reply.
const (
	vnfrSchema          = "vnfr-schema-01"
	vnfrStatusNormalOp  = "normal operation"
	fixedNetmask        = "255.255.255.248"
	defaultCPType       = "internal"
	managementCPType    = "management"
	numberOfVNFCsPerVDU = 1
)

// statusReply builds a status reply.
func statusReply(status, msg string) StatusReply {
	return StatusReply{RequestStatus: status, Message: msg}
}

// completed is the common success reply {request_status: COMPLETED,
// message: ""}.
var completed = statusReply(StatusCompleted, "")

// completedDoc is completed's tree, shared by every success reply.
var completedDoc = map[string]any{"request_status": StatusCompleted, "message": ""}

func (r StatusReply) doc() map[string]any {
	if r == completed {
		return completedDoc
	}
	return map[string]any{"request_status": r.RequestStatus, "message": r.Message}
}

func (r addReply) doc() map[string]any {
	return map[string]any{"request_status": r.RequestStatus, "uuid": r.UUID}
}

func (r wanAddReply) doc() map[string]any {
	return map[string]any{"request_status": r.RequestStatus, "uuid": r.UUID, "message": r.Message}
}

func (r bareStatus) doc() map[string]any {
	return map[string]any{"request_status": r.RequestStatus}
}

func (r availabilityReply) doc() map[string]any {
	return map[string]any{"status": r.Status}
}

func (c ComputeResources) doc() map[string]any {
	m := map[string]any{
		"vim_uuid": c.VIMUUID, "vim_name": c.VIMName, "vim_city": c.VIMCity, "vim_endpoint": c.VIMEndpoint,
		"core_total": c.CoreTotal, "core_used": c.CoreUsed, "memory_total": c.MemoryTotal, "memory_used": c.MemoryUsed,
	}
	if c.VIMDomain != "" {
		m["vim_domain"] = c.VIMDomain
	}
	return m
}

func (n networkVIMListing) doc() map[string]any {
	return map[string]any{
		"vim_uuid": n.VIMUUID, "vim_name": n.VIMName, "vim_city": n.VIMCity, "vim_endpoint": n.VIMEndpoint,
		"compute_uuid": n.ComputeUUID,
	}
}

func (w WIMRecord) doc() map[string]any {
	vims := make([]any, len(w.AttachedVIMs))
	for i, v := range w.AttachedVIMs {
		vims[i] = v
	}
	return map[string]any{"uuid": w.UUID, "name": w.Name, "attached_vims": vims}
}

func (r *DeployReply) doc() map[string]any {
	if r.wire != nil {
		return r.wire
	}
	m := map[string]any{
		"request_status": r.RequestStatus, "message": r.Message,
		"instanceName": r.InstanceName, "instanceVimUuid": r.InstanceVimUUID, "vimUuid": r.VIMUUID,
		"vnfr": nil,
	}
	if r.VNFR != nil {
		m["vnfr"] = r.VNFR.doc()
	}
	return m
}

func (v *VNFR) doc() map[string]any {
	vdus := make([]any, len(v.VirtualDeploymentUnits))
	for i := range v.VirtualDeploymentUnits {
		vdus[i] = v.VirtualDeploymentUnits[i].doc()
	}
	cps := make([]any, len(v.ConnectionPoints))
	for i, c := range v.ConnectionPoints {
		cp := map[string]any{"id": c.ID}
		if c.Type != "" {
			cp["type"] = c.Type
		}
		cps[i] = cp
	}
	return map[string]any{
		"descriptor_version": v.DescriptorVersion, "id": v.ID, "descriptor_reference": v.DescriptorReference,
		"status": v.Status, "virtual_deployment_units": vdus, "connection_points": cps,
	}
}

func (u *VDUR) doc() map[string]any {
	vnfcs := make([]any, len(u.VNFCInstance))
	for i := range u.VNFCInstance {
		vnfcs[i] = u.VNFCInstance[i].doc()
	}
	m := map[string]any{
		"id": u.ID, "vdu_reference": u.VDUReference, "number_of_instances": u.NumberOfInstances, "vnfc_instance": vnfcs,
	}
	if u.VMImage != "" {
		m["vm_image"] = u.VMImage
	}
	return m
}

func (c *VNFCInstance) doc() map[string]any {
	cps := make([]any, len(c.ConnectionPoints))
	for i, cp := range c.ConnectionPoints {
		iface := map[string]any{"address": cp.Interface.Address, "hardware_address": cp.Interface.HardwareAddress}
		if cp.Interface.Netmask != "" {
			iface["netmask"] = cp.Interface.Netmask
		}
		cps[i] = map[string]any{"id": cp.ID, "type": cp.Type, "interface": iface}
	}
	return map[string]any{"id": c.ID, "vim_id": c.VIMID, "vc_id": c.VCID, "connection_points": cps}
}

type docer interface{ doc() map[string]any }

// listDoc turns a slice of doc-able elements into a sequence tree.
func listDoc[T docer](xs []T) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x.doc()
	}
	return out
}

// wireDoc is the payload published for a handler's reply.
func wireDoc(reply any) any {
	switch r := reply.(type) {
	case docer:
		return r.doc()
	case []ComputeResources:
		return listDoc(r)
	case []networkVIMListing:
		return listDoc(r)
	case []WIMRecord:
		return listDoc(r)
	}
	return reply
}
