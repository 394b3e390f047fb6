package wire

import "github.com/manoctl/manoctl/schema/descriptor"

// IAStatusReply is the IA's status reply (§8.3): request_status COMPLETED or
// an error status with message.
type IAStatusReply struct {
	RequestStatus string `yaml:"request_status" json:"request_status"`
	Message       string `yaml:"message" json:"message"`
	UUID          string `yaml:"uuid,omitempty" json:"uuid,omitempty"`
}

// OK reports request_status == COMPLETED (§14.3 S8).
func (r IAStatusReply) OK() bool { return r.RequestStatus == "COMPLETED" }

// IAImage is one image of a prepare request.
type IAImage struct {
	ImageUUID string `yaml:"image_uuid" json:"image_uuid"`
	ImageURL  string `yaml:"image_url" json:"image_url"`
	ImageMD5  string `yaml:"image_md5,omitempty" json:"image_md5,omitempty"`
}

// IAPrepareVIM is one VIM of a prepare request.
type IAPrepareVIM struct {
	UUID     string    `yaml:"uuid" json:"uuid"`
	VMImages []IAImage `yaml:"vm_images" json:"vm_images"`
}

// IAPrepareRequest is infrastructure.service.prepare (§8.3).
type IAPrepareRequest struct {
	InstanceID string         `yaml:"instance_id" json:"instance_id"`
	VIMList    []IAPrepareVIM `yaml:"vim_list" json:"vim_list"`
}

// IADeployRequest is infrastructure.function.deploy (§8.3): the VNFD carries
// uuid and instance_uuid.
type IADeployRequest struct {
	ServiceInstanceID string         `yaml:"service_instance_id" json:"service_instance_id"`
	VIMUUID           string         `yaml:"vim_uuid" json:"vim_uuid"`
	VNFD              descriptor.Doc `yaml:"vnfd" json:"vnfd"`
}

// IADeployReply is the IA's deploy reply (§8.3), with its mixed-case keys.
type IADeployReply struct {
	RequestStatus   string         `yaml:"request_status" json:"request_status"`
	Message         string         `yaml:"message" json:"message"`
	InstanceName    string         `yaml:"instanceName,omitempty" json:"instanceName,omitempty"`
	InstanceVIMUUID string         `yaml:"instanceVimUuid,omitempty" json:"instanceVimUuid,omitempty"`
	VIMUUID         string         `yaml:"vimUuid,omitempty" json:"vimUuid,omitempty"`
	VNFR            descriptor.Doc `yaml:"vnfr,omitempty" json:"vnfr,omitempty"`
}

// IAChainConfigureRequest is infrastructure.service.chain.configure (§8.3).
type IAChainConfigureRequest struct {
	ServiceInstanceID string           `yaml:"service_instance_id" json:"service_instance_id"`
	NSD               descriptor.Doc   `yaml:"nsd" json:"nsd"`
	VNFDs             []descriptor.Doc `yaml:"vnfds" json:"vnfds"`
	VNFRs             []descriptor.Doc `yaml:"vnfrs" json:"vnfrs"`
	NAP               *NAPs            `yaml:"nap,omitempty" json:"nap,omitempty"`
}

// IAServiceInstance is the {service_instance_id} body of chain.deconfigure
// and wan.deconfigure.
type IAServiceInstance struct {
	ServiceInstanceID string `yaml:"service_instance_id" json:"service_instance_id"`
}

// IAServiceRemoveRequest is infrastructure.service.remove (§8.3), JSON.
type IAServiceRemoveRequest struct {
	InstanceUUID string `yaml:"instance_uuid" json:"instance_uuid"`
	// VIMUUID is the 2019 per-VIM form (§12); manoctl leaves it empty.
	VIMUUID string `yaml:"vim_uuid,omitempty" json:"vim_uuid,omitempty"`
}

// IAWanVIM is one entry of a WAN configure request's ordered VIM list.
type IAWanVIM struct {
	UUID  string `yaml:"uuid" json:"uuid"`
	Order int    `yaml:"order" json:"order"`
}

// IAWanConfigureRequest is infrastructure.service.wan.configure (§8.6).
type IAWanConfigureRequest struct {
	ServiceInstanceID string     `yaml:"service_instance_id" json:"service_instance_id"`
	NAP               *NAPs      `yaml:"nap,omitempty" json:"nap,omitempty"`
	VIMList           []IAWanVIM `yaml:"vim_list" json:"vim_list"`
}

// IAFunctionRemoveRequest is infrastructure.function.remove (Aug 2018, §8.8).
type IAFunctionRemoveRequest struct {
	ServiceInstanceID string `yaml:"service_instance_id" json:"service_instance_id"`
	VIMUUID           string `yaml:"vim_uuid" json:"vim_uuid"`
	VNFUUID           string `yaml:"vnf_uuid" json:"vnf_uuid"`
}
