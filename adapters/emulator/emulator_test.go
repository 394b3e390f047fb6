package emulator_test

import (
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/manoctl/manoctl/adapters/emulator"
	"github.com/manoctl/manoctl/reconcile/bus"
)

// Every topic answers on the request topic with the request's correlation
// id, no reply_to, the IA's app id, an honest content type and the keys the
// Java IA writes.
func TestReplyEnvelopes(t *testing.T) {
	h := newHarness(t, emulator.SampleInventory())
	h.prepare(svcA, athens)
	cases := []struct {
		topic   string
		payload any
		keys    []string // of a mapping reply; nil for a sequence
		status  string
	}{
		{bus.TopicIAComputeList, map[string]any{}, nil, ""},
		{bus.TopicIAServicePrepare, map[string]any{"instance_id": svcB, "vim_list": []any{map[string]any{"uuid": athens, "vm_images": []any{}}}},
			[]string{"message", "request_status"}, "COMPLETED"},
		{bus.TopicIAFunctionDeploy, deployRequest(t, svcA, athens, "firewall-vnfd.yml", fwID),
			[]string{"instanceName", "instanceVimUuid", "message", "request_status", "vimUuid", "vnfr"}, "COMPLETED"},
		{bus.TopicIAChainConfigure, map[string]any{"service_instance_id": svcB, "nsd": map[string]any{"name": "empty"}, "vnfds": []any{}, "vnfrs": []any{}},
			[]string{"message", "request_status"}, "COMPLETED"},
		{bus.TopicIAWanConfigure, map[string]any{"service_instance_id": svcB, "vim_list": []any{map[string]any{"uuid": athens, "order": 0}}},
			[]string{"message", "request_status"}, "COMPLETED"},
		{bus.TopicIAWanDeconfigure, map[string]any{"service_instance_id": svcB}, []string{"message", "request_status"}, "COMPLETED"},
		{bus.TopicIAChainDeconfigure, map[string]any{"service_instance_id": svcB}, []string{"message", "request_status"}, "COMPLETED"},
		{bus.TopicIAFunctionRemove, map[string]any{"service_instance_id": svcA, "vim_uuid": athens, "vnf_uuid": fwID},
			[]string{"message", "request_status"}, "COMPLETED"},
		{bus.TopicIAServiceRemove, map[string]any{"instance_uuid": svcB}, []string{"message", "request_status"}, "COMPLETED"},
		{bus.TopicIAServiceDeploy, map[string]any{}, []string{"message", "request_status"}, "ERROR"},
		{bus.TopicIAFunctionScale, map[string]any{"function_instance_id": fwID, "service_instance_id": svcA}, []string{"message", "request_status"}, "ERROR"},
		{bus.TopicIAResourceAvailability, map[string]any{"cpu": 1, "memory": 1, "memory_unit": "GB"}, []string{"status"}, ""},
		{bus.TopicIAComputeAdd, vimAdd("Mock", "mock1"), []string{"request_status", "uuid"}, "COMPLETED"},
		{bus.TopicIANetworkList, map[string]any{}, nil, ""},
		{bus.TopicIAWanAdd, map[string]any{"wim_vendor": "MOCK", "wim_address": "10.0.0.9", "username": "u", "pass": "p", "name": "wim1"},
			[]string{"message", "request_status", "uuid"}, "COMPLETED"},
		{bus.TopicIAWanList, map[string]any{}, nil, ""},
		{bus.TopicIAComputeRemove, map[string]any{"uuid": emulator.DeriveVIMUUID("mock1")}, []string{"request_status"}, "COMPLETED"},
		{"infrastructure.management.storage.list", map[string]any{}, []string{"message", "request_status"}, "ERROR"},
	}
	for _, c := range cases {
		m, body := h.request(c.topic, c.payload)
		if m.Topic != c.topic || m.AppID != bus.AppIA || m.ReplyTo != "" || m.CorrelationID == "" {
			t.Errorf("%s: envelope topic=%q app_id=%q reply_to=%q corr=%q", c.topic, m.Topic, m.AppID, m.ReplyTo, m.CorrelationID)
		}
		if !m.Persistent {
			t.Errorf("%s: reply not persistent (the IA publishes delivery_mode 2)", c.topic)
		}
		wantCT := bus.ContentTypeYAML
		if bus.EncodingFor(c.topic, false) == bus.JSON {
			wantCT = bus.ContentTypeJSON
		}
		if m.ContentType != wantCT {
			t.Errorf("%s: content_type %q, want %q", c.topic, m.ContentType, wantCT)
		}
		// What the AMQP adapter will put on the wire must parse back.
		wire, _, err := bus.Encode(c.topic, false, m.Payload)
		if err != nil {
			t.Errorf("%s: encode: %v", c.topic, err)
			continue
		}
		var back any
		if err := bus.Unmarshal(wire, &back); err != nil {
			t.Errorf("%s: encoded reply %q does not parse: %v", c.topic, wire, err)
		}
		if c.keys == nil {
			if _, ok := body.([]any); !ok {
				t.Errorf("%s: reply %T, want a sequence", c.topic, body)
			}
			continue
		}
		mm, ok := body.(map[string]any)
		if !ok {
			t.Errorf("%s: reply %T, want a mapping", c.topic, body)
			continue
		}
		if got := keys(mm); !reflect.DeepEqual(got, c.keys) {
			t.Errorf("%s: keys %v, want %v", c.topic, got, c.keys)
		}
		if c.status != "" && mm["request_status"] != c.status {
			t.Errorf("%s: request_status %v, want %s (%v)", c.topic, mm["request_status"], c.status, mm)
		}
	}
}

