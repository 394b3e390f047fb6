package emulator_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/manoctl/manoctl/adapters/emulator"
	"github.com/manoctl/manoctl/reconcile/bus"
	"github.com/manoctl/manoctl/schema/descriptor"
)

// Capacity goes down on deploy (sum of the VDUs, memory in MB) and up on
// removal, and compute.list reports it: the accounting placement relies on.
func TestCapacityAccounting(t *testing.T) {
	h := newHarness(t, emulator.SampleInventory())
	h.prepare(svcA, athens, paderborn)
	for _, d := range []struct{ vim, file, id string }{
		{athens, "firewall-vnfd.yml", fwID},
		{athens, "iperf-vnfd.yml", ipID},
		{paderborn, "tcpdump-vnfd.yml", tdID},
	} {
		if r := h.deploy(svcA, d.vim, d.file, d.id); r["request_status"] != "COMPLETED" {
			t.Fatalf("deploy %s: %v", d.file, r)
		}
	}
	if c, m := h.usage(athens); c != 2 || m != 4000 {
		t.Fatalf("athens after 2 deploys: %d cores %d MB used, want 2 and 4000", c, m)
	}
	if c, m := h.usage(paderborn); c != 1 || m != 2000 {
		t.Fatalf("paderborn: %d cores %d MB, want 1 and 2000", c, m)
	}
	v, _ := h.emu.VIM(athens)
	if v.CoresFree() != 6 || v.MemoryFreeMB() != 12384 {
		t.Errorf("VIM view %+v", v)
	}

	// One function removed (2018 topic).
	h.mustComplete(bus.TopicIAFunctionRemove, map[string]any{"service_instance_id": svcA, "vim_uuid": athens, "vnf_uuid": ipID})
	if c, m := h.usage(athens); c != 1 || m != 2000 {
		t.Fatalf("athens after function.remove: %d/%d", c, m)
	}
	// Removing it again is an error: it is gone.
	h.mustFail(bus.TopicIAFunctionRemove, map[string]any{"service_instance_id": svcA, "vim_uuid": athens, "vnf_uuid": ipID}, "ERROR", "")

	// The service with everything left in it.
	h.mustComplete(bus.TopicIAServiceRemove, map[string]any{"instance_uuid": svcA})
	for _, vim := range []string{athens, paderborn} {
		if c, m := h.usage(vim); c != 0 || m != 0 {
			t.Errorf("%s after service.remove: %d/%d used", vim, c, m)
		}
	}
	if s := h.emu.Snapshot(); len(s.Services) != 0 || len(s.Functions) != 0 {
		t.Errorf("state after service.remove: %+v", s)
	}
}

// A deploy that does not fit is refused and takes nothing.
func TestDeployDoesNotFit(t *testing.T) {
	inv := emulator.Inventory{VIMs: []emulator.VIMConfig{{Name: "small", City: "Aveiro", Cores: 2, MemoryMB: 5000}}}
	h := newHarness(t, inv)
	small := emulator.DeriveVIMUUID("small")
	h.prepare(svcA, small)
	h.deploy(svcA, small, "firewall-vnfd.yml", fwID)
	h.deploy(svcA, small, "iperf-vnfd.yml", ipID)
	r := h.deploy(svcA, small, "tcpdump-vnfd.yml", tdID) // 3rd core and 6000 MB
	if r["request_status"] != "ERROR" || !strings.Contains(r["message"].(string), "Not enough resources") {
		t.Fatalf("reply %v, want ERROR not enough resources", r)
	}
	if c, m := h.usage(small); c != 2 || m != 4000 {
		t.Fatalf("usage %d/%d after refused deploy, want 2/4000", c, m)
	}
	if _, ok := h.emu.Function(tdID); ok {
		t.Fatal("refused function recorded")
	}
	// Memory alone can refuse too.
	inv.VIMs[0].Cores = 100
	h = newHarness(t, inv)
	h.prepare(svcA, small)
	h.deploy(svcA, small, "firewall-vnfd.yml", fwID)
	h.deploy(svcA, small, "iperf-vnfd.yml", ipID)
	if r := h.deploy(svcA, small, "tcpdump-vnfd.yml", tdID); r["request_status"] != "ERROR" {
		t.Fatalf("memory overcommitted: %v", r)
	}
}

