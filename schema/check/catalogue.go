package check

import (
	"slices"

	"github.com/manoctl/manoctl/schema"
)

// Check describes one check of the catalogue.
type Check struct {
	// Code is stable: son-validate's evt_* event id where son-validate had
	// the check; manoctl's own are dotted, "integrity.<problem>", like the
	// loader's "load.<problem>" (schema/codes.go).
	Code string
	// Level is the validation level that runs the check.
	Level schema.Level
	// Severity is the default severity; SeverityNone when the check is off
	// unless Options.Levels switches it on.
	Severity schema.Severity
	// Summary says what the check finds.
	Summary string
}

// Checks returns the catalogue, integrity checks first, each level's
// son-validate checks before manoctl's own.
func Checks() []Check { return slices.Clone(catalogue) }

const (
	itg = schema.LevelIntegrity
	top = schema.LevelTopology

	sevError   = schema.SeverityError
	sevWarning = schema.SeverityWarning
	sevInfo    = schema.SeverityInfo
)

// Codes, named once so that a typo is a compile error.
const (
	// son-validate, service integrity (§9.5).
	codeFunctionUnavailable = "evt_nsd_itg_function_unavailable"
	codeFunctionInvalid     = "evt_nsd_itg_function_invalid"
	codeNSDBadCPs           = "evt_nsd_itg_badsection_cpoints"
	codeNSDBadLinks         = "evt_nsd_itg_badsection_vlinks"
	codeDuplicateCP         = "evt_duplicate_cpoint"
	codeInvalidCP           = "evt_invalid_cpoint"
	codeInvalidLink         = "evt_invalid_vlink"
	codeDuplicateLink       = "evt_duplicate_vlink"
	codeInvalidCPRef        = "evt_invalid_cpoint_ref"
	codeNSDUndeclaredCP     = "evt_nsd_itg_undeclared_cpoint"
	codeNSDUnusedCP         = "evt_nsd_itg_unused_cpoint"
	codeNSDUndefinedCP      = "evt_nsd_itg_undefined_cpoint"

	// son-validate, function integrity (§9.6).
	codeVNFDBadCPs       = "evt_vnfd_itg_badsection_cpoints"
	codeVNFDBadVDUs      = "evt_vnfd_itg_badsection_vdus"
	codeVDUBadCPs        = "evt_vnfd_itg_vdu_badsection_cpoints"
	codeVNFDBadLinks     = "evt_vnfd_itg_badsection_vlinks"
	codeVNFDUndeclaredCP = "evt_vnfd_itg_undeclared_cpoint"
	codeVNFDUnusedCP     = "evt_vnfd_itg_unused_cpoint"
	codeVNFDUndefinedCP  = "evt_vnfd_itg_undefined_cpoint"

	// son-validate, topology (§9.7).
	codeDisconnected  = "evt_nsd_top_topgraph_disconnected"
	codeFGUnavailable = "evt_nsd_top_fwgraph_unavailable"
	codeFGBadSection  = "evt_nsd_top_badsection_fwgraph"
	codeFGCPUndefined = "evt_nsd_top_fwgraph_cpoint_undefined"
	codeFGPositionDup = "evt_nsd_top_fwgraph_position_duplicate"
	codeFGOdd         = "evt_nsd_top_fwgraph_cpoints_odd"
	codeFPInvalid     = "evt_nsd_top_fwpath_invalid"
	codeFPInsideVNF   = "evt_nsd_top_fwpath_inside_vnf"
	codeFPDisrupted   = "evt_nsd_top_fwpath_disrupted"
	codeFGCycles      = "evt_nsd_top_fwgraph_cycles"

	// manoctl (§11).
	codeIDWhitespace     = "integrity.id_whitespace"
	codeIDInvalid        = "integrity.id_invalid"
	codeDuplicateID      = "integrity.duplicate_id"
	codeLinkDuplicateRef = "integrity.vlink_duplicate_ref"
	codeETreeInvalid     = "integrity.etree_invalid"
	codeVNFDAmbiguous    = "integrity.vnfd_ambiguous"
	codeVDUImageMissing  = "integrity.vdu_image_missing"
	codeVDUCPUnused      = "integrity.vdu_cp_unused"
	codeVNFCPUnwired     = "integrity.vnf_cp_unwired"
	codeMgmtOnDataLink   = "integrity.mgmt_cp_on_data_link"
	codeMonitoringParam  = "integrity.monitoring_param_undefined"
	codeFGLinkCount      = "integrity.fwgraph_vlink_count"
	codeFGVNFUndefined   = "integrity.fwgraph_vnf_undefined"
	codeFGLinkUndefined  = "integrity.fwgraph_vlink_undefined"
	codeScaleInOut       = "integrity.scale_in_out"
	codeSizeImplausible  = "integrity.size_implausible"
	codeSMID             = "integrity.sm_id"
	codeSMType           = "integrity.sm_type"
	codeExternalRef      = "integrity.external_reference"
)

