package wire

import (
	"reflect"
	"testing"

	"github.com/manoctl/manoctl/reconcile/bus"
)

// A create request survives its generic form (what an update request and
// the AMQP transport carry), manoctl's extension included.
func TestCreateRequestGenericRoundTrip(t *testing.T) {
	req := CreateRequest{
		NSD:       map[string]any{"name": "n", "network_functions": []any{map[string]any{"vnf_id": "a"}}},
		VNFDs:     []map[string]any{{"name": "a"}},
		VNFDKeys:  []string{"VNFD0"},
		Ingresses: []NAP{{Location: "Athens", NAP: "10.0.0.1"}},
		Manoctl: &CreateOptions{InstanceName: "demo-1", SpecDigest: "sha256:x", Placement: &PlacementSpec{
			Policy: "fill-first", AllowedVIMs: []string{"athens"}, Affinity: [][2]string{{"a", "b"}},
		}},
	}
	body := req.Map()
	body["instance_id"] = "i"
	got, err := DecodeCreateRequest(&bus.Message{Payload: body})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Manoctl, req.Manoctl) || got.Extra["instance_id"] != "i" || len(got.VNFDs) != 1 || got.Ingresses[0] != req.Ingresses[0] {
		t.Fatalf("round trip:\n%+v\n%+v", got, req)
	}
	// Through the wire bytes too.
	b, _, err := bus.Encode(bus.TopicServiceUpdate, true, body)
	if err != nil {
		t.Fatal(err)
	}
	got, err = DecodeCreateRequest(&bus.Message{Body: b})
	if err != nil || !reflect.DeepEqual(got.Manoctl, req.Manoctl) {
		t.Fatalf("via yaml: %+v %v", got, err)
	}
	// A typed payload is taken as is.
	got, err = DecodeCreateRequest(&bus.Message{Payload: req})
	if err != nil || got.Manoctl.InstanceName != "demo-1" {
		t.Fatalf("typed: %+v %v", got, err)
	}
}