// Prepare must precede deploy on that VIM (the mock did not care).
func TestDeployNeedsPrepare(t *testing.T) {
	h := newHarness(t, emulator.SampleInventory())
	if r := h.deploy(svcA, athens, "firewall-vnfd.yml", fwID); r["request_status"] != "ERROR" || r["message"] != emulator.MsgNotPrepared {
		t.Fatalf("deploy without prepare: %v", r)
	}
	h.prepare(svcA, athens)
	if r := h.deploy(svcA, paderborn, "firewall-vnfd.yml", fwID); r["message"] != emulator.MsgNotPrepared {
		t.Fatalf("deploy on a VIM prepared for nothing: %v", r)
	}
	if r := h.deploy(svcA, "no-such-vim", "firewall-vnfd.yml", fwID); r["message"] != emulator.MsgVIMNotFound {
		t.Fatalf("deploy on unknown VIM: %v", r)
	}
	if r := h.deploy(svcA, athens, "firewall-vnfd.yml", fwID); r["request_status"] != "COMPLETED" {
		t.Fatalf("deploy after prepare: %v", r)
	}
}

func TestPrepare(t *testing.T) {
	h := newHarness(t, emulator.SampleInventory())
	// All or nothing: one unknown VIM refuses the whole request.
	h.mustFail(bus.TopicIAServicePrepare, map[string]any{"instance_id": svcA, "vim_list": []any{
		map[string]any{"uuid": athens}, map[string]any{"uuid": "unknown"},
	}}, "ERROR", emulator.MsgVIMNotFound)
	if _, ok := h.emu.Service(svcA); ok {
		t.Fatal("refused prepare recorded a service")
	}
	// Preparing twice is harmless and merges images.
	h.prepare(svcA, athens)
	h.mustComplete(bus.TopicIAServicePrepare, map[string]any{"instance_id": svcA, "vim_list": []any{
		map[string]any{"uuid": athens, "vm_images": []any{map[string]any{"image_uuid": "x_y_1_vdu", "image_url": "http://x", "image_md5": "abc"}}},
	}})
	s, _ := h.emu.Service(svcA)
	if len(s.Prepared) != 1 || len(s.Prepared[0].Images) != 2 || s.Prepared[0].Images[1].MD5 != "abc" {
		t.Fatalf("service %+v", s)
	}
	for _, bad := range []map[string]any{
		{"vim_list": []any{map[string]any{"uuid": athens}}},
		{"instance_id": svcA},
		{"instance_id": svcA, "vim_list": "athens"},
		{"instance_id": svcA, "vim_list": []any{map[string]any{"vm_images": []any{}}}},
		{"instance_id": svcA, "vim_list": []any{map[string]any{"uuid": athens, "vm_images": "x"}}},
	} {
		h.mustFail(bus.TopicIAServicePrepare, bad, "ERROR", "")
	}
}

