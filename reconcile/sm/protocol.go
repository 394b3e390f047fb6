package sm

import (
	"fmt"
	"sort"

	"github.com/manoctl/manoctl/reconcile/bus"
	"github.com/manoctl/manoctl/reconcile/wire"
	"github.com/manoctl/manoctl/schema/descriptor"
)

// Kind is the kind of a specific manager: "ssm" or "fsm".
type Kind string

// The two kinds (the specific_manager_type of a registration).
const (
	KindSSM Kind = "ssm"
	KindFSM Kind = "fsm"
)

// Vhost returns the virtual host of the managers of instance uuid.
func (k Kind) Vhost(uuid string) string {
	if k == KindFSM {
		return bus.FSMVhost(uuid)
	}
	return bus.SSMVhost(uuid)
}

// GenericTopic returns the topic the managers of instance uuid serve.
func (k Kind) GenericTopic(uuid string) string {
	if k == KindFSM {
		return bus.GenericFSMTopic(uuid)
	}
	return bus.GenericSSMTopic(uuid)
}

// TypeKey is the body key that carries the manager type of a call:
// ssm_type or fsm_type.
func (k Kind) TypeKey() string {
	if k == KindFSM {
		return KeyFSMType
	}
	return KeySSMType
}

// Body keys that select the manager a call is for (§7.5). Managers ignore
// messages without them, which is how they tell calls from replies.
const (
	KeySSMType = "ssm_type"
	KeyFSMType = "fsm_type"
)

// Manager types: the value of the descriptor option {key: type}.
const (
	TypeTask      = "task"
	TypePlacement = "placement"
	TypeConfigure = "configure"
	TypeMonitor   = "monitor"
	TypeStart     = "start"
	TypeStop      = "stop"
	TypeScale     = "scale"
)

// Descriptor option keys the MANO and the SMR read (§7.4).
const (
	OptionType         = "type"
	OptionTermination  = "termination"
	OptionCurrentID    = "currentId"
	OptionCurrentImage = "currentImage"
)

// Literal strings of the SMR protocol (wire-protocol §7.2, §7.3, §13). They
// must be reproduced byte for byte.
const (
	StatusOnboarded    = "On-boarded"
	StatusInstantiated = "Instantiated"
	StatusUpdated      = "Updated"
	StatusTerminated   = "Terminated"
	StatusFailed       = "Failed"
	StatusRegistered   = "registered"
	// NoError is the SMR's success marker: the string 'None' in error
	// fields, not null (§1.8).
	NoError = "None"
	// ErrRegistrationFailed and ErrVhostCreation are the SMR's error texts
	// for a manager that did not register and for a vhost it could not
	// create (§7.2, §14.6 M1).
	ErrRegistrationFailed = "Registration failed"
	ErrVhostCreation      = "RabbitMQ virtual host creation failed"
)

// OK reports whether an SMR error field means success: the string 'None'
// or null (§14.6 M8).
func OK(errField any) bool {
	switch e := errField.(type) {
	case nil:
		return true
	case string:
		return e == NoError
	}
	return false
}

// SMRRequest is the body of the specific.manager.registry.* requests: the
// NSD (SSM requests) or the VNFD (FSM requests) and the instance UUID.
// On-board requests carry no UUID; the SLM's SSM on-board also sends the
// service's VNFDs as a list under VNFD.
type SMRRequest struct {
	NSD  descriptor.Doc `yaml:"NSD,omitempty" json:"NSD,omitempty"`
	VNFD any            `yaml:"VNFD,omitempty" json:"VNFD,omitempty"`
	UUID string         `yaml:"UUID,omitempty" json:"UUID,omitempty"`
}

// SMRResult is one entry of an SMR reply, keyed by the manager id.
type SMRResult struct {
	Status string `yaml:"status" json:"status"`
	// UUID is the manager's registration uuid (instantiate and update
	// replies), 'None' when it failed.
	UUID string `yaml:"uuid,omitempty" json:"uuid,omitempty"`
	// Error is 'None' on success, a text otherwise.
	Error any `yaml:"error" json:"error"`
}

// OK reports whether the entry is a success.
func (r SMRResult) OK() bool { return OK(r.Error) && r.Status != StatusFailed }

// ErrorText is the entry's error as text ("" on success).
func (r SMRResult) ErrorText() string {
	if r.OK() {
		return ""
	}
	if t := wire.ErrorText(r.Error); t != "" && t != NoError {
		return t
	}
	return "specific manager registry answered " + r.Status
}

// ParseSMRReply reads an SMR reply: a map from manager id to result. The
// unkeyed error form ({status: Failed, error: NSD not found}) becomes an
// error.
func ParseSMRReply(m *bus.Message) (map[string]SMRResult, error) {
	var generic map[string]any
	if err := m.Decode(&generic); err != nil {
		return nil, fmt.Errorf("malformed specific manager registry reply: %w", err)
	}
	if s, ok := generic["status"].(string); ok {
		// Manager ids start with "son", so a string status is the unkeyed
		// error form.
		return nil, fmt.Errorf("%s", errorOr(generic["error"], s))
	}
	out := make(map[string]SMRResult, len(generic))
	for id, v := range generic {
		e := descriptor.AsMap(v)
		if e == nil {
			return nil, fmt.Errorf("malformed specific manager registry reply: entry %s is not a mapping", id)
		}
		out[id] = SMRResult{Status: descriptor.Str(e, "status"), UUID: descriptor.Str(e, "uuid"), Error: e["error"]}
	}
	return out, nil
}

