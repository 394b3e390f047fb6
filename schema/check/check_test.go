package check

import (
	"slices"
	"strings"
	"testing"

	"github.com/manoctl/manoctl/schema"
)

// TestChecks runs each check on small inline documents: the base fixtures
// are correct, and each case breaks one thing and lists every finding it
// expects ("file code pointer"), so that a missing and an extra finding
// both fail.
func TestChecks(t *testing.T) {
	v, n := baseVNFD, baseNSD
	tests := []struct {
		name   string
		level  schema.Level // LevelTopology when zero
		opts   Options
		inputs []input
		want   []string
		// msg, when set, must occur in the message of some finding.
		msg string
		// failed names the input to mark in Options.Failed.
		failed string
	}{
		// Correct documents.
		{name: "valid VNFD and NSD", inputs: []input{vnfd(v), nsd(n)}},
		{name: "valid chain of two functions", inputs: []input{vnfd(v), nsd(chainNSD)}},

		// VNFD: connection points.
		{
			name:   "2016-style VDU cp ids resolve by their full id",
			inputs: []input{vnfd(patch(t, v, "{id: eth1,", `{id: "vdu01:eth1",`))},
			want:   []string{"fw.yml evt_invalid_cpoint /virtual_deployment_units/0/connection_points/1/id"},
			msg:    `use "eth1"`,
		},
		{
			name: "2016-style VDU cp ids under another VDU id",
			inputs: []input{vnfd(patch(t, v, "- id: vdu01\n", "- id: \"1\"\n",
				"{id: eth0,", `{id: "vdu01:eth0",`, "{id: eth1,", `{id: "vdu01:eth1",`, "{id: eth2,", `{id: "vdu01:eth2",`,
				"vdu01:vm_cpu_perc", "1:vm_cpu_perc"))},
			want: []string{
				"fw.yml evt_invalid_cpoint /virtual_deployment_units/0/connection_points/0/id",
				"fw.yml evt_invalid_cpoint /virtual_deployment_units/0/connection_points/1/id",
				"fw.yml evt_invalid_cpoint /virtual_deployment_units/0/connection_points/2/id",
			},
		},
		{
			name:   "2016-style VNF cp id: the reference names an unknown unit",
			inputs: []input{vnfd(patch(t, v, "{id: input,", `{id: "vnf:input",`, `"vdu01:eth1", input]`, `"vdu01:eth1", "vnf:input"]`))},
			want: []string{
				"fw.yml evt_invalid_cpoint /connection_points/1/id",
				"fw.yml evt_vnfd_itg_undefined_cpoint /virtual_links/1/connection_points_reference/1",
			},
			msg: "reserved",
		},
		{
			name:   "duplicate VNF cp",
			inputs: []input{vnfd(patch(t, v, "  - {id: output, interface: ipv4, type: external}", "  - {id: output, interface: ipv4, type: external}\n  - {id: input, interface: ipv4, type: external}"))},
			want:   []string{"fw.yml evt_duplicate_cpoint /connection_points/3/id"},
			msg:    "first at /connection_points/1",
		},
		{
			name:   "duplicate VDU cp",
			inputs: []input{vnfd(patch(t, v, "{id: eth2,", "{id: eth1,"))},
			want: []string{
				"fw.yml evt_duplicate_cpoint /virtual_deployment_units/0/connection_points/2/id",
				"fw.yml evt_vnfd_itg_undeclared_cpoint /virtual_links/2/connection_points_reference/0",
			},
		},
		{
			name:   "same cp id in two scopes is fine",
			inputs: []input{vnfd(patch(t, v, "{id: eth0,", "{id: mgmt,", `"vdu01:eth0"`, `"vdu01:mgmt"`))},
		},
		{
			name:   "empty cp id",
			inputs: []input{vnfd(patch(t, v, "{id: output,", `{id: "",`))},
			want: []string{
				"fw.yml evt_invalid_cpoint /connection_points/2/id",
				"fw.yml evt_vnfd_itg_undeclared_cpoint /virtual_links/2/connection_points_reference/1",
			},
		},
		{
			name:   "undeclared bare reference",
			inputs: []input{vnfd(patch(t, v, `["vdu01:eth0", mgmt]`, `["vdu01:eth0", mgmt, nosuch]`))},
			want:   []string{"fw.yml evt_vnfd_itg_undeclared_cpoint /virtual_links/0/connection_points_reference/2"},
			msg:    `VNF connection points: "mgmt", "input", "output"`,
		},
		{
			name:   "unknown VDU cp",
			inputs: []input{vnfd(patch(t, v, `"vdu01:eth2"`, `"vdu01:eth9"`))},
			want: []string{
				"fw.yml evt_vnfd_itg_undeclared_cpoint /virtual_links/2/connection_points_reference/0",
				"fw.yml integrity.vdu_cp_unused /virtual_deployment_units/0/connection_points/2/id",
			},
		},
		{
			name:   "unknown VDU",
			inputs: []input{vnfd(patch(t, v, `"vdu01:eth2"`, `"vdu02:eth2"`))},
			want: []string{
				"fw.yml evt_vnfd_itg_undefined_cpoint /virtual_links/2/connection_points_reference/0",
				"fw.yml integrity.vdu_cp_unused /virtual_deployment_units/0/connection_points/2/id",
			},
			msg: `"vdu02" is not a VDU of this VNF`,
		},
		{
			name:   "reference with two colons",
			inputs: []input{vnfd(patch(t, v, `["vdu01:eth0", mgmt]`, `["vdu01:eth0", mgmt, "a:b:c"]`))},
			want:   []string{"fw.yml evt_invalid_cpoint_ref /virtual_links/0/connection_points_reference/2"},
		},
		{
			name:   "unused VNF cp",
			inputs: []input{vnfd(patch(t, v, "connection_points:\n  - {id: mgmt,", "connection_points:\n  - {id: spare, interface: ipv4, type: external}\n  - {id: mgmt,"))},
			want:   []string{"fw.yml evt_vnfd_itg_unused_cpoint /connection_points/0/id"},
		},
		{
			name: "unused cps of a VDU: one finding per VDU",
			inputs: []input{vnfd(patch(t, v, "virtual_deployment_units:\n", `virtual_deployment_units:
  - id: spare
    vm_image: spare.qcow2
    connection_points: [{id: a, interface: ipv4, type: internal}, {id: b, interface: ipv4, type: internal}]
`))},
			want: []string{"fw.yml integrity.vdu_cp_unused /virtual_deployment_units/0/connection_points/0/id"},
			msg:  `VDU "spare" ("a", "b"): the VDU is not wired`,
		},
		{
			name:   "VNF cp linked but not to a VDU",
			inputs: []input{vnfd(patch(t, v, "  - {id: mgmt, interface: ipv4, type: management}", "  - {id: mgmt, interface: ipv4, type: management}\n  - {id: aux, interface: ipv4, type: external}", "virtual_links:\n", "virtual_links:\n  - {id: loop, connectivity_type: E-Line, connection_points_reference: [aux, mgmt]}\n"))},
			want:   []string{"fw.yml integrity.vnf_cp_unwired /connection_points/1/id"},
		},
		{
			name:   "whitespace in a cp id is reported once and resolved trimmed",
			inputs: []input{vnfd(patch(t, v, "{id: output,", `{id: "output   ",`))},
			want:   []string{"fw.yml integrity.id_whitespace /connection_points/2/id"},
			msg:    "3 × U+0020 SPACE at the end",
		},
		{
			name:   "invisible character in a reference is named",
			inputs: []input{vnfd(patch(t, v, `"vdu01:eth2", output]`, `"vdu01:eth2", "\u200boutput"]`))},
			want:   []string{"fw.yml integrity.id_whitespace /virtual_links/2/connection_points_reference/1"},
			msg:    "U+200B ZERO WIDTH SPACE at the start",
		},
		{
			name:   "inner whitespace does not resolve",
			inputs: []input{vnfd(patch(t, v, `"vdu01:eth2", output]`, `"vdu01:eth2", "out put"]`))},
			want: []string{
				"fw.yml evt_vnfd_itg_undeclared_cpoint /virtual_links/2/connection_points_reference/1",
				"fw.yml evt_vnfd_itg_unused_cpoint /connection_points/2/id",
				"fw.yml integrity.id_whitespace /virtual_links/2/connection_points_reference/1",
			},
		},

		// VNFD: sections and VDUs.
		{
			name:   "no VNF connection_points section: references into it are not reported",
			inputs: []input{vnfd(patch(t, v, "connection_points:\n  - {id: mgmt, interface: ipv4, type: management}\n  - {id: input, interface: ipv4, type: external}\n  - {id: output, interface: ipv4, type: external}\n", ""))},
			want:   []string{"fw.yml evt_vnfd_itg_badsection_cpoints "},
		},
		{
			name:   "no virtual_links section: no unused findings",
			inputs: []input{vnfd(v[:strings.Index(v, "virtual_links:")])},
			want:   []string{"fw.yml evt_vnfd_itg_badsection_vlinks "},
		},
		{
			name:   "no VDUs: unit references and monitoring rules are not reported",
			inputs: []input{vnfd(patch(t, v, "virtual_deployment_units:", "virtual_deployment_unitsX:"))},
			want:   []string{"fw.yml evt_vnfd_itg_badsection_vdus "},
		},
		{
			name:   "empty VDU list",
			inputs: []input{vnfd(patch(t, v, "virtual_deployment_units:\n", "virtual_deployment_units: []\nx:\n"))},
			want:   []string{"fw.yml evt_vnfd_itg_badsection_vdus /virtual_deployment_units"},
		},
		{
			name:   "VDU without connection points (son-validate crashed)",
			inputs: []input{vnfd(patch(t, v, "    connection_points:\n      - {id: eth0", "    connection_pointsX:\n      - {id: eth0"))},
			want:   []string{"fw.yml evt_vnfd_itg_vdu_badsection_cpoints /virtual_deployment_units/0"},
		},
		{
			name:   "VDU without vm_image (son-validate crashed)",
			inputs: []input{vnfd(patch(t, v, "    vm_image: fw.qcow2\n", ""))},
			want:   []string{"fw.yml integrity.vdu_image_missing /virtual_deployment_units/0"},
		},
		{
			name: "VDU ids: empty, with colon, duplicate",
			inputs: []input{vnfd(patch(t, v, "virtual_deployment_units:\n", `virtual_deployment_units:
  - {id: "", vm_image: x}
  - {id: "a:b", vm_image: x}
  - {id: vdu01, vm_image: x}
`))},
			want: []string{
				"fw.yml evt_vnfd_itg_vdu_badsection_cpoints /virtual_deployment_units/0",
				"fw.yml evt_vnfd_itg_vdu_badsection_cpoints /virtual_deployment_units/1",
				"fw.yml evt_vnfd_itg_vdu_badsection_cpoints /virtual_deployment_units/2",
				"fw.yml integrity.duplicate_id /virtual_deployment_units/3/id",
				"fw.yml integrity.id_invalid /virtual_deployment_units/0/id",
				"fw.yml integrity.id_invalid /virtual_deployment_units/1/id",
				// The rule now names the first vdu01, which has no parameters.
				"fw.yml integrity.monitoring_param_undefined /monitoring_rules/0/condition",
			},
		},
		{
			name:   "scale_in_out minimum above maximum",
			inputs: []input{vnfd(patch(t, v, "{minimum: 1, maximum: 2}", "{minimum: 3, maximum: 2}"))},
			want:   []string{"fw.yml integrity.scale_in_out /virtual_deployment_units/0/scale_in_out"},
		},
		{
			name:   "scale_in_out maximum defaults to 1",
			inputs: []input{vnfd(patch(t, v, "{minimum: 1, maximum: 2}", "{minimum: 2}"))},
			want:   []string{"fw.yml integrity.scale_in_out /virtual_deployment_units/0/scale_in_out"},
			msg:    "maximum defaults to 1",
		},
		{
			name:   "scale_in_out maximum 0 is unlimited",
			inputs: []input{vnfd(patch(t, v, "{minimum: 1, maximum: 2}", "{minimum: 5, maximum: 0}"))},
		},
		{
			name:   "memory without unit is MB",
			inputs: []input{vnfd(patch(t, v, "memory: {size: 1, size_unit: GB}", "memory: {size: 2}"))},
			want:   []string{"fw.yml integrity.size_implausible /virtual_deployment_units/0/resource_requirements/memory/size"},
			msg:    "did you mean size_unit: GB",
		},
		{
			name:   "storage too small for its unit",
			inputs: []input{vnfd(patch(t, v, "storage: {size: 10, size_unit: GB}", "storage: {size: 10, size_unit: kB}"))},
			want:   []string{"fw.yml integrity.size_implausible /virtual_deployment_units/0/resource_requirements/storage/size"},
		},
		{
			name:   "memory too large for its unit",
			inputs: []input{vnfd(patch(t, v, "memory: {size: 1, size_unit: GB}", "memory: {size: 4096, size_unit: GB}"))},
			want:   []string{"fw.yml integrity.size_implausible /virtual_deployment_units/0/resource_requirements/memory/size"},
			msg:    "4.096 TB",
		},
		{
			name:   "monitoring rule names an undefined parameter",
			inputs: []input{vnfd(patch(t, v, `"vdu01:vm_cpu_perc > 85"`, `"vdu01:vm_mem_perc > 85 or vdu09:x < 1"`))},
			want: []string{
				"fw.yml integrity.monitoring_param_undefined /monitoring_rules/0/condition",
				"fw.yml integrity.monitoring_param_undefined /monitoring_rules/0/condition",
			},
			msg: `VDU "vdu01" defines no monitoring parameter "vm_mem_perc" (it defines: "vm_cpu_perc")`,
		},
		{
			name: "FSM: id form, missing and unknown type, duplicate",
			inputs: []input{vnfd(patch(t, v, "function_specific_managers:\n", `function_specific_managers:
  - {id: fsm01, image: x, options: [{key: myKey, value: v}]}
  - {id: sonfsmservice1fwconfig1, image: x, options: [{key: type, value: launch}]}
`))},
			want: []string{
				"fw.yml integrity.duplicate_id /function_specific_managers/2/id",
				"fw.yml integrity.sm_id /function_specific_managers/0/id",
				"fw.yml integrity.sm_type /function_specific_managers/0",
				"fw.yml integrity.sm_type /function_specific_managers/1/options",
			},
		},

		// VNFD: virtual links.
		{
			name:   "E-Line with three references",
			inputs: []input{vnfd(patch(t, v, `["vdu01:eth1", input]`, `["vdu01:eth1", input, mgmt]`))},
			want:   []string{"fw.yml evt_invalid_vlink /virtual_links/1/connection_points_reference"},
			msg:    "exactly 2",
		},
		{
			name:   "E-LAN without references",
			inputs: []input{vnfd(patch(t, v, "virtual_links:\n", "virtual_links:\n  - {id: empty, connectivity_type: E-LAN, connection_points_reference: []}\n"))},
			want:   []string{"fw.yml evt_invalid_vlink /virtual_links/0/connection_points_reference"},
		},
		{
			name:   "E-Tree with one reference, and its references resolved",
			inputs: []input{vnfd(patch(t, v, "virtual_links:\n", "virtual_links:\n  - {id: tree, connectivity_type: E-Tree, connection_points_reference: [nosuch]}\n"))},
			want: []string{
				"fw.yml evt_vnfd_itg_undeclared_cpoint /virtual_links/0/connection_points_reference/0",
				"fw.yml integrity.etree_invalid /virtual_links/0/connection_points_reference",
			},
		},
		{
			name:   "connectivity type is read case-insensitively, as son-validate did",
			inputs: []input{vnfd(patch(t, v, `{id: input, connectivity_type: E-Line, connection_points_reference: ["vdu01:eth1", input]}`, `{id: input, connectivity_type: e-line, connection_points_reference: ["vdu01:eth1", input, output]}`))},
			want:   []string{"fw.yml evt_invalid_vlink /virtual_links/1/connection_points_reference"},
		},
		{
			name:   "empty and duplicate link ids",
			inputs: []input{vnfd(patch(t, v, "{id: mgmt, connectivity_type: E-LAN", `{id: "", connectivity_type: E-LAN`, "{id: output, connectivity_type", "{id: input, connectivity_type"))},
			want: []string{
				"fw.yml evt_duplicate_vlink /virtual_links/2/id",
				"fw.yml evt_invalid_vlink /virtual_links/0/id",
			},
		},
		{
			name:   "the same reference twice in one link",
			inputs: []input{vnfd(patch(t, v, `["vdu01:eth0", mgmt]`, `["vdu01:eth0", mgmt, mgmt]`))},
			want:   []string{"fw.yml integrity.vlink_duplicate_ref /virtual_links/0/connection_points_reference/2"},
		},

		// NSD: functions.
		{
			name: "missing VNFD reported once for all its vnf_ids, references taken on trust",
			inputs: []input{nsd(patch(t, n, "  - {vnf_id: vnf_fw,", `  - {vnf_id: vnf_fw2, vnf_vendor: eu.test, vnf_name: fw, vnf_version: "0.3"}
  - {vnf_id: vnf_fw,`, `vnf_version: "0.1"}`, `vnf_version: "0.3"}`))},
			want: []string{"nsd.yml evt_nsd_itg_function_unavailable /network_functions/0"},
			msg:  "VNFD eu.test.fw.0.3 (vnf_ids vnf_fw2, vnf_fw) not among the inputs (looked in the loose input files)",
		},
		{
			name:   "no network_functions section",
			inputs: []input{nsd(patch(t, n, "network_functions:", "network_functionsX:"))},
			want:   []string{"nsd.yml evt_nsd_itg_function_unavailable "},
		},
		{
			name:   "VNFD with errors makes the NSD fail, once per VNFD",
			inputs: []input{vnfd(patch(t, v, `"vdu01:eth2"`, `"vdu02:eth2"`)), nsd(chainNSD)},
			want: []string{
				"fw.yml evt_vnfd_itg_undefined_cpoint /virtual_links/2/connection_points_reference/0",
				"fw.yml integrity.vdu_cp_unused /virtual_deployment_units/0/connection_points/2/id",
				"nsd.yml evt_nsd_itg_function_invalid /network_functions/0",
			},
			msg: "has 1 integrity error(s) of its own",
		},
		{
			name:   "a VNFD error downgraded by Levels does not fail the NSD",
			opts:   Options{Levels: map[string]schema.Severity{codeVNFDUndefinedCP: schema.SeverityWarning}},
			inputs: []input{vnfd(patch(t, v, `"vdu01:eth2"`, `"vdu02:eth2"`)), nsd(n)},
			want: []string{
				"fw.yml evt_vnfd_itg_undefined_cpoint /virtual_links/2/connection_points_reference/0",
				"fw.yml integrity.vdu_cp_unused /virtual_deployment_units/0/connection_points/2/id",
				// With the error downgraded, the VNFD's broken wiring is
				// taken as it is: input and output no longer meet.
				"nsd.yml evt_nsd_top_topgraph_disconnected /virtual_links",
			},
		},
		{
			name:   "a VNFD that failed syntax (Options.Failed) makes the NSD fail",
			inputs: []input{vnfd(v), nsd(n)},
			failed: "fw.yml",
			want:   []string{"nsd.yml evt_nsd_itg_function_invalid /network_functions/0"},
			msg:    "failed validation",
		},
		{
			name:   "two loose VNFDs with the triple: ambiguous, the first is used",
			inputs: []input{vnfd(v), vnfd(patch(t, v, "vdu01:eth2", "vdu02:eth2")).as("fw2.yml", ""), nsd(n)},
			want: []string{
				"fw2.yml evt_vnfd_itg_undefined_cpoint /virtual_links/2/connection_points_reference/0",
				"fw2.yml integrity.vdu_cp_unused /virtual_deployment_units/0/connection_points/2/id",
				"nsd.yml integrity.vnfd_ambiguous /network_functions/0",
			},
		},
		{
			name: "the package's own VNFD wins over loose ones",
			inputs: []input{
				vnfd(patch(t, v, "vdu01:eth2", "vdu02:eth2")).as("loose.yml", ""),
				vnfd(v).as("p.son:fw.yml", "p.son"),
				nsd(n).as("p.son:nsd.yml", "p.son"),
			},
			want: []string{
				"loose.yml evt_vnfd_itg_undefined_cpoint /virtual_links/2/connection_points_reference/0",
				"loose.yml integrity.vdu_cp_unused /virtual_deployment_units/0/connection_points/2/id",
			},
		},
		{
			name:   "a packaged NSD falls back to loose VNFDs",
			inputs: []input{vnfd(v).as("loose.yml", ""), nsd(n).as("p.son:nsd.yml", "p.son")},
		},
		{
			name:   "a loose NSD does not see inside packages",
			inputs: []input{vnfd(v).as("p.son:fw.yml", "p.son"), nsd(n)},
			want:   []string{"nsd.yml evt_nsd_itg_function_unavailable /network_functions/0"},
		},
		{
			name: "vnf_version >= picks the highest satisfying version",
			inputs: []input{
				vnfd(patch(t, v, "vdu01:eth2", "vdu02:eth2")).as("old.yml", ""),
				vnfd(patch(t, v, `version: "0.1"`, `version: "0.10"`)).as("new.yml", ""),
				vnfd(patch(t, v, `version: "0.1"`, `version: "0.9"`)).as("mid.yml", ""),
				nsd(patch(t, n, `vnf_version: "0.1"`, `vnf_version: ">= 0.1"`)),
			},
			want: []string{
				"old.yml evt_vnfd_itg_undefined_cpoint /virtual_links/2/connection_points_reference/0",
				"old.yml integrity.vdu_cp_unused /virtual_deployment_units/0/connection_points/2/id",
			},
		},
		{
			name: "vnf_version != excludes a version",
			inputs: []input{
				vnfd(patch(t, v, "vdu01:eth2", "vdu02:eth2")).as("old.yml", ""),
				vnfd(patch(t, v, `version: "0.1"`, `version: "0.2"`)).as("new.yml", ""),
				nsd(patch(t, n, `vnf_version: "0.1"`, `vnf_version: "!= 0.2"`)),
			},
			want: []string{
				"nsd.yml evt_nsd_itg_function_invalid /network_functions/0",
				"old.yml evt_vnfd_itg_undefined_cpoint /virtual_links/2/connection_points_reference/0",
				"old.yml integrity.vdu_cp_unused /virtual_deployment_units/0/connection_points/2/id",
			},
		},
		{
			name:   "vnf_version constraint nobody satisfies",
			inputs: []input{vnfd(v), nsd(patch(t, n, `vnf_version: "0.1"`, `vnf_version: "<= 0.0"`))},
			want:   []string{"nsd.yml evt_nsd_itg_function_unavailable /network_functions/0"},
			msg:    "eu.test.fw with version <= 0.0",
		},
		{
			name:   "unquoted version 1.0 matches a quoted \"1.0\"",
			inputs: []input{vnfd(patch(t, v, `version: "0.1"`, `version: "1.0"`)), nsd(patch(t, n, `vnf_version: "0.1"`, `vnf_version: 1.0`))},
		},
		{
			name: "vnf_id: duplicate and with colon",
			inputs: []input{vnfd(v), nsd(patch(t, n, "  - {vnf_id: vnf_fw,", `  - {vnf_id: "x:y", vnf_vendor: eu.test, vnf_name: fw, vnf_version: "0.1"}
  - {vnf_id: vnf_fw, vnf_vendor: eu.test, vnf_name: fw, vnf_version: "0.1"}
  - {vnf_id: vnf_fw,`))},
			want: []string{
				"nsd.yml integrity.duplicate_id /network_functions/2/vnf_id",
				"nsd.yml integrity.id_invalid /network_functions/0/vnf_id",
			},
		},

		// NSD: connection points and links.
		{
			name:   "NS cp with colon is referenced as an unknown vnf_id",
			inputs: []input{vnfd(v), nsd(patch(t, n, "{id: output,", `{id: "ns:output",`, `"vnf_fw:output", output]`, `"vnf_fw:output", "ns:output"]`, "connection_point_ref: output,", `connection_point_ref: "ns:output",`))},
			want: []string{
				"nsd.yml evt_invalid_cpoint /connection_points/2/id",
				"nsd.yml evt_nsd_itg_undefined_cpoint /virtual_links/2/connection_points_reference/1",
				"nsd.yml evt_nsd_top_fwgraph_cpoint_undefined /forwarding_graphs/0/network_forwarding_paths/0/connection_points/3/connection_point_ref",
			},
		},
		{
			name:   "VNF lacks the referenced cp: undeclared, with a hint for 2016 prefixes",
			inputs: []input{vnfd(patch(t, v, "{id: output,", `{id: "vnf:output",`, `"vdu01:eth2", output]`, `"vdu01:eth2", "vnf:output"]`)), nsd(n)},
			want: []string{
				"fw.yml evt_invalid_cpoint /connection_points/2/id",
				"fw.yml evt_vnfd_itg_undefined_cpoint /virtual_links/2/connection_points_reference/1",
				"nsd.yml evt_nsd_itg_function_invalid /network_functions/0",
				"nsd.yml evt_nsd_itg_undeclared_cpoint /virtual_links/2/connection_points_reference/0",
				"nsd.yml evt_nsd_top_fwgraph_cpoint_undefined /forwarding_graphs/0/network_forwarding_paths/0/connection_points/2/connection_point_ref",
			},
		},
		{
			name:   "VNFD without connection_points: the NSD's references into it are not reported",
			inputs: []input{vnfd(patch(t, v, "connection_points:\n  - {id: mgmt, interface: ipv4, type: management}\n  - {id: input, interface: ipv4, type: external}\n  - {id: output, interface: ipv4, type: external}\n", "")), nsd(n)},
			want: []string{
				"fw.yml evt_vnfd_itg_badsection_cpoints ",
				"nsd.yml evt_nsd_itg_function_invalid /network_functions/0",
			},
		},
		{
			name:   "unknown vnf_id in a link",
			inputs: []input{vnfd(v), nsd(patch(t, n, `"vnf_fw:mgmt", mgmt]`, `"vnf_fw:mgmt", mgmt, "vnf_x:mgmt"]`))},
			want:   []string{"nsd.yml evt_nsd_itg_undefined_cpoint /virtual_links/0/connection_points_reference/2"},
			msg:    `"vnf_x" is not the vnf_id of a network function of this service (vnf_ids: "vnf_fw")`,
		},
		{
			name:   "undeclared bare reference and unused NS cp",
			inputs: []input{vnfd(v), nsd(patch(t, n, `["vnf_fw:mgmt", mgmt]`, `["vnf_fw:mgmt", mgmtx]`))},
			want: []string{
				"nsd.yml evt_nsd_itg_undeclared_cpoint /virtual_links/0/connection_points_reference/1",
				"nsd.yml evt_nsd_itg_unused_cpoint /connection_points/0/id",
			},
		},
		{
			name: "no NS connection_points or virtual_links sections",
			inputs: []input{vnfd(v), nsd(patch(t, n, "connection_points:\n  - {id: mgmt", "connection_pointsX:\n  - {id: mgmt",
				"virtual_links:", "virtual_linksX:"))},
			want: []string{
				"nsd.yml evt_nsd_itg_badsection_cpoints ",
				"nsd.yml evt_nsd_itg_badsection_vlinks ",
			},
		},
		{
			name:   "management cp on an E-Line",
			inputs: []input{vnfd(v), nsd(patch(t, n, `{id: mgmt, connectivity_type: E-LAN, connection_points_reference: ["vnf_fw:mgmt", mgmt]}`, `{id: mgmt, connectivity_type: E-Line, connection_points_reference: ["vnf_fw:mgmt", mgmt]}`))},
			want: []string{
				"nsd.yml evt_nsd_top_topgraph_disconnected /virtual_links",
				"nsd.yml integrity.mgmt_cp_on_data_link /virtual_links/0/connection_points_reference/0",
			},
		},
		{
			name: "external link and graph references",
			inputs: []input{vnfd(v), nsd(patch(t, n, "virtual_links:\n", "virtual_links:\n  - {vl_group: g, vl_name: n, vl_version: \"1\"}\n",
				"forwarding_graphs:\n", "forwarding_graphs:\n  - {fg_group: g, fg_name: n, fg_version: \"1\"}\n"))},
			want: []string{
				"nsd.yml integrity.external_reference /forwarding_graphs/0",
				"nsd.yml integrity.external_reference /virtual_links/0",
			},
		},

		// NSD: forwarding-graph bookkeeping.
		{
			name: "forwarding-graph bookkeeping",
			inputs: []input{vnfd(v), nsd(patch(t, n, "constituent_virtual_links: [in, out]", "constituent_virtual_links: [in, out, nolink]",
				"constituent_vnfs: [vnf_fw]", "constituent_vnfs: [vnf_fw, novnf]",
				"      - fp_id: fp01\n", "      - fp_id: fp01\n        connection_points: []\n      - fp_id: fp01\n"))},
			want: []string{
				"nsd.yml integrity.duplicate_id /forwarding_graphs/0/network_forwarding_paths/1/fp_id",
				"nsd.yml integrity.fwgraph_vlink_count /forwarding_graphs/0/number_of_virtual_links",
				"nsd.yml integrity.fwgraph_vlink_undefined /forwarding_graphs/0/constituent_virtual_links/2",
				"nsd.yml integrity.fwgraph_vnf_undefined /forwarding_graphs/0/constituent_vnfs/1",
			},
		},
		{
			name:   "SSM without type",
			inputs: []input{vnfd(v), nsd(patch(t, n, "[{key: type, value: placement}]", "[{key: termination, value: \"true\"}]"))},
			want:   []string{"nsd.yml integrity.sm_type /service_specific_managers/0"},
			msg:    "the MANO starts only specific managers with a type",
		},

		// Topology.
		{
			name:   "topology findings need the topology level",
			level:  schema.LevelIntegrity,
			inputs: []input{vnfd(v), nsd(patch(t, n, "connection_point_ref: output, position: 4", "connection_point_ref: nosuch, position: 4"))},
		},
		{
			name:   "disconnected: the VNF does not connect input and output",
			inputs: []input{vnfd(patch(t, v, "{id: input, connectivity_type: E-Line", "{id: input, connectivity_type: E-LAN")), nsd(n)},
			want:   []string{"nsd.yml evt_nsd_top_topgraph_disconnected /virtual_links"},
			msg:    "2 separate parts ({input, vnf_fw:input} | {vnf_fw:output, output})",
		},
		{
			name:   "disconnected is not judged when a VNFD is missing",
			inputs: []input{nsd(n)},
			want:   []string{"nsd.yml evt_nsd_itg_function_unavailable /network_functions/0"},
		},
		{
			name: "forwarding path pairs that are not links",
			inputs: []input{vnfd(v), nsd(patch(t, n, `connection_point_ref: "vnf_fw:input", position: 2`, `connection_point_ref: "vnf_fw:output", position: 2`,
				`connection_point_ref: "vnf_fw:output", position: 3`, `connection_point_ref: "vnf_fw:input", position: 3`))},
			want: []string{
				"nsd.yml evt_nsd_top_fwpath_invalid /forwarding_graphs/0/network_forwarding_paths/0/connection_points/0",
				"nsd.yml evt_nsd_top_fwpath_invalid /forwarding_graphs/0/network_forwarding_paths/0/connection_points/2",
			},
		},
		{
			name: "a pair inside one VNF",
			inputs: []input{vnfd(v), nsd(patch(t, n, "          - {connection_point_ref: input, position: 1}\n", "",
				"          - {connection_point_ref: output, position: 4}\n", ""))},
			want: []string{"nsd.yml evt_nsd_top_fwpath_inside_vnf /forwarding_graphs/0/network_forwarding_paths/0/connection_points/0"},
			msg:  `form a hop inside VNF "vnf_fw"`,
		},
		{
			name:   "a disrupted path",
			inputs: []input{vnfd(v), nsd(patch(t, chainNSD, "          - {connection_point_ref: \"a:output\", position: 3}\n", "", "          - {connection_point_ref: \"b:input\", position: 4}\n", ""))},
			want:   []string{"nsd.yml evt_nsd_top_fwpath_disrupted /forwarding_graphs/0/network_forwarding_paths/0/connection_points/2"},
			msg:    "the previous hop ends at a",
		},
		{
			name:   "odd number of path entries",
			inputs: []input{vnfd(v), nsd(patch(t, n, "          - {connection_point_ref: output, position: 4}\n", ""))},
			want:   []string{"nsd.yml evt_nsd_top_fwgraph_cpoints_odd /forwarding_graphs/0/network_forwarding_paths/0/connection_points"},
		},
		{
			name:   "duplicate position: the later entry wins",
			inputs: []input{vnfd(v), nsd(patch(t, n, "{connection_point_ref: output, position: 4}", "{connection_point_ref: output, position: 4}\n          - {connection_point_ref: output, position: 4}"))},
			want:   []string{"nsd.yml evt_nsd_top_fwgraph_position_duplicate /forwarding_graphs/0/network_forwarding_paths/0/connection_points/4/position"},
		},
		{
			name:   "positions order the path",
			inputs: []input{vnfd(v), nsd(patch(t, n, "{connection_point_ref: input, position: 1}", "{connection_point_ref: input, position: 0}", "          - {connection_point_ref: output, position: 4}\n", "", "      - fp_id: fp01\n        policy: none\n        connection_points:\n", "      - fp_id: fp01\n        policy: none\n        connection_points:\n          - {connection_point_ref: output, position: 9}\n"))},
		},
		{
			name:   "undefined path cp: the path is not walked",
			inputs: []input{vnfd(v), nsd(patch(t, n, `connection_point_ref: "vnf_fw:input"`, `connection_point_ref: "vnf_fw:nosuch"`))},
			want:   []string{"nsd.yml evt_nsd_top_fwgraph_cpoint_undefined /forwarding_graphs/0/network_forwarding_paths/0/connection_points/1/connection_point_ref"},
			msg:    `VNF "vnf_fw" (VNFD eu.test.fw.0.1) declares no connection point "nosuch"`,
		},
		{
			name: "unreadable paths (son-validate crashed)",
			inputs: []input{vnfd(v), nsd(patch(t, n, "{connection_point_ref: input, position: 1}", "{connection_point_ref: input}",
				"{connection_point_ref: output, position: 4}", "{position: 4}",
				"      - fp_id: fp01\n", "      - policy: none\n      - fp_id: fp01\n"))},
			want: []string{
				"nsd.yml evt_nsd_top_badsection_fwgraph /forwarding_graphs/0/network_forwarding_paths/0",
				"nsd.yml evt_nsd_top_badsection_fwgraph /forwarding_graphs/0/network_forwarding_paths/0",
				"nsd.yml evt_nsd_top_badsection_fwgraph /forwarding_graphs/0/network_forwarding_paths/1/connection_points/0",
				"nsd.yml evt_nsd_top_badsection_fwgraph /forwarding_graphs/0/network_forwarding_paths/1/connection_points/3",
			},
		},
		{
			name:   "graph without paths",
			inputs: []input{vnfd(v), nsd(patch(t, n, "network_forwarding_paths:", "network_forwarding_pathsX:"))},
			want:   []string{"nsd.yml evt_nsd_top_badsection_fwgraph /forwarding_graphs/0"},
		},
		{
			name:   "no forwarding graphs: off by default",
			inputs: []input{vnfd(v), nsd(n[:strings.Index(n, "forwarding_graphs:")])},
		},
		{
			name:   "no forwarding graphs: switched on",
			opts:   Options{Levels: map[string]schema.Severity{codeFGUnavailable: schema.SeverityWarning}},
			inputs: []input{vnfd(v), nsd(n[:strings.Index(n, "forwarding_graphs:")])},
			want:   []string{"nsd.yml evt_nsd_top_fwgraph_unavailable "},
		},
		{
			name:   "cycles of three or more functions",
			inputs: []input{vnfd(v), nsd(cycleNSD)},
			want:   []string{"nsd.yml evt_nsd_top_fwgraph_cycles /forwarding_graphs/0"},
			msg:    "cycle of 3 hops: a → b → c → a",
		},
		{
			name:   "Levels switch a check off",
			opts:   Options{Levels: map[string]schema.Severity{codeFGCycles: SeverityNone}},
			inputs: []input{vnfd(v), nsd(cycleNSD)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			level := tt.level
			if level == 0 {
				level = schema.LevelTopology
			}
			docs := parseInputs(t, tt.inputs...)
			opts := tt.opts
			for _, d := range docs {
				if tt.failed != "" && d.File == tt.failed {
					opts.Failed = map[*schema.Document]bool{d: true}
				}
			}
			got := Run(docs, level, opts)
			if g, w := keys(got), slices.Sorted(slices.Values(tt.want)); !slices.Equal(g, w) {
				t.Errorf("findings:\n\tgot  %q\n\twant %q%s", g, w, dump(got))
			}
			if tt.msg != "" && !slices.ContainsFunc(got, func(d schema.Diagnostic) bool { return strings.Contains(d.Message, tt.msg) }) {
				t.Errorf("no message contains %q:%s", tt.msg, dump(got))
			}
			for _, d := range got {
				if d.Line == 0 {
					t.Errorf("finding without position: %s", d)
				}
				if d.Message == "" || strings.Contains(d.Message, "%!") {
					t.Errorf("bad message: %s", d)
				}
			}
		})
	}
}

