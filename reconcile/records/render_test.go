package records

import (
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/manoctl/manoctl/schema/descriptor"
)

func loadYAML(t *testing.T, name string) descriptor.Doc {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return doc
}

// canon returns the canonical form, so that trees built differently (YAML
// decoding, Go literals) compare by content.
func canon(t *testing.T, doc descriptor.Doc) descriptor.Doc {
	t.Helper()
	c, _, err := CanonicalDoc(doc)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// diffDocs lists the paths where two trees differ.
func diffDocs(path string, a, b any) []string {
	ma, aok := a.(map[string]any)
	mb, bok := b.(map[string]any)
	if aok && bok {
		var out []string
		keys := map[string]bool{}
		for k := range ma {
			keys[k] = true
		}
		for k := range mb {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			out = append(out, diffDocs(path+"."+k, ma[k], mb[k])...)
		}
		return out
	}
	la, aok := a.([]any)
	lb, bok := b.([]any)
	if aok && bok && len(la) == len(lb) {
		var out []string
		for i := range la {
			out = append(out, diffDocs(fmt.Sprintf("%s[%d]", path, i), la[i], lb[i])...)
		}
		return out
	}
	if !reflect.DeepEqual(a, b) {
		return []string{fmt.Sprintf("%s: got %#v, want %#v", path, a, b)}
	}
	return nil
}

var versionRE = regexp.MustCompile(`^[0-9]+$`)

// checkCorrectedVNFR checks a VNFR against the corrected v3.0 rules
// (descriptors.md §6, §7) that manoctl's own records must pass.
func checkCorrectedVNFR(t *testing.T, doc descriptor.Doc) {
	t.Helper()
	allowed := []string{"descriptor_version", "id", "version", "status", "descriptor_reference", "deployment_favour", "parent_ns",
		"virtual_deployment_units", "connection_points", "virtual_links", "vnf_address", "lifecycle_events"}
	for k := range doc {
		if !slices.Contains(allowed, k) {
			t.Errorf("vnfr: key %q not allowed", k)
		}
	}
	for _, k := range []string{"descriptor_version", "id", "status", "virtual_deployment_units"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("vnfr: required %q missing", k)
		}
	}
	if !IsUUID(descriptor.Str(doc, "id")) {
		t.Errorf("vnfr: id %q", doc["id"])
	}
	if r, ok := doc["descriptor_reference"]; ok && !IsUUID(descriptor.ToString(r)) {
		t.Errorf("vnfr: descriptor_reference %q", r)
	}
	if v, ok := doc["version"].(string); !ok || !versionRE.MatchString(v) {
		t.Errorf("vnfr: version %#v", doc["version"])
	}
	if !RecordStatus(descriptor.Str(doc, "status")).ValidVNFR() {
		t.Errorf("vnfr: status %q", doc["status"])
	}
	checkCPs := func(where string, cps []map[string]any) {
		for _, cp := range cps {
			for k := range cp {
				if !slices.Contains([]string{"id", "interface", "type", "virtual_link_reference"}, k) {
					t.Errorf("%s: cp key %q", where, k)
				}
			}
			if !recordCPTypes[descriptor.Str(cp, "type")] {
				t.Errorf("%s: cp %v type %#v", where, cp["id"], cp["type"])
			}
			iface := descriptor.Map(cp, "interface")
			if _, ok := iface["address"].(string); !ok {
				t.Errorf("%s: cp %v interface %#v", where, cp["id"], cp["interface"])
			}
		}
	}
	vdus := descriptor.Maps(doc, "virtual_deployment_units")
	if len(vdus) == 0 {
		t.Error("vnfr: no VDUs")
	}
	for _, u := range vdus {
		rr := descriptor.Map(u, "resource_requirements")
		if descriptor.Map(rr, "cpu") == nil || descriptor.Map(rr, "memory") == nil {
			t.Errorf("vdu %v: resource_requirements %v", u["id"], rr)
		}
		for _, c := range descriptor.Maps(u, "vnfc_instance") {
			if cps, ok := c["connection_points"]; ok && len(cps.([]any)) == 0 {
				t.Errorf("vnfc %v: empty connection_points", c["id"])
			}
			checkCPs("vnfc", descriptor.Maps(c, "connection_points"))
		}
	}
	if cps, ok := doc["connection_points"]; ok && len(cps.([]any)) == 0 {
		t.Error("vnfr: empty connection_points")
	}
	checkCPs("vnfr", descriptor.Maps(doc, "connection_points"))
}