// catalogue lists every check. son-validate's evt_vnfd_itg_vdu_image_not_found
// (an HTTP HEAD on each vm_image URL) and the two topgraph_failed events
// (the graph cannot fail to build here) are not part of it.
var catalogue = []Check{
	// Integrity, son-validate (§9.5, §9.6).
	{codeFunctionUnavailable, itg, sevError, "an NSD has no network_functions section, or a network function's VNFD (vendor/name/version) is not among the inputs; reported once per missing VNFD"},
	{codeFunctionInvalid, itg, sevError, "a VNFD that an NSD uses has errors of its own, or failed an earlier level; reported once per VNFD"},
	{codeNSDBadCPs, itg, sevError, "an NSD has no connection_points section"},
	{codeNSDBadLinks, itg, sevError, "an NSD has no virtual_links section"},
	{codeDuplicateCP, itg, sevError, "a connection-point id is declared twice in one scope (NS, VNF, one VDU)"},
	{codeInvalidCP, itg, sevError, "a connection-point id contains the reserved separator ':' or is empty"},
	{codeInvalidLink, itg, sevError, "a virtual link has an empty id, an E-Line does not have exactly 2 references, or an E-LAN has none"},
	{codeDuplicateLink, itg, sevError, "a virtual-link id is used twice in one descriptor"},
	{codeInvalidCPRef, itg, sevError, "a connection-point reference contains more than one ':'"},
	{codeNSDUndeclaredCP, itg, sevError, "an NSD link references a bare connection point the NSD does not declare, or vnf_id:cp where that VNF has no such connection point"},
	{codeNSDUnusedCP, itg, sevWarning, "an NSD connection point is referenced by no virtual link"},
	{codeNSDUndefinedCP, itg, sevError, "an NSD link references vnf_id:cp with a vnf_id that is not one of its network functions"},
	{codeVNFDBadCPs, itg, sevError, "a VNFD has no connection_points section"},
	{codeVNFDBadVDUs, itg, sevError, "a VNFD has no virtual deployment units"},
	{codeVDUBadCPs, itg, sevError, "a VDU has no connection_points section (son-validate crashed on it)"},
	{codeVNFDBadLinks, itg, sevError, "a VNFD has no virtual_links section"},
	{codeVNFDUndeclaredCP, itg, sevError, "a VNFD link references a bare connection point the VNF does not declare, or vdu_id:cp where that VDU has no such connection point"},
	{codeVNFDUnusedCP, itg, sevWarning, "a VNF connection point is referenced by no VNF virtual link"},
	{codeVNFDUndefinedCP, itg, sevError, "a VNFD link references unit_id:cp with a unit id that is not one of its VDUs"},

	// Integrity, manoctl (§11).
	{codeIDWhitespace, itg, sevError, "an id or reference has whitespace or invisible characters; ids are compared exactly"},
	{codeIDInvalid, itg, sevError, "a VDU id or vnf_id is empty or contains ':', which makes it impossible to reference"},
	{codeDuplicateID, itg, sevError, "a VDU id, vnf_id, fg_id, fp_id or specific-manager id is used twice in its scope"},
	{codeLinkDuplicateRef, itg, sevError, "a virtual link lists the same connection point twice"},
	{codeETreeInvalid, itg, sevError, "an E-Tree link has fewer than 2 references (a root and at least one leaf)"},
	{codeVNFDAmbiguous, itg, sevWarning, "several input documents provide the VNFD a network function names; the first is used"},
	{codeVDUImageMissing, itg, sevError, "a VDU has no vm_image (son-validate crashed on it; nothing can be deployed)"},
	{codeVDUCPUnused, itg, sevWarning, "connection points of a VDU are referenced by no VNF virtual link; one finding per VDU"},
	{codeVNFCPUnwired, itg, sevWarning, "a VNF connection point is linked, but no link joins it to a VDU connection point"},
	{codeMgmtOnDataLink, itg, sevWarning, "a management connection point is attached to an E-Line (data) link of the service"},
	{codeMonitoringParam, itg, sevWarning, "a monitoring rule condition names vdu_id:parameter that no VDU defines"},
	{codeFGLinkCount, itg, sevWarning, "a forwarding graph's number_of_virtual_links differs from the length of constituent_virtual_links"},
	{codeFGVNFUndefined, itg, sevError, "a forwarding graph's constituent_vnfs names an unknown vnf_id"},
	{codeFGLinkUndefined, itg, sevError, "a forwarding graph's constituent_virtual_links names an unknown virtual link"},
	{codeScaleInOut, itg, sevError, "a VDU's scale_in_out minimum exceeds its maximum (maximum 0 means unlimited)"},
	{codeSizeImplausible, itg, sevWarning, "a VDU memory or storage size is implausible for its unit (size: 2 without size_unit is 2 MB)"},
	{codeSMID, itg, sevWarning, "a specific manager's id is not of the form son<ssm|fsm><service>[<function>]<name><digits>"},
	{codeSMType, itg, sevWarning, "a specific manager has no option {key: type} or an unknown type; the MANO never starts it"},
	{codeExternalRef, itg, sevInfo, "a virtual link or forwarding graph refers to an external descriptor, which is not checked"},

	// Topology, son-validate (§9.7).
	{codeDisconnected, top, sevWarning, "the service graph (E-Line links plus VNF-internal connectivity) is not connected"},
	{codeFGUnavailable, top, SeverityNone, "an NSD has no forwarding_graphs section (an error before 2017-12-01)"},
	{codeFGBadSection, top, sevError, "a forwarding path cannot be read: an entry without connection_point_ref or position, a path without fp_id (son-validate crashed on these)"},
	{codeFGCPUndefined, top, sevError, "a forwarding-path connection point does not exist"},
	{codeFGPositionDup, top, sevWarning, "two entries of a forwarding path share a position; the later one wins"},
	{codeFGOdd, top, sevWarning, "a forwarding path has an odd number of connection points (paths are read as pairs)"},
	{codeFPInvalid, top, sevError, "a pair of a forwarding path is not adjacent in the service graph"},
	{codeFPInsideVNF, top, sevError, "a pair of a forwarding path joins two connection points of the same VNF"},
	{codeFPDisrupted, top, sevError, "a pair of a forwarding path does not start where the previous pair ended"},
	{codeFGCycles, top, sevWarning, "the function-level graph of a forwarding graph's paths has a cycle through 3 or more nodes; one finding per cycle"},
}

var catalogueByCode = func() map[string]*Check {
	m := make(map[string]*Check, len(catalogue))
	for i := range catalogue {
		m[catalogue[i].Code] = &catalogue[i]
	}
	return m
}()