// cycleNSD runs one forwarding path around three functions.
const cycleNSD = `
descriptor_version: "1.0"
vendor: eu.test
name: ring
version: "0.1"
network_functions:
  - {vnf_id: a, vnf_vendor: eu.test, vnf_name: fw, vnf_version: "0.1"}
  - {vnf_id: b, vnf_vendor: eu.test, vnf_name: fw, vnf_version: "0.1"}
  - {vnf_id: c, vnf_vendor: eu.test, vnf_name: fw, vnf_version: "0.1"}
connection_points:
  - {id: mgmt, interface: ipv4, type: management}
virtual_links:
  - {id: mgmt, connectivity_type: E-LAN, connection_points_reference: [mgmt, "a:mgmt", "b:mgmt", "c:mgmt"]}
  - {id: ab, connectivity_type: E-Line, connection_points_reference: ["a:output", "b:input"]}
  - {id: bc, connectivity_type: E-Line, connection_points_reference: ["b:output", "c:input"]}
  - {id: ca, connectivity_type: E-Line, connection_points_reference: ["c:output", "a:input"]}
forwarding_graphs:
  - fg_id: ring
    network_forwarding_paths:
      - fp_id: around
        connection_points:
          - {connection_point_ref: "a:output", position: 1}
          - {connection_point_ref: "b:input", position: 2}
          - {connection_point_ref: "b:output", position: 3}
          - {connection_point_ref: "c:input", position: 4}
          - {connection_point_ref: "c:output", position: 5}
          - {connection_point_ref: "a:input", position: 6}
`