func checkCorrectedNSR(t *testing.T, doc descriptor.Doc) {
	t.Helper()
	allowed := []string{"descriptor_version", "id", "version", "status", "descriptor_reference", "network_functions", "network_services",
		"connection_points", "virtual_links", "forwarding_graphs", "lifecycle_events", "vnf_depedency", "services_depedency",
		"monitoring_parameters", "auto_scale_policy"}
	for k := range doc {
		if !slices.Contains(allowed, k) {
			t.Errorf("nsr: key %q not allowed", k)
		}
	}
	if !IsUUID(descriptor.Str(doc, "id")) || !RecordStatus(descriptor.Str(doc, "status")).ValidNSR() {
		t.Errorf("nsr: id %q status %q", doc["id"], doc["status"])
	}
	if v, ok := doc["version"].(string); !ok || !versionRE.MatchString(v) {
		t.Errorf("nsr: version %#v", doc["version"])
	}
	if r, ok := doc["descriptor_reference"]; ok && !IsUUID(descriptor.ToString(r)) {
		t.Errorf("nsr: descriptor_reference %q", r)
	}
	for _, nf := range descriptor.Maps(doc, "network_functions") {
		if len(nf) != 1 || !IsUUID(descriptor.Str(nf, "vnfr_id")) {
			t.Errorf("nsr: network function %v", nf)
		}
	}
}

// TestRenderVNFR_IperfFixture: the 2017 FLM builds expected_vnfr_iperf.yml
// from ia-vnfr-iperf.yml and iperf-vnfd.yml (wire-protocol §6.3, §11.1).
// manoctl's output equals it except where the 2017 record breaks the
// corrected schema, each difference named here:
//
//  1. connection_points (the function's and each VNFC's): the fixture has
//     the 2016 form {id, type: {address, netmask?}}; manoctl writes the
//     Sep-2017 IA form {id, type, interface: {address, netmask?}} (§14.7
//     I5). The VNFR schema requires interface, and type from
//     internal/external/management.
//  2. the type of those connection points: the 2016 form has none and the
//     iperf VNFD's own types are the pre-2017 "interface", not a record
//     type, so manoctl uses the defaults: internal for VNFC interfaces,
//     external for the function's own connection points.
//
// Everything else — ids, status, version "1", descriptor_reference, VDU
// fields, resource_requirements from the VNFD VDU, virtual_links — is the
// same value for value.
func TestRenderVNFR_IperfFixture(t *testing.T) {
	reply := loadYAML(t, "ia-vnfr-iperf.yml")
	ia := descriptor.Map(reply, "vnfr")
	fn, err := FunctionFromIAVNFR(ia)
	if err != nil {
		t.Fatal(err)
	}
	if fn.ID != "645db4fa-a714-4cba-9617-4001477d0000" || fn.VNFD.UUID != "645db4fa-a714-4cba-9617-4001477d1281" ||
		fn.Status != RecordOffline || fn.DescriptorVersion != "vnfr-schema-01" || len(fn.VDUs) != 1 || len(fn.ConnectionPoints) != 3 {
		t.Fatalf("parsed %+v", fn)
	}
	vnfc := fn.VDUs[0].VNFCs[0]
	if want := (ConnectionPoint{ID: "vdu01:cp02", Address: "172.0.3.98", Netmask: "255.255.255.248"}); vnfc.ConnectionPoints[1] != want {
		t.Fatalf("2016-form cp read as %+v", vnfc.ConnectionPoints[1])
	}
	fn.Version = 1 // the FLM's first version

	vnfd := canon(t, loadYAML(t, "iperf-vnfd.yml"))
	got := RenderVNFR(fn, vnfd)
	checkCorrectedVNFR(t, got)

	want := loadYAML(t, "expected_vnfr_iperf.yml")
	to2017 := func(cps any, typ string) {
		for _, cp := range cps.([]any) {
			m := cp.(map[string]any)
			m["interface"], m["type"] = m["type"], typ
		}
	}
	to2017(want["connection_points"], "external")
	for _, u := range descriptor.Maps(want, "virtual_deployment_units") {
		for _, c := range descriptor.Maps(u, "vnfc_instance") {
			to2017(c["connection_points"], "internal")
		}
	}
	if d := diffDocs("vnfr", canon(t, got), canon(t, want)); len(d) > 0 {
		t.Fatalf("rendered VNFR differs from the corrected fixture:\n%s", strings.Join(d, "\n"))
	}

	// The rendered tree is private: changing it leaves the VNFD alone.
	got["virtual_links"].([]any)[0].(map[string]any)["id"] = "changed"
	if descriptor.Maps(vnfd, "virtual_links")[0]["id"] != "mgmt" {
		t.Fatal("rendered VNFR shares the VNFD's tree")
	}
}