func errorOr(e any, status string) string {
	if t := wire.ErrorText(e); t != "" {
		return t
	}
	return "specific manager registry answered " + status
}

// SortedIDs returns the keys of an SMR reply in order (logs, errors).
func SortedIDs(r map[string]SMRResult) []string {
	out := make([]string, 0, len(r))
	for k := range r {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// RegistrationRequest is what a manager sends on
// specific.manager.registry.ssm.registration on its vhost: the 2017
// sonsmbase body (§7.3). FunctionName is null for SSMs.
type RegistrationRequest struct {
	SpecificManagerType string  `yaml:"specific_manager_type" json:"specific_manager_type"`
	ServiceName         string  `yaml:"service_name" json:"service_name"`
	FunctionName        *string `yaml:"function_name" json:"function_name"`
	SpecificManagerName string  `yaml:"specific_manager_name" json:"specific_manager_name"`
	SpecificManagerID   string  `yaml:"specific_manager_id" json:"specific_manager_id"`
	// UpdateVersion is the string 'true' or 'false'.
	UpdateVersion string `yaml:"update_version" json:"update_version"`
	Version       string `yaml:"version" json:"version"`
	Description   string `yaml:"description" json:"description"`
	SFUUID        string `yaml:"sf_uuid" json:"sf_uuid"`
}

// RegistrationReply is the SMR's answer to a registration (§7.3):
// status registered with the record (function_name null for SSMs, error
// null), or status Failed with error, which Wire writes without the other
// keys.
type RegistrationReply struct {
	Status              string  `yaml:"status" json:"status"`
	SpecificManagerType string  `yaml:"specific_manager_type" json:"specific_manager_type"`
	ServiceName         string  `yaml:"service_name" json:"service_name"`
	FunctionName        *string `yaml:"function_name" json:"function_name"`
	SpecificManagerID   string  `yaml:"specific_manager_id" json:"specific_manager_id"`
	Version             string  `yaml:"version" json:"version"`
	Description         string  `yaml:"description" json:"description"`
	UUID                string  `yaml:"uuid" json:"uuid"`
	SFUUID              string  `yaml:"sfuuid" json:"sfuuid"`
	Error               any     `yaml:"error" json:"error"`
}

// Wire returns the reply as the SMR sends it: the whole record for a
// registration, {status: Failed, error} for a refusal.
func (r RegistrationReply) Wire() any {
	if r.Status == StatusRegistered {
		return r
	}
	return map[string]any{"status": r.Status, "error": r.Error}
}

// StatusNotice is what a manager publishes on
// specific.manager.registry.ssm.status after registering (§7.3).
type StatusNotice struct {
	Name   string `yaml:"name" json:"name"`
	Status string `yaml:"status" json:"status"`
}

// TaskRequest is the SLM's call to a task SSM (§4.4 step 4).
type TaskRequest struct {
	Schedule []string `yaml:"schedule" json:"schedule"`
	SSMType  string   `yaml:"ssm_type" json:"ssm_type"`
}

// TaskReply is a task SSM's answer: status COMPLETED with the new
// schedule; any other status is a failure (§14.3 S4).
type TaskReply struct {
	Status   string   `yaml:"status" json:"status"`
	Schedule []string `yaml:"schedule,omitempty" json:"schedule,omitempty"`
	Error    any      `yaml:"error,omitempty" json:"error,omitempty"`
}

// ConfigureRequest is the SLM's call to a configure SSM (§4.8): the
// service part of the ledger, the function entries, and the workflow that
// asks.
type ConfigureRequest struct {
	Service   map[string]any   `yaml:"service" json:"service"`
	Functions []map[string]any `yaml:"functions" json:"functions"`
	SSMType   string           `yaml:"ssm_type" json:"ssm_type"`
	Workflow  string           `yaml:"workflow" json:"workflow"`
	// Ingresses and Egresses are the Dec-2017 additions.
	Ingresses []wire.NAP `yaml:"ingresses,omitempty" json:"ingresses,omitempty"`
	Egresses  []wire.NAP `yaml:"egresses,omitempty" json:"egresses,omitempty"`
}

// FunctionUpdate is one entry of the vnf list a configure SSM returns or
// a monitoring SSM sends: the function instance id and trigger updates
// (start, stop, configure, scale: {trigger, payload}).
type FunctionUpdate map[string]any

// ConfigureReply is a configure SSM's answer; vnf is optional, and so is
// status.
type ConfigureReply struct {
	VNF    []FunctionUpdate `yaml:"vnf,omitempty" json:"vnf,omitempty"`
	Status string           `yaml:"status,omitempty" json:"status,omitempty"`
	Error  any              `yaml:"error,omitempty" json:"error,omitempty"`
}

// MonitorVNF is one function of a monitor-SSM start notification.
type MonitorVNF struct {
	VNFD descriptor.Doc `yaml:"vnfd" json:"vnfd"`
	ID   string         `yaml:"id" json:"id"`
	VNFR descriptor.Doc `yaml:"vnfr" json:"vnfr"`
}

// MonitorStart is the SLM's notification to a monitor SSM when the
// service is up (§4.4 step 13a).
type MonitorStart struct {
	NSD     descriptor.Doc `yaml:"nsd" json:"nsd"`
	NSR     descriptor.Doc `yaml:"nsr" json:"nsr"`
	VNFs    []MonitorVNF   `yaml:"vnfs" json:"vnfs"`
	SSMType string         `yaml:"ssm_type" json:"ssm_type"`
}

// Feedback is what a monitoring SSM sends on monitor.ssm.<serv_id>
// (§4.8).
type Feedback struct {
	ServiceInstanceID string           `yaml:"service_instance_id" json:"service_instance_id"`
	VNF               []FunctionUpdate `yaml:"vnf,omitempty" json:"vnf,omitempty"`
	Service           map[string]any   `yaml:"service,omitempty" json:"service,omitempty"`
	Workflow          string           `yaml:"workflow,omitempty" json:"workflow,omitempty"`
	Schedule          []string         `yaml:"schedule,omitempty" json:"schedule,omitempty"`
}

// PlacementRequest is the SLM's request to a placement SSM, sent on
// placement.ssm.<serv_id> over vhost ssm-<serv_id> (§14.5 L5), and the
// body external callers send to the placement executive (§5.3). The VNFDs
// carry instance_uuid, by which the mapping is keyed.
type PlacementRequest struct {
	NSD      descriptor.Doc      `yaml:"nsd" json:"nsd"`
	Topology []wire.VIMResources `yaml:"topology" json:"topology"`
	UUID     string              `yaml:"uuid" json:"uuid"`
	VNFDs    []descriptor.Doc    `yaml:"vnfds" json:"vnfds"`
	NAP      wire.NAPs           `yaml:"nap" json:"nap"`
}

// FSMRequest is the FLM's call to an FSM on generic.fsm.<func_id> (§6.4):
// content and fsm_type; a task FSM also gets the schedule and the topic
// of the workflow (§14.4 F2).
type FSMRequest struct {
	Content  map[string]any `yaml:"content,omitempty" json:"content,omitempty"`
	FSMType  string         `yaml:"fsm_type" json:"fsm_type"`
	Schedule []string       `yaml:"schedule,omitempty" json:"schedule,omitempty"`
	Topic    string         `yaml:"topic,omitempty" json:"topic,omitempty"`
}

// FSMReply is an FSM's answer: status COMPLETED, or another status with
// error; a task FSM returns the schedule.
type FSMReply struct {
	Status   string   `yaml:"status" json:"status"`
	Error    any      `yaml:"error,omitempty" json:"error,omitempty"`
	Schedule []string `yaml:"schedule,omitempty" json:"schedule,omitempty"`
}

// WithOption returns a copy of doc whose managers under key
// (service_specific_managers or function_specific_managers) all carry the
// option {key: k, value: v}, replacing an existing option k. The copies
// are deep enough that doc is never modified.
func WithOption(doc descriptor.Doc, key, k, v string) descriptor.Doc {
	c := descriptor.Copy(doc)
	var ms []any
	for _, e := range descriptor.List(doc, key) {
		m := descriptor.AsMap(e)
		if m == nil {
			ms = append(ms, e)
			continue
		}
		mc := descriptor.Copy(m)
		var opts []any
		for _, o := range descriptor.List(m, "options") {
			if om := descriptor.AsMap(o); om != nil && descriptor.Str(om, "key") == k {
				continue
			}
			opts = append(opts, o)
		}
		mc["options"] = append(opts, map[string]any{"key": k, "value": v})
		ms = append(ms, mc)
	}
	if ms != nil {
		c[key] = ms
	}
	return c
}

// Descriptor keys of the manager lists.
const (
	SSMKey = "service_specific_managers"
	FSMKey = "function_specific_managers"
)

// Environment variables a manager is started with, as the original SMR
// starts its containers and as sonsmbase reads them (§7.1, §7.3).
const (
	// EnvBrokerHost is the AMQP URI of the manager's own vhost.
	EnvBrokerHost = "broker_host"
	// EnvBrokerExchange names the exchange (default son-kernel).
	EnvBrokerExchange = "broker_exchange"
	// EnvSFUUID is the service or function instance uuid.
	EnvSFUUID = "sf_uuid"
)

// Defaults of the original SMR for the managers' broker (§7.1, §14.6 M7):
// the base URL of the SM vhosts, with the SM user and password.
const (
	DefaultSMBrokerBase = "amqp://specific-management:sonata@son-broker:5672"
	DefaultSMUser       = "specific-management"
	DefaultSMPassword   = "sonata"
)
