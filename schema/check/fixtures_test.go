package check

import (
	"slices"
	"strings"
	"testing"

	"github.com/manoctl/manoctl/schema"
)

// baseVNFD is a small, correct VNFD: every check passes on it.
const baseVNFD = `
descriptor_version: vnfd-schema-01
vendor: eu.test
name: fw
version: "0.1"
virtual_deployment_units:
  - id: vdu01
    vm_image: fw.qcow2
    resource_requirements:
      cpu: {vcpus: 1}
      memory: {size: 1, size_unit: GB}
      storage: {size: 10, size_unit: GB}
    scale_in_out: {minimum: 1, maximum: 2}
    monitoring_parameters:
      - {name: vm_cpu_perc, unit: Percentage}
    connection_points:
      - {id: eth0, interface: ipv4, type: management}
      - {id: eth1, interface: ipv4, type: internal}
      - {id: eth2, interface: ipv4, type: internal}
connection_points:
  - {id: mgmt, interface: ipv4, type: management}
  - {id: input, interface: ipv4, type: external}
  - {id: output, interface: ipv4, type: external}
virtual_links:
  - {id: mgmt, connectivity_type: E-LAN, connection_points_reference: ["vdu01:eth0", mgmt]}
  - {id: input, connectivity_type: E-Line, connection_points_reference: ["vdu01:eth1", input]}
  - {id: output, connectivity_type: E-Line, connection_points_reference: ["vdu01:eth2", output]}
monitoring_rules:
  - name: cpu
    duration: 10
    condition: "vdu01:vm_cpu_perc > 85"
    notification: [{name: n, type: rabbitmq_message}]
function_specific_managers:
  - id: sonfsmservice1fwconfig1
    image: sonata/fsm
    options: [{key: type, value: configure}]
`

// baseNSD is a small, correct NSD using baseVNFD: every check passes on
// it at topology level.
const baseNSD = `
descriptor_version: "1.0"
vendor: eu.test
name: service
version: "0.1"
network_functions:
  - {vnf_id: vnf_fw, vnf_vendor: eu.test, vnf_name: fw, vnf_version: "0.1"}
connection_points:
  - {id: mgmt, interface: ipv4, type: management}
  - {id: input, interface: ipv4, type: external}
  - {id: output, interface: ipv4, type: external}
virtual_links:
  - {id: mgmt, connectivity_type: E-LAN, connection_points_reference: ["vnf_fw:mgmt", mgmt]}
  - {id: in, connectivity_type: E-Line, connection_points_reference: [input, "vnf_fw:input"]}
  - {id: out, connectivity_type: E-Line, connection_points_reference: ["vnf_fw:output", output]}
forwarding_graphs:
  - fg_id: fg01
    number_of_endpoints: 2
    number_of_virtual_links: 2
    constituent_virtual_links: [in, out]
    constituent_vnfs: [vnf_fw]
    network_forwarding_paths:
      - fp_id: fp01
        policy: none
        connection_points:
          - {connection_point_ref: input, position: 1}
          - {connection_point_ref: "vnf_fw:input", position: 2}
          - {connection_point_ref: "vnf_fw:output", position: 3}
          - {connection_point_ref: output, position: 4}
service_specific_managers:
  - id: sonssmservice1placement1
    image: sonata/ssm
    options: [{key: type, value: placement}]
`

// chainNSD chains two functions of baseVNFD: input -> a -> b -> output.
const chainNSD = `
descriptor_version: "1.0"
vendor: eu.test
name: chain
version: "0.1"
network_functions:
  - {vnf_id: a, vnf_vendor: eu.test, vnf_name: fw, vnf_version: "0.1"}
  - {vnf_id: b, vnf_vendor: eu.test, vnf_name: fw, vnf_version: "0.1"}
connection_points:
  - {id: input, interface: ipv4, type: external}
  - {id: output, interface: ipv4, type: external}
virtual_links:
  - {id: in, connectivity_type: E-Line, connection_points_reference: [input, "a:input"]}
  - {id: ab, connectivity_type: E-Line, connection_points_reference: ["a:output", "b:input"]}
  - {id: out, connectivity_type: E-Line, connection_points_reference: ["b:output", output]}
  - {id: mgmt, connectivity_type: E-LAN, connection_points_reference: ["a:mgmt", "b:mgmt"]}
forwarding_graphs:
  - fg_id: fg01
    number_of_virtual_links: 3
    constituent_virtual_links: [in, ab, out]
    network_forwarding_paths:
      - fp_id: fp01
        connection_points:
          - {connection_point_ref: input, position: 1}
          - {connection_point_ref: "a:input", position: 2}
          - {connection_point_ref: "a:output", position: 3}
          - {connection_point_ref: "b:input", position: 4}
          - {connection_point_ref: "b:output", position: 5}
          - {connection_point_ref: output, position: 6}
`

// input is one document of a test case.
type input struct {
	file string
	kind schema.Kind
	pkg  string
	src  string
}

func vnfd(src string) input { return input{file: "fw.yml", kind: schema.KindVNFD, src: src} }
func nsd(src string) input  { return input{file: "nsd.yml", kind: schema.KindNSD, src: src} }

// in returns a copy of in placed in package pkg under another name.
func (in input) as(file, pkg string) input {
	in.file, in.pkg = file, pkg
	return in
}

// patch replaces, pair by pair, the first occurrence of old by new and
// fails the test when old is not in s, so that a fixture edit cannot
// silently miss.
func patch(t *testing.T, s string, oldNew ...string) string {
	t.Helper()
	if len(oldNew)%2 != 0 {
		t.Fatal("patch: odd number of arguments")
	}
	for i := 0; i < len(oldNew); i += 2 {
		if !strings.Contains(s, oldNew[i]) {
			t.Fatalf("patch: %q not in fixture", oldNew[i])
		}
		s = strings.Replace(s, oldNew[i], oldNew[i+1], 1)
	}
	return s
}

// parseInputs parses the inputs of a test case.
func parseInputs(t *testing.T, inputs ...input) []*schema.Document {
	t.Helper()
	var docs []*schema.Document
	for _, in := range inputs {
		ds, err := parseDocs(in.file, in.pkg, in.kind, []byte(dedent(in.src)))
		if err != nil {
			t.Fatalf("parse %s: %v", in.file, err)
		}
		docs = append(docs, ds...)
	}
	return docs
}

// keys reduces findings to sorted "file code pointer" lines.
func keys(diags []schema.Diagnostic) []string {
	out := make([]string, len(diags))
	for i, d := range diags {
		out[i] = d.File + " " + d.Code + " " + d.Pointer
	}
	slices.Sort(out)
	return out
}