// TestFunctionFromIAVNFR_2017Form reads a Sep-2017 Heat-style reply (types
// and interfaces with MAC addresses) and renders it back unchanged.
func TestFunctionFromIAVNFR_2017Form(t *testing.T) {
	var ia descriptor.Doc
	err := yaml.Unmarshal([]byte(`
descriptor_version: vnfr-schema-01
id: 8d5d3ef1-9c3a-4c1b-8f2e-5f9b0a6f2c11
descriptor_reference: 645db4fa-a714-4cba-9617-4001477d1281
status: normal operation
deployment_flavour: gold
virtual_deployment_units:
- id: vdu01
  vm_image: eu.sonata-nfv_iperf-vnf_0.2_vdu01
  vdu_reference: iperf-vnf:vdu01
  number_of_instances: 1
  vnfc_instance:
  - id: 0
    vim_id: 1c8b2bc4-6a5a-4a8f-9a53-2b8a6e0c3b7f
    vc_id: 0e9e0b7c-0d9a-4e0f-a7d6-5e1a2c3b4d5e
    connection_points:
    - id: vdu01:cp01
      type: management
      interface: {address: 10.100.32.250, hardware_address: "fa:16:3e:5b:2c:01"}
    - id: vdu01:cp02
      type: internal
      interface: {address: 192.168.1.3, netmask: 255.255.255.248, hardware_address: "fa:16:3e:5b:2c:02"}
connection_points:
- id: mgmt
  type: interface
  interface: {address: 10.100.32.250}
`), &ia)
	if err != nil {
		t.Fatal(err)
	}
	fn, err := FunctionFromIAVNFR(ia)
	if err != nil {
		t.Fatal(err)
	}
	cps := fn.VDUs[0].VNFCs[0].ConnectionPoints
	if fn.VDUs[0].VNFCs[0].ID != "0" || cps[0] != (ConnectionPoint{ID: "vdu01:cp01", Type: "management", Address: "10.100.32.250", HardwareAddress: "fa:16:3e:5b:2c:01"}) {
		t.Fatalf("parsed %+v", fn.VDUs[0].VNFCs[0])
	}
	fn.Version = 2
	vnfd := canon(t, loadYAML(t, "iperf-vnfd.yml"))
	got := RenderVNFR(fn, vnfd)
	checkCorrectedVNFR(t, got)
	vc := descriptor.Maps(descriptor.Maps(got, "virtual_deployment_units")[0], "vnfc_instance")[0]
	wantCPs := descriptor.Maps(descriptor.Maps(descriptor.Maps(ia, "virtual_deployment_units")[0], "vnfc_instance")[0], "connection_points")
	for i, cp := range descriptor.Maps(vc, "connection_points") {
		if d := diffDocs("cp", canon(t, cp), canon(t, wantCPs[i])); len(d) > 0 {
			t.Errorf("%v", d)
		}
	}
	// The IA's "interface" type is not a record type: resolved, then defaulted.
	if top := descriptor.Maps(got, "connection_points")[0]; top["type"] != "external" {
		t.Errorf("top-level cp type %v", top["type"])
	}
	if got["deployment_favour"] != "gold" || got["version"] != "2" || got["status"] != "normal operation" {
		t.Errorf("rendered %v", got)
	}
}

