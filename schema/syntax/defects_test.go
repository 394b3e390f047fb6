package syntax

import (
	"strings"
	"testing"

	"github.com/manoctl/manoctl/schema"
)

// vnfdBase and friends are minimal valid documents that the defect cases
// extend.
const (
	vnfdBase = `descriptor_version: "vnfd-schema-01"
vendor: "eu.sonata-nfv"
name: "tiny-vnf"
version: "0.1"
virtual_deployment_units:
  - id: "vdu01"
    resource_requirements:
      cpu: {vcpus: 1}
      memory: {size: 2}
`
	nsdBase = `descriptor_version: "1.0"
vendor: "eu.sonata-nfv"
name: "service"
version: "0.1"
`
	vnfrBase = `descriptor_version: "vnfr-schema-01"
id: "645db4fa-a714-4cba-9617-4001477d0000"
status: "offline"
virtual_deployment_units:
  - id: "vdu01"
    resource_requirements:
      cpu: {vcpus: 1}
      memory: {size: 2}
`
	nsrBase = `descriptor_version: "nsr-schema-01"
id: "645db4fa-a714-4cba-9617-4001477d0000"
status: "offline"
`
)

func load(t *testing.T, kind schema.Kind, src string) *schema.Document {
	t.Helper()
	docs, diags := schema.LoadBytes("doc.yml", []byte(src), schema.LoadOptions{Kind: kind})
	if len(diags) > 0 || len(docs) != 1 {
		t.Fatalf("load: %v", diags)
	}
	return docs[0]
}

