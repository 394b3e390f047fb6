package wire

import "github.com/manoctl/manoctl/schema/descriptor"

// FunctionDeployRequest is SLM -> FLM on mano.function.deploy (§4.4 step 8).
type FunctionDeployRequest struct {
	VNFD    descriptor.Doc `yaml:"vnfd" json:"vnfd"`
	ID      string         `yaml:"id" json:"id"`
	VIMUUID string         `yaml:"vim_uuid" json:"vim_uuid"`
	ServID  string         `yaml:"serv_id" json:"serv_id"`
}

// FunctionDeployReply is FLM -> SLM: {vnfr, status, error} on success,
// {status: failed, error, timestamp} on failure (§6.2).
type FunctionDeployReply struct {
	VNFR      descriptor.Doc `yaml:"vnfr,omitempty" json:"vnfr,omitempty"`
	Status    string         `yaml:"status" json:"status"`
	Error     any            `yaml:"error" json:"error"`
	Timestamp float64        `yaml:"timestamp,omitempty" json:"timestamp,omitempty"`
}

// FunctionEventRequest is SLM -> FLM on mano.function.start, .stop,
// .configure and .scale (§4.4 step 9, §6.4).
type FunctionEventRequest struct {
	VNFID  string         `yaml:"vnf_id" json:"vnf_id"`
	VNFD   descriptor.Doc `yaml:"vnfd" json:"vnfd"`
	ServID string         `yaml:"serv_id" json:"serv_id"`
	Data   map[string]any `yaml:"data" json:"data"`
}

// FunctionEventReply is FLM -> SLM for function events (§6.4).
type FunctionEventReply struct {
	Timestamp float64 `yaml:"timestamp" json:"timestamp"`
	Error     any     `yaml:"error" json:"error"`
	VNFID     string  `yaml:"vnf_id" json:"vnf_id"`
	Status    string  `yaml:"status" json:"status"`
	Message   string  `yaml:"message,omitempty" json:"message,omitempty"`
}

// FunctionRemoveRequest is SLM -> FLM on mano.function.remove (HEAD, §12):
// remove one function instance, used by scale-in and rollback.
type FunctionRemoveRequest struct {
	VNFID  string `yaml:"vnf_id" json:"vnf_id"`
	VIMID  string `yaml:"vim_id" json:"vim_id"`
	ServID string `yaml:"serv_id" json:"serv_id"`
}

// FunctionTerminateRequest is the body of mano.function.terminate (§6.4).
type FunctionTerminateRequest struct {
	ID     string `yaml:"id" json:"id"`
	ServID string `yaml:"serv_id" json:"serv_id"`
}

// Trigger is one of a function's start/stop/configure/scale triggers in the
// SLM ledger: the SLM sends the event when Trigger is true, with Payload as
// its data when not empty (§4.4).
type Trigger struct {
	Trigger bool           `yaml:"trigger" json:"trigger"`
	Payload map[string]any `yaml:"payload" json:"payload"`
}

// FunctionFailed reports whether a function-event reply means failure: a
// non-null error, or status failed/FAILED/ERROR (§14.4 F3).
func FunctionFailed(status string, err any) bool {
	if err != nil && err != "None" {
		return true
	}
	switch status {
	case "failed", "FAILED", "ERROR":
		return true
	}
	return false
}