func TestFunctionFromIAVNFR_Errors(t *testing.T) {
	cases := map[string]descriptor.Doc{
		"nil":          nil,
		"no id":        {"status": "offline"},
		"bad status":   {"id": "x", "status": "DEPLOYED"},
		"updating":     {"id": "x", "status": "updating"},
		"vdus not map": {"id": "x", "virtual_deployment_units": "vdu01"},
		"vdu no id":    {"id": "x", "virtual_deployment_units": []any{map[string]any{"vm_image": "i"}}},
	}
	for name, ia := range cases {
		if _, err := FunctionFromIAVNFR(ia); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// Missing status reads as offline; odd value types do not panic.
	fn, err := FunctionFromIAVNFR(descriptor.Doc{"id": "x", "virtual_deployment_units": []any{"junk", map[string]any{"id": 7,
		"vnfc_instance": []any{map[string]any{"connection_points": []any{map[string]any{"id": "c", "type": 3}}}}}}})
	if err != nil || fn.Status != RecordOffline || fn.VDUs[0].ID != "7" {
		t.Fatalf("%+v, %v", fn, err)
	}
}

func TestRenderVNFR_Corrections(t *testing.T) {
	vnfd := canon(t, descriptor.Doc{
		"name": "x",
		"virtual_deployment_units": []any{
			map[string]any{"id": "vdu1", "resource_requirements": map[string]any{"cpu": map[string]any{"vcpus": 1}, "memory": map[string]any{"size": 1}}},
			map[string]any{"id": "vdu10",
				"resource_requirements": map[string]any{
					"cpu": map[string]any{"vcpus": 4}, "memory": map[string]any{"size": 8, "size_unit": "GB"},
					"hypervisor_parameters": map[string]any{"type": "kvm", "version": ">=2.0"},
				},
				"monitoring_parameters": []any{map[string]any{"name": "cpu", "unit": "Percentage", "command": "top -b"}},
				"connection_points":     []any{map[string]any{"id": "vdu10:eth0", "type": "management"}},
			},
		},
		"lifecycle_events": []any{map[string]any{"driver": "ansible"}},
	})
	fn := &Function{ID: "5b0e3c2a-1d4f-4a6b-8c9d-0e1f2a3b4c5d", Status: RecordNormal, Version: 3,
		VDUs: []VDU{{ID: "vdu10", Reference: "x:vdu10", VNFCs: []VNFC{
			{ID: "a", ConnectionPoints: []ConnectionPoint{{ID: "vdu10:eth0", Address: "10.0.0.2"}}},
			{ID: "b"},
		}}}}
	got := RenderVNFR(fn, vnfd)
	checkCorrectedVNFR(t, got)
	vdu := descriptor.Maps(got, "virtual_deployment_units")[0]
	rr := descriptor.Map(vdu, "resource_requirements")
	if descriptor.Int(descriptor.Map(rr, "cpu"), "vcpus") != 4 {
		t.Errorf("matched the wrong VDU: %v", rr)
	}
	if v := descriptor.Map(rr, "hypervisor_parameters")["version"]; v != "2.0" {
		t.Errorf("hypervisor version %v", v)
	}
	if mp := descriptor.Maps(vdu, "monitoring_parameters")[0]; mp["command"] != nil || mp["name"] != "cpu" {
		t.Errorf("monitoring %v", mp)
	}
	vnfcs := descriptor.Maps(vdu, "vnfc_instance")
	if cp := descriptor.Maps(vnfcs[0], "connection_points")[0]; cp["type"] != "management" {
		t.Errorf("type not taken from the VNFD VDU: %v", cp)
	}
	if _, ok := vnfcs[1]["connection_points"]; ok {
		t.Error("empty VNFC connection points rendered")
	}
	if _, ok := got["number_of_instances"]; ok || got["lifecycle_events"] == nil {
		t.Errorf("rendered %v", got)
	}
	if _, ok := vdu["number_of_instances"]; ok {
		t.Error("unreported number_of_instances rendered")
	}
}

// TestRenderNSR_SonataDemo follows wire-protocol §10.1 on the sonata-demo
// NSD.
func TestRenderNSR_SonataDemo(t *testing.T) {
	nsd := canon(t, loadYAML(t, "sonata-demo.yml"))
	svc := &Service{ID: "3c0e6f6e-2a4b-4b8e-9d2a-7c1f0e5d4b3a", Status: ServiceReady, RecordStatus: RecordNormal, Version: 1,
		NSD:       DescriptorRef{UUID: descriptor.Str(nsd, "uuid")},
		Functions: []string{"11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222", "33333333-3333-4333-8333-333333333333"}}
	got := RenderNSR(svc, nsd)
	checkCorrectedNSR(t, got)
	want := descriptor.Doc{
		"descriptor_version":   "nsr-schema-01",
		"id":                   svc.ID,
		"status":               "normal operation",
		"version":              "1",
		"descriptor_reference": "005606ed-be7d-4ce3-983c-847039e3a5a2",
		"network_functions": []any{
			map[string]any{"vnfr_id": svc.Functions[0]}, map[string]any{"vnfr_id": svc.Functions[1]}, map[string]any{"vnfr_id": svc.Functions[2]},
		},
		"forwarding_graphs": nsd["forwarding_graphs"],
	}
	var vls []any
	for _, vl := range descriptor.Maps(nsd, "virtual_links") {
		vls = append(vls, map[string]any{"id": vl["id"], "connectivity_type": vl["connectivity_type"], "connection_points_reference": vl["connection_points_reference"]})
	}
	want["virtual_links"] = vls
	if d := diffDocs("nsr", canon(t, got), canon(t, want)); len(d) > 0 {
		t.Fatalf("NSR differs:\n%s", strings.Join(d, "\n"))
	}
}

// TestRenderNSR_S12 checks manoctl's correction of build_nsr (§14.3 S12):
// the four fields are copied as they appear in the NSD, and
// monitoring_parameters is not polluted with auto_scale_policy.
func TestRenderNSR_S12(t *testing.T) {
	nsd := canon(t, descriptor.Doc{
		"vendor": "v", "name": "n", "version": "1",
		"lifecycle_events": map[string]any{
			"start":     []any{map[string]any{"vnf_id": "vnf_firewall", "vnf_event": "start"}},
			"scale_out": []any{map[string]any{"vnf_id": "vnf_firewall", "vnf_event": "scale-out"}},
		},
		"vnf_depedency":         []any{"eu.sonata-nfv:firewall-vnf:0.2"},
		"services_depedency":    []any{"eu.sonata-nfv:other:0.1"},
		"monitoring_parameters": []any{map[string]any{"desc": "bw", "metric": "bandwidth", "unit": "Mbps"}},
		"auto_scale_policy":     map[string]any{"criteria": []any{map[string]any{"end-to-end bandwidth": "> 10"}}, "action": "scale_out"},
		"vnf_dependency":        []any{"correctly spelt keys are not schema keys"},
	})
	svc := &Service{ID: "3c0e6f6e-2a4b-4b8e-9d2a-7c1f0e5d4b3a", Status: ServiceReady, RecordStatus: RecordTerminated, Version: 7}
	got := RenderNSR(svc, nsd)
	checkCorrectedNSR(t, got)
	for _, k := range []string{"lifecycle_events", "vnf_depedency", "services_depedency", "monitoring_parameters", "auto_scale_policy"} {
		if !reflect.DeepEqual(got[k], nsd[k]) {
			t.Errorf("%s: got %#v, want %#v", k, got[k], nsd[k])
		}
	}
	for _, k := range []string{"vnf_dependency", "network_functions", "descriptor_reference", "virtual_links", "connection_points"} {
		if _, ok := got[k]; ok {
			t.Errorf("%s rendered", k)
		}
	}
	if got["version"] != "7" || got["status"] != "terminated" {
		t.Errorf("got %v", got)
	}
	descriptor.Map(got, "lifecycle_events")["start"] = nil
	if descriptor.Map(nsd, "lifecycle_events")["start"] == nil {
		t.Fatal("rendered NSR shares the NSD's tree")
	}
}

func TestDemandOf(t *testing.T) {
	d, err := DemandOf(loadYAML(t, "iperf-vnfd.yml"))
	if err != nil || d != (Demand{Cores: 1, MemoryMB: 2000}) {
		t.Fatalf("%+v, %v", d, err)
	}
}
