package records

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/manoctl/manoctl/schema/descriptor"
)

// Test constructors (Nomad's nomad/state/testing.go): for this package's
// tests and for packages that need records to work on (plan, TUI).

// TestStore opens a durable store in a fresh temporary directory and closes
// it when the test ends.
func TestStore(t testing.TB, opts Options) *Store {
	t.Helper()
	s, err := Open(t.TempDir(), opts)
	if err != nil {
		t.Fatalf("records: open test store: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("records: close test store: %v", err)
		}
	})
	return s
}

// Demo is a sonata-demo-like set of descriptors (an NSD and the firewall,
// iperf and tcpdump VNFDs) and, once stored, their digests.
type Demo struct {
	NSD         descriptor.Doc
	VNFDs       []descriptor.Doc
	NSDDigest   string
	VNFDDigests []string
	// NewID makes service and function ids; nil means NewID (UUIDv7).
	NewID func() string
}

// DemoDescriptors returns the demo descriptors, not yet stored.
func DemoDescriptors() *Demo {
	vnfd := func(name, uuid string, cores int, memGB float64) descriptor.Doc {
		return descriptor.Doc{
			"descriptor_version": "vnfd-schema-01",
			"vendor":             "eu.sonata-nfv",
			"name":               name,
			"version":            "0.2",
			"uuid":               uuid,
			"author":             "manoctl tests",
			"virtual_deployment_units": []any{map[string]any{
				"id":              "vdu01",
				"vm_image":        "sonatanfv/" + name,
				"vm_image_format": "docker",
				"resource_requirements": map[string]any{
					"cpu":     map[string]any{"vcpus": cores},
					"memory":  map[string]any{"size": memGB, "size_unit": "GB"},
					"storage": map[string]any{"size": 10, "size_unit": "GB"},
				},
				"connection_points": []any{
					map[string]any{"id": "vdu01:cp01", "interface": "ipv4", "type": "management"},
					map[string]any{"id": "vdu01:cp02", "interface": "ipv4", "type": "internal"},
					map[string]any{"id": "vdu01:cp03", "interface": "ipv4", "type": "internal"},
				},
				"monitoring_parameters": []any{
					map[string]any{"name": "vm_cpu_perc", "unit": "Percentage"},
				},
			}},
			"connection_points": []any{
				map[string]any{"id": "mgmt", "interface": "ipv4", "type": "management"},
				map[string]any{"id": "input", "interface": "ipv4", "type": "external"},
				map[string]any{"id": "output", "interface": "ipv4", "type": "external"},
			},
			"virtual_links": []any{
				map[string]any{"id": "mgmt", "connectivity_type": "E-LAN", "connection_points_reference": []any{"vdu01:cp01", "mgmt"}},
				map[string]any{"id": "input", "connectivity_type": "E-Line", "connection_points_reference": []any{"vdu01:cp02", "input"}},
				map[string]any{"id": "output", "connectivity_type": "E-Line", "connection_points_reference": []any{"vdu01:cp03", "output"}},
			},
		}
	}
	d := &Demo{
		VNFDs: []descriptor.Doc{
			vnfd("firewall-vnf", "6a15313f-cb0a-4540-baa2-77cc6b3f5b68", 1, 2),
			vnfd("iperf-vnf", "645db4fa-a714-4cba-9617-4001477d1281", 1, 2),
			vnfd("tcpdump-vnf", "8a0aa837-ec1c-44e5-9907-898f6401c3ae", 1, 2),
		},
	}
	nfs := make([]any, 0, 3)
	for i, id := range []string{"vnf_firewall", "vnf_iperf", "vnf_tcpdump"} {
		nfs = append(nfs, map[string]any{
			"vnf_id": id, "vnf_vendor": "eu.sonata-nfv",
			"vnf_name": d.VNFDs[i]["name"], "vnf_version": "0.2",
		})
	}
	d.NSD = descriptor.Doc{
		"descriptor_version": "1.0",
		"vendor":             "eu.sonata-nfv.service-descriptor",
		"name":               "sonata-demo",
		"version":            "0.2",
		"uuid":               "005606ed-be7d-4ce3-983c-847039e3a5a2",
		"network_functions":  nfs,
		"connection_points": []any{
			map[string]any{"id": "ns:mgmt", "interface": "ipv4", "type": "management"},
			map[string]any{"id": "ns:input", "interface": "ipv4", "type": "external"},
			map[string]any{"id": "ns:output", "interface": "ipv4", "type": "external"},
		},
		"virtual_links": []any{
			map[string]any{"id": "mgmt", "connectivity_type": "E-LAN", "connection_points_reference": []any{"vnf_iperf:mgmt", "vnf_firewall:mgmt", "vnf_tcpdump:mgmt", "ns:mgmt"}},
			map[string]any{"id": "input-2-iperf", "connectivity_type": "E-Line", "connection_points_reference": []any{"ns:input", "vnf_iperf:input"}},
			map[string]any{"id": "iperf-2-firewall", "connectivity_type": "E-Line", "connection_points_reference": []any{"vnf_iperf:output", "vnf_firewall:input"}},
			map[string]any{"id": "firewall-2-tcpdump", "connectivity_type": "E-Line", "connection_points_reference": []any{"vnf_firewall:output", "vnf_tcpdump:input"}},
			map[string]any{"id": "tcpdump-2-output", "connectivity_type": "E-Line", "connection_points_reference": []any{"vnf_tcpdump:output", "ns:output"}},
		},
	}
	return d
}