func vimAdd(typ, name string) map[string]any {
	return map[string]any{
		"vim_type": typ, "vim_address": "http://localhost:9999", "username": "Eve", "pass": "Operator",
		"city": "London", "country": "", "name": name,
		"configuration": map[string]any{"tenant": "operator", "tenant_ext_net": "ext-subnet", "tenant_ext_router": "ext-router"},
	}
}

// The compute.list reply is the list the SLM stores as topology: the eight
// Sep-2017 keys, plus vim_domain where a domain is configured (§8.3, §8.8).
func TestComputeList(t *testing.T) {
	h := newHarness(t, emulator.SampleInventory())
	m, body := h.request(bus.TopicIAComputeList, map[string]any{})
	if bus.EncodingFor(m.Topic, false) != bus.YAML || m.ContentType != bus.ContentTypeYAML {
		t.Fatalf("compute.list reply must be YAML data, content_type %q", m.ContentType)
	}
	list := body.([]any)
	if len(list) != 2 {
		t.Fatalf("%d VIMs, want 2", len(list))
	}
	base := []string{"core_total", "core_used", "memory_total", "memory_used", "vim_city", "vim_endpoint", "vim_name", "vim_uuid"}
	a, p := list[0].(map[string]any), list[1].(map[string]any)
	if got := keys(a); !reflect.DeepEqual(got, base) {
		t.Errorf("VIM without domain: keys %v, want %v", got, base)
	}
	withDomain := []string{"core_total", "core_used", "memory_total", "memory_used", "vim_city", "vim_domain", "vim_endpoint", "vim_name", "vim_uuid"}
	if got := keys(p); !reflect.DeepEqual(got, withDomain) {
		t.Errorf("VIM with domain: keys %v", got)
	}
	want := map[string]any{"vim_uuid": athens, "vim_name": "athens", "vim_city": "Athens", "vim_endpoint": "http://athens.example:5000/v2.0",
		"core_total": 8, "core_used": 0, "memory_total": 16384, "memory_used": 0}
	if !reflect.DeepEqual(a, want) {
		t.Errorf("athens = %v, want %v", a, want)
	}
	if p["vim_domain"] != "upb" || p["vim_uuid"] != paderborn {
		t.Errorf("paderborn = %v", p)
	}
	// On the wire it is a top-level YAML sequence that parses back to the
	// same list (the Java IA writes it in block style, manoctl in flow
	// style; readers see the same values).
	wire, _, _ := bus.Encode(m.Topic, false, m.Payload)
	var seq []any
	if err := yaml.Unmarshal(wire, &seq); err != nil || len(seq) != 2 {
		t.Errorf("compute.list is not a top-level YAML sequence of 2 VIMs:\n%s (%v)", wire, err)
	}
}

var (
	ipv4 = regexp.MustCompile(`^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$`)
	mac  = regexp.MustCompile(`^fa:16:3e(:[0-9a-f]{2}){3}$`)
)