// Invalid VNFDs for the Java model answer "Deployment Error" and take
// nothing.
func TestDeployValidation(t *testing.T) {
	h := newHarness(t, emulator.SampleInventory())
	h.prepare(svcA, athens)
	vdu := func(mut func(vdu map[string]any)) func(map[string]any) {
		return func(v map[string]any) {
			u := descriptor.Copy(v["virtual_deployment_units"].([]any)[0].(map[string]any))
			mut(u)
			v["virtual_deployment_units"] = []any{u}
		}
	}
	cases := map[string]func(vnfd map[string]any){
		"no instance_uuid":        func(v map[string]any) { delete(v, "instance_uuid") },
		"no uuid":                 func(v map[string]any) { delete(v, "uuid") },
		"bad vnf cp type":         func(v map[string]any) { v["connection_points"] = []any{map[string]any{"id": "x", "type": "E-LAN"}} },
		"cps not a list":          func(v map[string]any) { v["connection_points"] = "mgmt" },
		"vdus not a list":         func(v map[string]any) { v["virtual_deployment_units"] = map[string]any{"id": "vdu01"} },
		"vdu not a mapping":       func(v map[string]any) { v["virtual_deployment_units"] = []any{"vdu01"} },
		"vdu without id":          vdu(func(u map[string]any) { delete(u, "id") }),
		"bad image format":        vdu(func(u map[string]any) { u["vm_image_format"] = "qcow" }),
		"bad vdu cp type":         vdu(func(u map[string]any) { u["connection_points"] = []any{map[string]any{"id": "e", "type": "ethernet"}} }),
		"schema-only unit PT":     vdu(func(u map[string]any) { u["resource_requirements"] = rr(1, 2, "PT") }),
		"unknown unit":            vdu(func(u map[string]any) { u["resource_requirements"] = rr(1, 2, "gigabytes") }),
		"vcpus not a number":      vdu(func(u map[string]any) { u["resource_requirements"] = rr("two", 2, "GB") }),
		"memory size not number":  vdu(func(u map[string]any) { u["resource_requirements"] = rr(1, "2GB", "GB") }),
		"negative vcpus":          vdu(func(u map[string]any) { u["resource_requirements"] = rr(-1, 2, "GB") }),
		"resource reqs not a map": vdu(func(u map[string]any) { u["resource_requirements"] = []any{1} }),
	}
	for name, mut := range cases {
		req := deployRequest(t, svcA, athens, "firewall-vnfd.yml", fwID)
		vnfd := descriptor.Copy(req["vnfd"].(map[string]any))
		mut(vnfd)
		req["vnfd"] = vnfd
		r := h.status(bus.TopicIAFunctionDeploy, req)
		if r["request_status"] != "ERROR" || r["message"] != emulator.MsgDeploymentError {
			t.Errorf("%s: %v, want Deployment Error", name, r)
		}
	}
	for _, bad := range []map[string]any{
		{"service_instance_id": svcA, "vim_uuid": athens},
		{"service_instance_id": svcA, "vim_uuid": athens, "vnfd": "firewall"},
	} {
		h.mustFail(bus.TopicIAFunctionDeploy, bad, "ERROR", emulator.MsgDeploymentError)
	}
	if c, m := h.usage(athens); c != 0 || m != 0 {
		t.Errorf("refused deploys took %d cores %d MB", c, m)
	}
	// Every unit and type the Java model knows is accepted.
	for _, unit := range []string{"B", "kB", "KiB", "MB", "MiB", "GB", "GiB", "TB", "TiB", "PB", "PiB"} {
		req := deployRequest(t, svcA, athens, "firewall-vnfd.yml", "44444444-0000-4000-8000-"+fmt.Sprintf("%012d", len(unit)))
		vnfd := req["vnfd"].(map[string]any)
		vdu(func(u map[string]any) { u["resource_requirements"] = rr(0, 0, unit) })(vnfd)
		h.mustComplete(bus.TopicIAFunctionDeploy, req)
		h.mustComplete(bus.TopicIAFunctionRemove, map[string]any{"service_instance_id": svcA, "vim_uuid": athens, "vnf_uuid": vnfd["instance_uuid"]})
	}
}

func rr(vcpus, size any, unit string) map[string]any {
	return map[string]any{
		"cpu":    map[string]any{"vcpus": vcpus},
		"memory": map[string]any{"size": size, "size_unit": unit},
	}
}

// A deploy request repeated (a re-publish after a reconnect) replays the
// reply and charges once; the same instance elsewhere is refused.
func TestDeployIdempotent(t *testing.T) {
	h := newHarness(t, emulator.SampleInventory())
	h.prepare(svcA, athens, paderborn)
	first := h.deploy(svcA, athens, "firewall-vnfd.yml", fwID)
	again := h.deploy(svcA, athens, "firewall-vnfd.yml", fwID)
	if first["instanceVimUuid"] != again["instanceVimUuid"] || again["request_status"] != "COMPLETED" {
		t.Fatalf("replay differs: %v vs %v", first, again)
	}
	if c, _ := h.usage(athens); c != 1 {
		t.Fatalf("charged %d cores for one function", c)
	}
	if r := h.deploy(svcA, paderborn, "firewall-vnfd.yml", fwID); r["request_status"] != "ERROR" {
		t.Fatalf("same instance on another VIM: %v", r)
	}
}

