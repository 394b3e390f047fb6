package emulator

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/manoctl/manoctl/reconcile/bus"
)

// The trees published on the bus are exactly what the struct tags say:
// decoding the JSON of the typed value gives the same tree.
func TestDocsMatchTags(t *testing.T) {
	vnfr := &VNFR{
		DescriptorVersion: vnfrSchema, ID: "i", DescriptorReference: "d", Status: vnfrStatusNormalOp,
		VirtualDeploymentUnits: []VDUR{
			{ID: "vdu01", VMImage: "img", VDUReference: "n:vdu01", NumberOfInstances: 1, VNFCInstance: []VNFCInstance{{
				ID: "0", VIMID: "v", VCID: "c", ConnectionPoints: []CPRecord{
					{ID: "eth0", Type: "management", Interface: InterfaceRecord{Address: "172.16.0.1", HardwareAddress: "fa:16:3e:00:00:01"}},
					{ID: "eth1", Type: "internal", Interface: InterfaceRecord{Address: "10.0.0.1", Netmask: fixedNetmask, HardwareAddress: "fa:16:3e:00:00:02"}},
				},
			}}},
			{ID: "vdu02", VDUReference: "n:vdu02", NumberOfInstances: 1, VNFCInstance: []VNFCInstance{{ID: "0", ConnectionPoints: []CPRecord{}}}},
		},
		ConnectionPoints: []VNFCPRef{{ID: "mgmt", Type: "management"}, {ID: "x"}},
	}
	cases := []any{
		completed,
		statusReply(StatusError, "boom"),
		addReply{RequestStatus: StatusCompleted, UUID: "u"},
		wanAddReply{RequestStatus: StatusCompleted, UUID: "u"},
		bareStatus{RequestStatus: StatusCompleted},
		availabilityReply{Status: "OK"},
		[]ComputeResources{{VIMUUID: "a", CoreTotal: 1}, {VIMUUID: "b", VIMDomain: "d", MemoryUsed: 3}},
		[]ComputeResources{},
		[]networkVIMListing{{VIMUUID: "n", ComputeUUID: "c"}},
		[]WIMRecord{{UUID: "w", AttachedVIMs: []string{"a", "b"}}, {UUID: "e", AttachedVIMs: []string{}}},
		&DeployReply{RequestStatus: StatusCompleted, InstanceName: "n", InstanceVimUUID: "s", VIMUUID: "v", VNFR: vnfr},
	}
	for _, c := range cases {
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		var want any
		if err := bus.Unmarshal(b, &want); err != nil {
			t.Fatal(err)
		}
		got := wireDoc(c)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%T:\n doc  %#v\n tags %#v", c, got, want)
		}
		// And the YAML the AMQP adapter writes for data replies says the
		// same.
		y, err := bus.MarshalYAML(got)
		if err != nil {
			t.Fatal(err)
		}
		var back any
		if err := bus.Unmarshal(y, &back); err != nil || !reflect.DeepEqual(back, want) {
			t.Errorf("%T: YAML round trip %#v (%v)", c, back, err)
		}
	}
}