// The deploy reply is §8.3's, with the vnfc_instance entries the 2017
// mock never sent.
func TestDeployReply(t *testing.T) {
	h := newHarness(t, emulator.SampleInventory())
	h.prepare(svcA, athens)
	m, err := h.cl.Request(t.Context(), bus.TopicIAFunctionDeploy, deployRequest(t, svcA, athens, "firewall-vnfd.yml", fwID))
	if err != nil {
		t.Fatal(err)
	}
	if m.ContentType != bus.ContentTypeYAML {
		t.Errorf("content_type %q, want YAML (data reply)", m.ContentType)
	}
	// Decode as the FLM would after an AMQP hop: through the YAML wire form.
	wire, _, err := bus.Encode(m.Topic, false, m.Payload)
	if err != nil {
		t.Fatal(err)
	}
	var r map[string]any
	if err := bus.Unmarshal(wire, &r); err != nil {
		t.Fatalf("deploy reply YAML does not parse: %v\n%s", err, wire)
	}
	if r["request_status"] != "COMPLETED" || r["message"] != "" || r["vimUuid"] != athens ||
		r["instanceName"] != "firewall-vnf-"+fwID || r["instanceVimUuid"] == "" {
		t.Fatalf("reply %v", r)
	}
	vnfr := r["vnfr"].(map[string]any)
	if got := keys(vnfr); !reflect.DeepEqual(got, []string{"connection_points", "descriptor_reference", "descriptor_version", "id", "status", "virtual_deployment_units"}) {
		t.Errorf("vnfr keys %v", got)
	}
	if vnfr["descriptor_version"] != "vnfr-schema-01" || vnfr["id"] != fwID ||
		vnfr["descriptor_reference"] != "6a15313f-cb0a-4540-baa2-77cc6b3f5b68" || vnfr["status"] != "normal operation" {
		t.Errorf("vnfr %v", vnfr)
	}
	if cps := vnfr["connection_points"].([]any); len(cps) != 3 || cps[0].(map[string]any)["id"] != "mgmt" {
		t.Errorf("vnf connection points %v", cps)
	}
	vdus := vnfr["virtual_deployment_units"].([]any)
	if len(vdus) != 1 {
		t.Fatalf("%d VDUs", len(vdus))
	}
	vdu := vdus[0].(map[string]any)
	if vdu["id"] != "vdu01" || vdu["vdu_reference"] != "firewall-vnf:vdu01" || vdu["number_of_instances"] != 1 ||
		!strings.HasSuffix(vdu["vm_image"].(string), ".qcow") {
		t.Errorf("vdu %v", vdu)
	}
	vnfcs := vdu["vnfc_instance"].([]any)
	if len(vnfcs) != 1 {
		t.Fatalf("%d vnfc instances, want 1 per VDU", len(vnfcs))
	}
	vnfc := vnfcs[0].(map[string]any)
	if vnfc["vim_id"] != athens || vnfc["vc_id"] == "" || vnfc["id"] == nil {
		t.Errorf("vnfc %v", vnfc)
	}
	seen := map[string]bool{}
	cps := vnfc["connection_points"].([]any)
	if len(cps) != 3 {
		t.Fatalf("%d vnfc connection points, want the VDU's 3", len(cps))
	}
	for _, c := range cps {
		cp := c.(map[string]any)
		iface := cp["interface"].(map[string]any)
		addr, hw := iface["address"].(string), iface["hardware_address"].(string)
		if !strings.HasPrefix(cp["id"].(string), "vdu01:eth") || cp["type"] != "interface" {
			t.Errorf("cp %v", cp)
		}
		if !ipv4.MatchString(addr) || !mac.MatchString(hw) || iface["netmask"] != "255.255.255.248" {
			t.Errorf("interface %v is not well-formed", iface)
		}
		if seen[addr] || seen[hw] {
			t.Errorf("address %s or %s used twice in one deployment", addr, hw)
		}
		seen[addr], seen[hw] = true, true
	}
}

// Management connection points get a floating address without netmask;
// the record keeps the VNFD's cp types.
func TestDeployManagementAddress(t *testing.T) {
	h := newHarness(t, emulator.SampleInventory())
	h.prepare(svcA, athens)
	req := deployRequest(t, svcA, athens, "iperf-vnfd.yml", ipID)
	vnfd := req["vnfd"].(map[string]any)
	vnfd["virtual_deployment_units"] = []any{map[string]any{
		"id": "vdu01", "resource_requirements": map[string]any{"cpu": map[string]any{"vcpus": 1}},
		"connection_points": []any{
			map[string]any{"id": "eth0", "interface": "ipv4", "type": "management"},
			map[string]any{"id": "eth1", "interface": "ipv4", "type": "internal"},
			map[string]any{"id": "eth2", "interface": "ipv4"},
		},
	}}
	r := h.status(bus.TopicIAFunctionDeploy, req)
	reply := r["vnfr"].(map[string]any)["virtual_deployment_units"].([]any)[0].(map[string]any)
	cps := reply["vnfc_instance"].([]any)[0].(map[string]any)["connection_points"].([]any)
	mgmt, internal, untyped := cps[0].(map[string]any), cps[1].(map[string]any), cps[2].(map[string]any)
	if mgmt["type"] != "management" || mgmt["interface"].(map[string]any)["netmask"] != nil {
		t.Errorf("management cp %v: want a floating address without netmask", mgmt)
	}
	if internal["type"] != "internal" || internal["interface"].(map[string]any)["netmask"] != "255.255.255.248" {
		t.Errorf("internal cp %v", internal)
	}
	if untyped["type"] != "internal" {
		t.Errorf("cp without type %v: want internal", untyped)
	}
}