func TestServiceRemove(t *testing.T) {
	h := newHarness(t, emulator.SampleInventory())
	h.mustFail(bus.TopicIAServiceRemove, map[string]any{"instance_uuid": svcA}, "ERROR", emulator.MsgUnknownInstance)
	h.mustFail(bus.TopicIAServiceRemove, map[string]any{}, "ERROR", "")

	// HEAD's per-VIM form removes one VIM's share.
	h.prepare(svcA, athens, paderborn)
	h.deploy(svcA, athens, "firewall-vnfd.yml", fwID)
	h.deploy(svcA, paderborn, "iperf-vnfd.yml", ipID)
	h.mustFail(bus.TopicIAServiceRemove, map[string]any{"instance_uuid": svcA, "vim_uuid": "unknown"}, "ERROR", emulator.MsgUnknownInstance)
	h.mustComplete(bus.TopicIAServiceRemove, map[string]any{"instance_uuid": svcA, "vim_uuid": paderborn})
	if c, _ := h.usage(paderborn); c != 0 {
		t.Errorf("paderborn still charged %d cores", c)
	}
	s, ok := h.emu.Service(svcA)
	if !ok || len(s.Prepared) != 1 || s.Prepared[0].VIMUUID != athens || len(s.Functions) != 1 || s.Functions[0] != fwID {
		t.Fatalf("service after per-VIM remove: %+v", s)
	}
	h.mustComplete(bus.TopicIAServiceRemove, map[string]any{"instance_uuid": svcA, "vim_uuid": athens})
	if _, ok := h.emu.Service(svcA); ok {
		t.Fatal("service with no VIM left still known")
	}
	// The second remove of a whole service fails like the real IA's.
	h.mustFail(bus.TopicIAServiceRemove, map[string]any{"instance_uuid": svcA}, "ERROR", emulator.MsgUnknownInstance)
}

func chainRequest(t *testing.T, svc string) map[string]any {
	var vnfds []any
	for _, d := range []struct{ file, id string }{{"firewall-vnfd.yml", fwID}, {"iperf-vnfd.yml", ipID}, {"tcpdump-vnfd.yml", tdID}} {
		v := descriptor.Copy(loadDoc(t, d.file))
		v["instance_uuid"] = d.id
		vnfds = append(vnfds, v)
	}
	return map[string]any{"service_instance_id": svc, "nsd": loadDoc(t, "sonata-demo.yml"), "vnfds": vnfds, "vnfrs": []any{}}
}

func deployDemo(h *harness, svc, vim string) {
	for _, d := range []struct{ file, id string }{{"firewall-vnfd.yml", fwID}, {"iperf-vnfd.yml", ipID}, {"tcpdump-vnfd.yml", tdID}} {
		if r := h.deploy(svc, vim, d.file, d.id); r["request_status"] != "COMPLETED" {
			h.t.Fatalf("deploy %s: %v", d.file, r)
		}
	}
}

