package wire

import "github.com/manoctl/manoctl/schema/descriptor"

// VIMResources is one entry of the infrastructure.management.compute.list
// reply (§8.3): memory is in MB.
type VIMResources struct {
	VIMUUID     string `yaml:"vim_uuid" json:"vim_uuid"`
	VIMName     string `yaml:"vim_name" json:"vim_name"`
	VIMCity     string `yaml:"vim_city" json:"vim_city"`
	VIMEndpoint string `yaml:"vim_endpoint" json:"vim_endpoint"`
	CoreTotal   int    `yaml:"core_total" json:"core_total"`
	CoreUsed    int    `yaml:"core_used" json:"core_used"`
	MemoryTotal int    `yaml:"memory_total" json:"memory_total"`
	MemoryUsed  int    `yaml:"memory_used" json:"memory_used"`
	VIMDomain   string `yaml:"vim_domain,omitempty" json:"vim_domain,omitempty"`
}

// PlaceFunction is one entry of a placement request's functions: the SLM
// ledger entry of a function (§5.1).
type PlaceFunction struct {
	ID string `yaml:"id" json:"id"`
	// VNFID is manoctl's addition (the network function the instance
	// belongs to), for affinity rules; the 2017 SLM did not send it.
	VNFID     string         `yaml:"vnf_id,omitempty" json:"vnf_id,omitempty"`
	VNFD      descriptor.Doc `yaml:"vnfd" json:"vnfd"`
	Start     Trigger        `yaml:"start" json:"start"`
	Stop      Trigger        `yaml:"stop" json:"stop"`
	Configure Trigger        `yaml:"configure" json:"configure"`
	Scale     Trigger        `yaml:"scale" json:"scale"`
}

// NAPs is the nap key of placement, chaining and WAN requests; absent lists
// are omitted as the SLM omits them.
type NAPs struct {
	Ingresses []NAP `yaml:"ingresses,omitempty" json:"ingresses,omitempty"`
	Egresses  []NAP `yaml:"egresses,omitempty" json:"egresses,omitempty"`
}

// Empty reports whether neither list is set.
func (n NAPs) Empty() bool { return len(n.Ingresses) == 0 && len(n.Egresses) == 0 }

// PlaceRequest is SLM -> placement on mano.service.place (§5.1), with the
// 2018 policy keys (§5.4) that manoctl's placement plugin reads.
type PlaceRequest struct {
	NSD              descriptor.Doc    `yaml:"nsd" json:"nsd"`
	Functions        []PlaceFunction   `yaml:"functions" json:"functions"`
	Topology         []VIMResources    `yaml:"topology" json:"topology"`
	ServID           string            `yaml:"serv_id" json:"serv_id"`
	NAP              NAPs              `yaml:"nap" json:"nap"`
	OperatorPolicies *OperatorPolicies `yaml:"operator_policies,omitempty" json:"operator_policies,omitempty"`
	CustomerPolicies *CustomerPolicies `yaml:"customer_policies,omitempty" json:"customer_policies,omitempty"`
	// Constraints is manoctl's extension: VNF affinity and VIM allow
	// lists, from the manifest's placement section.
	Constraints *PlacementConstraints `yaml:"constraints,omitempty" json:"constraints,omitempty"`
}

// OperatorPolicies is the 2018 operator placement policy.
type OperatorPolicies struct {
	Policy     string   `yaml:"policy" json:"policy"`
	PolicyList []string `yaml:"policy_list,omitempty" json:"policy_list,omitempty"`
}

// CustomerPolicies is the 2018 customer placement policy.
type CustomerPolicies struct {
	Blacklist []string `yaml:"blacklist,omitempty" json:"blacklist,omitempty"`
}

// PlacementConstraints is manoctl's placement extension.
type PlacementConstraints struct {
	AllowedVIMs  []string    `yaml:"allowed_vims,omitempty" json:"allowed_vims,omitempty"`
	Affinity     [][2]string `yaml:"affinity,omitempty" json:"affinity,omitempty"`
	AntiAffinity [][2]string `yaml:"anti_affinity,omitempty" json:"anti_affinity,omitempty"`
}

// VIMRef is a placement mapping value.
type VIMRef struct {
	VIM string `yaml:"vim" json:"vim"`
}

// PlaceReply is placement -> SLM: {mapping, error} (§5.1, §14.5 L3).
type PlaceReply struct {
	Mapping map[string]VIMRef `yaml:"mapping" json:"mapping"`
	Error   any               `yaml:"error" json:"error"`
	// Status is set by placement SSMs (§5.3).
	Status string `yaml:"status,omitempty" json:"status,omitempty"`
}