// Fake ids and addresses are a function of the seed and the request, so
// that plans and goldens are reproducible, and differ between seeds.
func TestDeployIsDeterministic(t *testing.T) {
	run := func(opts ...emulator.Option) *emulator.DeployReply {
		h := newHarness(t, emulator.SampleInventory(), opts...)
		h.prepare(svcA, athens)
		// A different function first must not change the second's record.
		h.deploy(svcA, athens, "iperf-vnfd.yml", ipID)
		h.deploy(svcA, athens, "firewall-vnfd.yml", fwID)
		f, ok := h.emu.Function(fwID)
		if !ok {
			t.Fatal("function not recorded")
		}
		return f.Reply
	}
	a, b, c := run(), run(), run(emulator.WithSeed(42))
	if !reflect.DeepEqual(a, b) {
		t.Errorf("same seed, different records:\n%+v\n%+v", a.VNFR, b.VNFR)
	}
	if reflect.DeepEqual(a.VNFR.VirtualDeploymentUnits, c.VNFR.VirtualDeploymentUnits) {
		t.Error("a different seed gave the same addresses")
	}
}

// Addresses stay unique across every live deployment.
func TestAddressesUniqueAcrossFunctions(t *testing.T) {
	inv := emulator.Inventory{VIMs: []emulator.VIMConfig{{Name: "big", Cores: 1000, MemoryMB: 1 << 30}}}
	h := newHarness(t, inv)
	vim := emulator.DeriveVIMUUID("big")
	h.prepare(svcA, vim)
	seen := map[string]string{}
	for i := 0; i < 200; i++ {
		id := fmt.Sprintf("33333333-0000-4000-8000-%012d", i)
		h.deploy(svcA, vim, "firewall-vnfd.yml", id)
	}
	for _, f := range h.emu.Functions(svcA) {
		for _, vdu := range f.Reply.VNFR.VirtualDeploymentUnits {
			for _, c := range vdu.VNFCInstance {
				for _, cp := range c.ConnectionPoints {
					for _, a := range []string{cp.Interface.Address, cp.Interface.HardwareAddress} {
						if other, dup := seen[a]; dup {
							t.Fatalf("%s given to %s and %s", a, other, f.InstanceUUID)
						}
						seen[a] = f.InstanceUUID
					}
				}
			}
		}
	}
	if len(seen) != 200*3*2 {
		t.Fatalf("%d distinct addresses, want %d", len(seen), 200*3*2)
	}
}

// With WithWIMAppID, WAN topics answer as the separate WIM adaptor.
func TestWIMAppID(t *testing.T) {
	h := newHarness(t, emulator.SampleInventory(), emulator.WithWIMAppID())
	h.prepare(svcA, athens)
	m, _ := h.request(bus.TopicIAWanConfigure, map[string]any{"service_instance_id": svcA, "vim_list": []any{}})
	if m.AppID != bus.AppWIM {
		t.Errorf("wan.configure app_id %q, want %s", m.AppID, bus.AppWIM)
	}
	m, _ = h.request(bus.TopicIAComputeList, map[string]any{})
	if m.AppID != bus.AppIA {
		t.Errorf("compute.list app_id %q, want %s", m.AppID, bus.AppIA)
	}
}

func TestStartTwiceAndAfterClose(t *testing.T) {
	h := newHarness(t, emulator.SampleInventory())
	if err := h.emu.Start(t.Context(), h.br.Default()); err == nil {
		t.Error("second Start succeeded")
	}
	e, err := emulator.New(emulator.SampleInventory())
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.Start(t.Context(), h.br.Default()); err == nil {
		t.Error("Start after Close succeeded")
	}
}

func TestStartOnClosedBus(t *testing.T) {
	h := newHarness(t, emulator.SampleInventory())
	c := h.br.Default()
	c.Close()
	e, err := emulator.New(emulator.SampleInventory())
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if err := e.Start(t.Context(), c); err == nil {
		t.Fatal("Start on a closed connection succeeded")
	}
}