func TestChaining(t *testing.T) {
	h := newHarness(t, emulator.SampleInventory())
	h.mustFail(bus.TopicIAChainConfigure, chainRequest(t, svcA), "ERROR", "Service instance "+svcA+" not found")
	h.prepare(svcA, athens)
	h.deploy(svcA, athens, "firewall-vnfd.yml", fwID)
	// iperf is on the forwarding path but not deployed.
	r := h.status(bus.TopicIAChainConfigure, chainRequest(t, svcA))
	if r["request_status"] != "ERROR" || !strings.Contains(r["message"].(string), "vnf_iperf") {
		t.Fatalf("chain with a missing VNF: %v", r)
	}
	h.deploy(svcA, athens, "iperf-vnfd.yml", ipID)
	h.deploy(svcA, athens, "tcpdump-vnfd.yml", tdID)
	h.mustComplete(bus.TopicIAChainConfigure, chainRequest(t, svcA))
	if s, _ := h.emu.Service(svcA); !s.Chained {
		t.Fatal("service not marked chained")
	}
	// Shapes the Java payload binding refuses.
	for name, mut := range map[string]func(map[string]any){
		"no id":          func(m map[string]any) { delete(m, "service_instance_id") },
		"nsd not a map":  func(m map[string]any) { m["nsd"] = "sonata-demo" },
		"vnfds not list": func(m map[string]any) { m["vnfds"] = map[string]any{} },
		"vnfrs not list": func(m map[string]any) { m["vnfrs"] = 3 },
		"nap not a map":  func(m map[string]any) { m["nap"] = []any{} },
		"bad cp ref": func(m map[string]any) {
			m["nsd"] = map[string]any{"forwarding_graphs": []any{map[string]any{"network_forwarding_paths": []any{
				map[string]any{"connection_points": []any{map[string]any{"connection_point_ref": "vnf_iperf:", "position": 1}}},
			}}}}
		},
		"unknown vnf_id": func(m map[string]any) {
			m["nsd"] = map[string]any{"forwarding_graphs": []any{map[string]any{"network_forwarding_paths": []any{
				map[string]any{"connection_points": []any{map[string]any{"connection_point_ref": "vnf_nope:input", "position": 1}}},
			}}}}
		},
	} {
		req := chainRequest(t, svcA)
		mut(req)
		if r := h.status(bus.TopicIAChainConfigure, req); r["request_status"] != "ERROR" {
			t.Errorf("%s: %v, want ERROR", name, r)
		}
	}
	// Service-level connection points (bare in the 2017 format) are not
	// chained by the IA: a path through them is fine.
	req := chainRequest(t, svcA)
	req["nsd"] = map[string]any{"forwarding_graphs": []any{map[string]any{"network_forwarding_paths": []any{
		map[string]any{"connection_points": []any{map[string]any{"connection_point_ref": "input", "position": 1}}},
	}}}}
	h.mustComplete(bus.TopicIAChainConfigure, req)
	h.mustComplete(bus.TopicIAChainDeconfigure, map[string]any{"service_instance_id": svcA})
	if s, _ := h.emu.Service(svcA); s.Chained {
		t.Fatal("still chained after deconfigure")
	}
	// Deconfiguring is idempotent, for unknown services too.
	h.mustComplete(bus.TopicIAChainDeconfigure, map[string]any{"service_instance_id": svcA})
	h.mustComplete(bus.TopicIAChainDeconfigure, map[string]any{"service_instance_id": svcB})
	h.mustFail(bus.TopicIAChainDeconfigure, map[string]any{}, "ERROR", "")
}