// TestSchemaDefects documents, case by case, what manoctl does with each
// defect of son-schema v3.0 (spec/descriptors.md §7): the v3.0 verdict
// (Valid, strict codes) stays what draft-04 says; corrected findings come
// beside it as warnings. Each case is checked with both engines.
func TestSchemaDefects(t *testing.T) {
	tests := []struct {
		defect int
		name   string
		kind   schema.Kind
		src    string
		// valid is the v3.0-strict verdict.
		valid bool
		// want are "severity family pointer" triples that must be
		// reported, family being "schema" (v3.0) or "schema.corrected";
		// the pointer matches a finding at it or at a choice above it
		// (where CUE reports a failed oneOf). absent are code prefixes
		// that must not be reported.
		want   []string
		absent []string
	}{
		{1, "VNFR top-level interface oneOf can never match an address object", schema.KindVNFR,
			vnfrBase + "connection_points:\n  - id: cp0\n    type: external\n    interface: {address: \"10.0.0.1\"}\n",
			false, []string{"warning schema /connection_points/0/interface"}, []string{"schema.corrected."}},
		{1, "corrected rule: the interface needs an address", schema.KindVNFR,
			vnfrBase + "connection_points:\n  - id: cp0\n    type: external\n    interface: {mac: x}\n",
			false, []string{"warning schema /connection_points/0/interface"}, nil},
		{2, "NSR interface accepts any value under v3.0; corrected wants an enum value or an address", schema.KindNSR,
			nsrBase + "connection_points:\n  - id: cp0\n    type: external\n    interface: 42\n",
			true, []string{"warning schema.corrected /connection_points/0/interface"}, nil},
		{2, "NSR interface enum value passes both", schema.KindNSR,
			nsrBase + "connection_points:\n  - id: cp0\n    type: external\n    interface: ipv4\n",
			true, nil, []string{"schema."}},
		{3, "unanchored UUID pattern: v3.0 accepts a string containing a UUID", schema.KindNSR,
			strings.Replace(nsrBase, `id: "645db4fa-a714-4cba-9617-4001477d0000"`, `id: "uuid:645db4fa-a714-4cba-9617-4001477d0000"`, 1),
			true, []string{"warning schema.corrected /id"}, nil},
		{4, "misplaced minItems/uniqueItems on link references: not a syntax error", schema.KindVNFD,
			vnfdBase + "virtual_links:\n  - id: l\n    connectivity_type: E-Line\n    connection_points_reference: [a, a, a]\n",
			true, nil, []string{"schema."}},
		{5, "tuple-form items: v3.0 checks the first element only", schema.KindNSD,
			nsdBase + "forwarding_graphs:\n  - fg_id: fg\n    constituent_vnfs: [vnf_a, 42]\n",
			true, []string{"warning schema.corrected /forwarding_graphs/0/constituent_vnfs/1"}, nil},
		{5, "tuple-form items: a bad first element is a v3.0 error, not repeated as a correction", schema.KindNSD,
			nsdBase + "forwarding_graphs:\n  - fg_id: fg\n    constituent_vnfs: [42]\n",
			false, []string{"error schema /forwarding_graphs/0/constituent_vnfs/0"}, []string{"schema.corrected."}},
		{6, "duration_unit declared with ref: unchecked by v3.0, a time unit when corrected", schema.KindVNFD,
			vnfdBase + "monitoring_rules:\n  - name: r\n    duration: 10\n    duration_unit: weeks\n    condition: x\n    notification: []\n",
			true, []string{"warning schema.corrected /monitoring_rules/0/duration_unit"}, nil},
		{7, "additionalItems: false next to a non-tuple items has no effect", schema.KindVNFD,
			vnfdBase + "licenses:\n  - type: public\n  - type: private\n    url: http://x\n",
			true, nil, []string{"schema."}},
		{8, "licences in a VNFD: the message names the VNFD spelling", schema.KindVNFD,
			vnfdBase + "licences:\n  - type: public\n",
			false, []string{"error schema /licences"}, nil},
		{8, "NSD lifecycle_events is an object", schema.KindNSD,
			nsdBase + "lifecycle_events:\n  - start: []\n",
			false, []string{"error schema /lifecycle_events"}, nil},
		{8, "VNFD events use scale-out with a hyphen", schema.KindVNFD,
			vnfdBase + "lifecycle_events:\n  - events:\n      scale_out: {command: x}\n",
			false, []string{"error schema /lifecycle_events/0/events/scale_out"}, nil},
		{9, "the correct spelling of a misspelt key is rejected, with a hint", schema.KindNSD,
			nsdBase + "vnf_dependency: [a]\n",
			false, []string{"error schema /vnf_dependency"}, nil},
		{9, "VNFR deployment_flavour (as the 2017 FLM wrote it) is rejected", schema.KindVNFR,
			vnfrBase + "deployment_flavour: gold\n",
			false, []string{"warning schema /deployment_flavour"}, nil},
		{10, "monitoring parameter names may not contain digits", schema.KindVNFD,
			strings.Replace(vnfdBase, "      memory: {size: 2}\n", "      memory: {size: 2}\n    monitoring_parameters:\n      - {name: cpu1, unit: Percentage}\n", 1),
			false, []string{"error schema /virtual_deployment_units/0/monitoring_parameters/0/name"}, nil},
		{10, "pps is not a monitoring unit", schema.KindVNFD,
			strings.Replace(vnfdBase, "      memory: {size: 2}\n", "      memory: {size: 2}\n    monitoring_parameters:\n      - {name: packets, unit: pps}\n", 1),
			false, []string{"error schema /virtual_deployment_units/0/monitoring_parameters/0/unit"}, nil},
		{11, "an NSD without network_functions is schema-valid (an integrity finding)", schema.KindNSD,
			nsdBase, true, nil, []string{"schema."}},
		{12, "patterns are unanchored RE2 searches unless written ^...$", schema.KindPD,
			"descriptor_version: \"1.0\"\nvendor: v\nname: n\nversion: \"1\"\nartifact_dependencies:\n  - {vendor: v, name: n, version: \"1.0\", url: \"http://x/y?z=1\"}\n",
			false, []string{"error schema /artifact_dependencies/0/url"}, nil},
		{13, "uniqueItems compares whole objects: duplicate ids pass", schema.KindNSD,
			nsdBase + "connection_points:\n  - {id: a, interface: ipv4, type: external}\n  - {id: a, interface: ipv6, type: external}\n",
			true, nil, []string{"schema."}},
		{14, "a link mixing the two forms gets one targeted error", schema.KindNSD,
			nsdBase + "virtual_links:\n  - {id: l, connectivity_type: E-LAN, connection_points_reference: [a], vl_group: g}\n",
			false, []string{"error schema /virtual_links/0/vl_group"}, nil},
	}
	for _, tc := range tests {
		for _, engine := range []Engine{EngineFast, EngineCUE} {
			t.Run(tc.name+"/"+string(engine), func(t *testing.T) {
				doc := load(t, tc.kind, tc.src)
				res, err := Check(doc, Options{Engine: engine})
				if err != nil {
					t.Fatal(err)
				}
				if res.Valid != tc.valid {
					t.Errorf("defect #%d: v3.0 verdict valid=%v, want %v", tc.defect, res.Valid, tc.valid)
				}
				var got []string
				for _, d := range res.Diagnostics {
					got = append(got, d.Severity.String()+" "+d.Code+" "+d.Pointer)
				}
				joined := strings.Join(got, "\n")
				for _, w := range tc.want {
					if !reported(res.Diagnostics, w) {
						t.Errorf("defect #%d: missing %q in\n%s", tc.defect, w, joined)
					}
				}
				for _, a := range tc.absent {
					if strings.Contains(joined, a) {
						t.Errorf("defect #%d: unexpected %q in\n%s", tc.defect, a, joined)
					}
				}
			})
		}
	}
}