// StoreTxn stores the demo descriptors in txn and records their digests.
func (d *Demo) StoreTxn(s *Store, txn *WriteTxn) error {
	var err error
	if d.NSDDigest, err = s.UpsertDescriptorTxn(txn, KindNSD, d.NSD); err != nil {
		return err
	}
	d.VNFDDigests = d.VNFDDigests[:0]
	for _, v := range d.VNFDs {
		dg, err := s.UpsertDescriptorTxn(txn, KindVNFD, v)
		if err != nil {
			return err
		}
		d.VNFDDigests = append(d.VNFDDigests, dg)
	}
	return nil
}

// Service builds (does not store) a ready service called name with its
// three functions deployed on vim, shaped like what the IA reports for the
// demo: one VDU with one VNFC and three addressed connection points each.
// n varies the addresses. Call StoreTxn first.
func (d *Demo) Service(name, vim string, n int) (*Service, []*Function) {
	newID := d.NewID
	if newID == nil {
		newID = NewID
	}
	svc := &Service{
		ID:           newID(),
		Name:         name,
		Status:       ServiceReady,
		RecordStatus: RecordNormal,
		Version:      2,
		NSD: DescriptorRef{Digest: d.NSDDigest, UUID: descriptor.Str(d.NSD, "uuid"),
			Identity: descriptor.IdentityOf(d.NSD)},
		Ingresses: []Endpoint{{Location: "Athens", NAP: fmt.Sprintf("10.%d.%d.1", n>>8&255, n&255)}},
		Spec:      SpecRef{Digest: "sha256:spec", Placement: "load-balanced"},
	}
	fns := make([]*Function, len(d.VNFDs))
	for i, v := range d.VNFDs {
		id := newID()
		name := descriptor.Str(v, "name")
		cps := make([]ConnectionPoint, 3)
		for k := range cps {
			cps[k] = ConnectionPoint{
				ID:              fmt.Sprintf("vdu01:cp%02d", k+1),
				Type:            []string{"management", "internal", "internal"}[k],
				Address:         fmt.Sprintf("172.%d.%d.%d", n>>8&255, n&255, i*3+k+2),
				Netmask:         "255.255.255.248",
				HardwareAddress: fmt.Sprintf("fa:16:3e:%02x:%02x:%02x", n>>8&255, n&255, i*3+k),
			}
		}
		fns[i] = &Function{
			ID:                id,
			ServiceID:         svc.ID,
			VNFID:             []string{"vnf_firewall", "vnf_iperf", "vnf_tcpdump"}[i],
			VNFD:              DescriptorRef{Digest: d.VNFDDigests[i], UUID: descriptor.Str(v, "uuid"), Identity: descriptor.IdentityOf(v)},
			VIM:               vim,
			Status:            RecordNormal,
			Version:           2,
			DescriptorVersion: VNFRDescriptorVersion,
			Instance:          IAInstance{Name: "Stack-" + id, VIMUUID: uuid.NewString()},
			VDUs: []VDU{{
				ID: "vdu01", Reference: name + ":vdu01", NumberOfInstances: 1, VMImage: "sonatanfv/" + name,
				VNFCs: []VNFC{{ID: "0", VIMID: vim, VCID: uuid.NewString(), ConnectionPoints: cps}},
			}},
			Demand: Demand{Cores: 1, MemoryMB: 2000},
		}
		svc.Functions = append(svc.Functions, id)
	}
	return svc, fns
}

// instantiateSteps are the steps of the SLM's instantiation workflow, as
// an applied service's operation record lists them.
var instantiateSteps = []string{
	"validate_deploy_request", "contact_gk", "request_topology", "SLM_mapping",
	"ia_prepare", "vnf_deploy", "vnfs_start", "vnf_chain", "store_nsr",
	"wan_configure", "start_monitoring", "inform_gk_instantiation",
}

// Instantiation builds (does not store) the succeeded instantiate
// operation that created svc, its steps a millisecond apart from at: what
// every service `manoctl apply` created has in the operations table.
func (d *Demo) Instantiation(svc *Service, at time.Time) *Operation {
	newID := d.NewID
	if newID == nil {
		newID = NewID
	}
	op := &Operation{
		ID: newID(), ServiceID: svc.ID, ServiceName: svc.Name, Kind: OpInstantiate,
		CorrelationID: uuid.NewString(), Status: OpSucceeded,
		RequestedAt: at, StartedAt: at,
		Steps: make([]Step, len(instantiateSteps)),
	}
	for i, name := range instantiateSteps {
		start := at.Add(time.Duration(i) * time.Millisecond)
		op.Steps[i] = Step{Name: name, Status: StepSucceeded, Attempt: 1, StartedAt: start, EndedAt: start.Add(time.Millisecond)}
	}
	op.EndedAt = at.Add(time.Duration(len(instantiateSteps)) * time.Millisecond)
	return op
}