func TestWAN(t *testing.T) {
	h := newHarness(t, emulator.SampleInventory())
	wan := func(svc string, vims ...string) map[string]any {
		var l []any
		for i, v := range vims {
			l = append(l, map[string]any{"uuid": v, "order": i})
		}
		return map[string]any{"service_instance_id": svc, "vim_list": l}
	}
	h.mustFail(bus.TopicIAWanConfigure, wan(svcA, athens), "FAILED", "")
	h.prepare(svcA, athens, paderborn)
	h.mustFail(bus.TopicIAWanConfigure, wan(svcA, athens, paderborn, athens), "FAILED", emulator.MsgDuplicateVIMs)
	h.mustFail(bus.TopicIAWanConfigure, wan(svcA, "unknown"), "FAILED", "Can't find the WIM to wich VIM unknown is attached")
	for _, bad := range []map[string]any{
		{"vim_list": []any{}},
		{"service_instance_id": svcA, "vim_list": "athens"},
		{"service_instance_id": svcA, "vim_list": []any{map[string]any{"order": 0}}},
		{"service_instance_id": svcA, "vim_list": []any{map[string]any{"uuid": athens, "order": "first"}}},
		{"service_instance_id": svcA, "vim_list": []any{}, "nap": "x"},
	} {
		h.mustFail(bus.TopicIAWanConfigure, bad, "fail", emulator.MsgPayloadParseError)
	}
	// Without WIMs the WAN reaches every VIM; vim_list is kept in order.
	h.mustComplete(bus.TopicIAWanConfigure, map[string]any{"service_instance_id": svcA, "vim_list": []any{
		map[string]any{"uuid": paderborn, "order": 1}, map[string]any{"uuid": athens, "order": 0},
	}, "nap": map[string]any{"ingresses": []any{map[string]any{"location": "Athens", "nap": "10.0.0.1/32"}}}})
	if s, _ := h.emu.Service(svcA); !s.WANConfigured || len(s.WANVIMs) != 2 || s.WANVIMs[0] != athens {
		t.Fatalf("service %+v", s)
	}
	// Once a WIM exists, VIMs must be attached to one.
	r := h.status(bus.TopicIAWanAdd, map[string]any{"wim_vendor": "MOCK", "wim_address": "10.1.1.1", "username": "u", "pass": "p", "name": "wan-1"})
	wim := r["uuid"].(string)
	h.mustFail(bus.TopicIAWanConfigure, wan(svcA, athens), "FAILED", "Can't find the WIM to wich VIM "+athens+" is attached")
	h.status(bus.TopicIAWanAttach, map[string]any{"wim_uuid": wim, "vim_uuid": athens, "vim_address": "10.100.0.1"})
	h.mustComplete(bus.TopicIAWanConfigure, wan(svcA, athens))
	h.mustComplete(bus.TopicIAWanDeconfigure, map[string]any{"service_instance_id": svcA})
	if s, _ := h.emu.Service(svcA); s.WANConfigured {
		t.Fatal("still configured after deconfigure")
	}
	h.mustComplete(bus.TopicIAWanDeconfigure, map[string]any{"service_instance_id": svcB})
	h.mustFail(bus.TopicIAWanDeconfigure, map[string]any{}, "fail", emulator.MsgPayloadParseError)
}

// Drift: a function lost behind the MANO's back frees its capacity, and
// chaining now notices.
func TestLoseFunction(t *testing.T) {
	h := newHarness(t, emulator.SampleInventory())
	h.prepare(svcA, athens)
	deployDemo(h, svcA, athens)
	if !h.emu.LoseFunction(ipID) || h.emu.LoseFunction(ipID) {
		t.Fatal("LoseFunction must report whether the function existed")
	}
	if c, m := h.usage(athens); c != 2 || m != 4000 {
		t.Errorf("usage after loss %d/%d", c, m)
	}
	s, _ := h.emu.Service(svcA)
	if len(s.Functions) != 2 || len(s.Prepared) != 1 {
		t.Errorf("service after loss %+v", s)
	}
	if r := h.status(bus.TopicIAChainConfigure, chainRequest(t, svcA)); r["request_status"] != "ERROR" {
		t.Errorf("chain over a lost function: %v", r)
	}
	// Heal: redeploy the same instance.
	h.deploy(svcA, athens, "iperf-vnfd.yml", ipID)
	h.mustComplete(bus.TopicIAChainConfigure, chainRequest(t, svcA))
}