// reported matches a "severity family pointer" triple.
func reported(diags []schema.Diagnostic, want string) bool {
	parts := strings.Fields(want)
	sev, family, ptr := parts[0], parts[1], parts[2]
	for _, d := range diags {
		corrected := strings.HasPrefix(d.Code, CorrectedCodePrefix)
		if d.Severity.String() != sev || corrected != (family == "schema.corrected") {
			continue
		}
		if d.Pointer == ptr || strings.HasPrefix(ptr, d.Pointer+"/") || strings.HasPrefix(d.Pointer, ptr+"/") {
			return true
		}
	}
	return false
}

// TestDefectHints: the messages that name the expected spelling and the
// targeted oneOf error (fast path; CUE's own messages are CUE's).
func TestDefectHints(t *testing.T) {
	tests := []struct {
		kind schema.Kind
		src  string
		want string
	}{
		{schema.KindVNFD, vnfdBase + "licences: []\n", `the VNFD schema spells it "licenses"`},
		{schema.KindNSD, nsdBase + "licenses: []\n", `the NSD schema spells it "licences"`},
		{schema.KindNSD, nsdBase + "vnf_dependency: []\n", `spells it "vnf_depedency"`},
		{schema.KindVNFR, vnfrBase + "deployment_flavour: x\n", `spells it "deployment_favour"`},
		{schema.KindVNFD, vnfdBase + "lifecycle_events:\n  - events: {scale_in: {}}\n", `spells it "scale-in"`},
		{schema.KindNSD, nsdBase + "virtual_links:\n  - {id: l, connectivity_type: E-LAN, connection_points_reference: [a], vl_group: g}\n",
			`fits none of #VirtualLinkRef, #VirtualLink; closest is #VirtualLink: key "vl_group" is not allowed here`},
		{schema.KindVNFR, vnfrBase + "connection_points:\n  - {id: c, type: external, interface: {address: 10.0.0.1}}\n",
			`matches 2 of the alternatives (#IPv4Interface, #IPv6Interface); exactly one must match`},
		{schema.KindVNFD, strings.Replace(vnfdBase, `version: "0.1"`, "version: 0.1", 1), `found a YAML float 0.1; quote it: "0.1"`},
		{schema.KindVNFD, strings.Replace(vnfdBase, "vcpus: 1", `vcpus: "1"`, 1), `found the string "1"; write the number without quotes`},
		{schema.KindVNFD, strings.Replace(vnfdBase, `version: "0.1"`, "version: 2017-09-01", 1), `found a YAML timestamp 2017-09-01`},
		{schema.KindVNFD, strings.Replace(vnfdBase, `name: "tiny-vnf"`, "name: on", 1), `found a YAML boolean on (YAML 1.1`},
	}
	for _, tc := range tests {
		res, err := Check(load(t, tc.kind, tc.src), Options{})
		if err != nil {
			t.Fatal(err)
		}
		var msgs []string
		for _, d := range res.Diagnostics {
			msgs = append(msgs, d.Message)
		}
		if !strings.Contains(strings.Join(msgs, "\n"), tc.want) {
			t.Errorf("want %q in\n%s", tc.want, strings.Join(msgs, "\n"))
		}
	}
}