func TestManagement(t *testing.T) {
	h := newHarness(t, emulator.SampleInventory())
	// compute.add: uuid from the name, Mock capacity unless given.
	r := h.status(bus.TopicIAComputeAdd, vimAdd("mock", "Mock1"))
	mock1 := r["uuid"].(string)
	if mock1 != emulator.DeriveVIMUUID("Mock1") {
		t.Errorf("uuid %s, want the name's", mock1)
	}
	big := vimAdd("Heat", "Mock1") // duplicate names are allowed, uuids differ
	big["core_total"], big["memory_total"], big["domain"] = 64, 262144, "lab"
	r = h.status(bus.TopicIAComputeAdd, big)
	heat := r["uuid"].(string)
	if heat == mock1 {
		t.Fatal("two VIMs share a uuid")
	}
	vims := h.emu.VIMs()
	if len(vims) != 4 || vims[2].CoreTotal != 10 || vims[2].MemoryTotalMB != 10000 || vims[2].City != "London" ||
		vims[3].CoreTotal != 64 || vims[3].Domain != "lab" || vims[3].Type != "Heat" {
		t.Fatalf("VIMs %+v", vims)
	}
	h.mustFail(bus.TopicIAComputeAdd, vimAdd("OpenStack", "os"), "ERROR", emulator.MsgCannotAttach)
	h.mustFail(bus.TopicIAComputeAdd, vimAdd("Kubernetes", "k8s"), "ERROR", "")
	noCity := vimAdd("Mock", "x")
	delete(noCity, "city")
	h.mustFail(bus.TopicIAComputeAdd, noCity, "ERROR", "Malformed request: missing city")
	badCores := vimAdd("Mock", "x")
	badCores["core_total"] = "many"
	h.mustFail(bus.TopicIAComputeAdd, badCores, "ERROR", "")

	// network.add links a network VIM to a compute VIM.
	netReq := vimAdd("networkMock", "net1")
	netReq["configuration"] = map[string]any{"compute_uuid": mock1}
	r = h.status(bus.TopicIANetworkAdd, netReq)
	net1, _ := r["uuid"].(string)
	if r["request_status"] != "COMPLETED" || net1 == "" {
		t.Fatalf("network.add %v", r)
	}
	netReq["configuration"] = map[string]any{"compute_uuid": "nope"}
	h.mustFail(bus.TopicIANetworkAdd, netReq, "ERROR", emulator.MsgCannotAttach)
	_, body := h.request(bus.TopicIANetworkList, map[string]any{})
	if l := body.([]any); len(l) != 1 || l[0].(map[string]any)["compute_uuid"] != mock1 {
		t.Fatalf("network.list %v", l)
	}

	other := vimAdd("ovs", "net2")
	other["configuration"] = map[string]any{"compute_uuid": athens}
	net2 := h.status(bus.TopicIANetworkAdd, other)["uuid"]
	if r := h.status(bus.TopicIANetworkRemove, map[string]any{"uuid": net2}); r["request_status"] != "COMPLETED" || len(r) != 1 {
		t.Fatalf("network.remove %v", r)
	}

	// A VIM in use cannot be removed; a free one can, with its network VIM.
	h.prepare(svcA, mock1)
	h.mustFail(bus.TopicIAComputeRemove, map[string]any{"uuid": mock1}, "ERROR", "")
	h.mustComplete(bus.TopicIAServiceRemove, map[string]any{"instance_uuid": svcA})
	if r := h.status(bus.TopicIAComputeRemove, map[string]any{"uuid": mock1}); r["request_status"] != "COMPLETED" || len(r) != 1 {
		t.Fatalf("compute.remove %v, want {request_status: COMPLETED}", r)
	}
	if s := h.emu.Snapshot(); len(s.VIMs) != 3 || len(s.NetworkVIMs) != 0 {
		t.Fatalf("after remove: %+v", s)
	}
	h.mustFail(bus.TopicIAComputeRemove, map[string]any{"uuid": mock1}, "ERROR", emulator.MsgVIMNotFound)
	h.mustFail(bus.TopicIANetworkRemove, map[string]any{"uuid": net1}, "ERROR", emulator.MsgVIMNotFound)

	// WIMs.
	r = h.status(bus.TopicIAWanAdd, map[string]any{"wim_vendor": "VTN", "wim_address": "10.1.1.1", "username": "u", "pass": "p", "name": "wan-1"})
	wim := r["uuid"].(string)
	h.mustFail(bus.TopicIAWanAdd, map[string]any{"wim_vendor": "ACME", "wim_address": "a", "username": "u", "pass": "p", "name": "w"}, "ERROR", "")
	if r := h.status(bus.TopicIAWanAttach, map[string]any{"wim_uuid": wim, "vim_uuid": athens, "vim_address": "10.100.0.1"}); r["request_status"] != "COMPLETED" {
		t.Fatalf("wan.attach %v", r)
	}
	h.mustFail(bus.TopicIAWanAttach, map[string]any{"wim_uuid": wim}, "ERROR", emulator.MsgMalformedRequest)
	h.mustFail(bus.TopicIAWanAttach, map[string]any{"wim_uuid": "nope", "vim_uuid": athens, "vim_address": "x"}, "ERROR", "")
	_, body = h.request(bus.TopicIAWanList, map[string]any{})
	l := body.([]any)
	if len(l) != 1 || l[0].(map[string]any)["uuid"] != wim || len(l[0].(map[string]any)["attached_vims"].([]any)) != 1 {
		t.Fatalf("wan.list %v", l)
	}
	h.mustFail(bus.TopicIAWanRemove, map[string]any{"uuid": wim}, "ERROR", "") // wr_type is required
	if r := h.status(bus.TopicIAWanRemove, map[string]any{"uuid": wim, "wr_type": "WIM"}); r["request_status"] != "COMPLETED" {
		t.Fatalf("wan.remove %v", r)
	}
	h.mustFail(bus.TopicIAWanRemove, map[string]any{"uuid": wim, "wr_type": "WIM"}, "ERROR", "")
}

// The inventory's WIMs attach its VIMs by name or uuid.
func TestInventoryWIMs(t *testing.T) {
	inv := emulator.SampleInventory()
	inv.WIMs = []emulator.WIMConfig{{Name: "core", Vendor: "MOCK", VIMs: []string{"athens"}}}
	h := newHarness(t, inv)
	h.prepare(svcA, athens, paderborn)
	h.mustComplete(bus.TopicIAWanConfigure, map[string]any{"service_instance_id": svcA, "vim_list": []any{map[string]any{"uuid": athens, "order": 0}}})
	h.mustFail(bus.TopicIAWanConfigure, map[string]any{"service_instance_id": svcA, "vim_list": []any{map[string]any{"uuid": paderborn, "order": 0}}}, "FAILED", "")
	if w := h.emu.Snapshot().WIMs; len(w) != 1 || w[0].UUID != emulator.DeriveWIMUUID("core") || w[0].VIMs[0] != athens {
		t.Fatalf("WIMs %+v", w)
	}
}

// With concurrent handling, capacity accounting stays exact (run with
// -race).
func TestConcurrentDeploys(t *testing.T) {
	const n = 64
	inv := emulator.Inventory{VIMs: []emulator.VIMConfig{{Name: "big", Cores: n, MemoryMB: n * 2000}}}
	h := newHarness(t, inv, emulator.WithConcurrency(8))
	vim := emulator.DeriveVIMUUID("big")
	h.prepare(svcA, vim)
	errs := make(chan error, n+8)
	for i := 0; i < n+8; i++ { // 8 more than fit
		req := deployRequest(t, svcA, vim, "firewall-vnfd.yml", fmt.Sprintf("55555555-0000-4000-8000-%012d", i))
		go func() {
			m, err := h.cl.Request(t.Context(), bus.TopicIAFunctionDeploy, req)
			if err == nil {
				var r map[string]any
				if err = m.Decode(&r); err == nil && r["request_status"] != "COMPLETED" {
					err = fmt.Errorf("%v", r["message"])
				}
			}
			errs <- err
		}()
	}
	refused := 0
	for i := 0; i < n+8; i++ {
		if err := <-errs; err != nil {
			if !strings.Contains(err.Error(), "Not enough resources") {
				t.Fatal(err)
			}
			refused++
		}
	}
	if c, m := h.usage(vim); refused != 8 || c != n || m != n*2000 || len(h.emu.Functions(svcA)) != n {
		t.Fatalf("refused %d, usage %d cores %d MB, %d functions", refused, c, m, len(h.emu.Functions(svcA)))
	}
}
