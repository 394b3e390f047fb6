package emulator_test

import (
	"reflect"
	"testing"

	"github.com/manoctl/manoctl/adapters/emulator"
	"github.com/manoctl/manoctl/reconcile/bus"
)

// The embedded platform persists the emulator between invocations: what
// was deployed before must still be there, with its capacity, addresses
// and the ability to remove it.
func TestExportImportRoundTrip(t *testing.T) {
	h := newHarness(t, emulator.SampleInventory())
	h.prepare(svcA, athens)
	h.deploy(svcA, athens, "firewall-vnfd.yml", fwID)
	h.deploy(svcA, athens, "iperf-vnfd.yml", ipID)
	data, err := h.emu.Export()
	if err != nil {
		t.Fatal(err)
	}
	h.emu.Close()

	fresh, err := emulator.New(emulator.SampleInventory())
	if err != nil {
		t.Fatal(err)
	}
	dropped, err := fresh.Import(data)
	if err != nil || len(dropped) != 0 {
		t.Fatalf("import: %v, dropped %v", err, dropped)
	}
	if !reflect.DeepEqual(h.emu.VIMs(), fresh.VIMs()) {
		t.Fatalf("VIM use differs:\n%+v\n%+v", h.emu.VIMs(), fresh.VIMs())
	}
	f1, _ := h.emu.Function(fwID)
	f2, ok := fresh.Function(fwID)
	if !ok || !reflect.DeepEqual(f1, f2) {
		t.Fatalf("function differs:\n%+v\n%+v", f1, f2)
	}
	if err := fresh.Start(t.Context(), h.br.Default()); err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	// A repeated deploy replays the stored reply (idempotent), and remove
	// frees everything.
	if r := h.deploy(svcA, athens, "firewall-vnfd.yml", fwID); r["request_status"] != "COMPLETED" {
		t.Fatalf("replayed deploy: %v", r)
	}
	h.mustComplete(bus.TopicIAServiceRemove, map[string]any{"instance_uuid": svcA})
	for _, v := range fresh.VIMs() {
		if v.CoreUsed != 0 || v.MemoryUsedMB != 0 {
			t.Fatalf("capacity not freed: %+v", v)
		}
	}
}

func TestImportDropsFunctionsOfRemovedVIMs(t *testing.T) {
	h := newHarness(t, emulator.SampleInventory())
	h.prepare(svcA, athens)
	h.deploy(svcA, athens, "firewall-vnfd.yml", fwID)
	data, _ := h.emu.Export()
	inv := emulator.SampleInventory()
	var kept []emulator.VIMConfig
	for _, v := range inv.VIMs {
		if v.UUID != athens && emulator.DeriveVIMUUID(v.Name) != athens {
			kept = append(kept, v)
		}
	}
	inv.VIMs = kept
	fresh, _ := emulator.New(inv)
	dropped, err := fresh.Import(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(dropped) != 1 || dropped[0] != fwID {
		t.Fatalf("dropped %v, want the function on the removed VIM", dropped)
	}
	if _, err := fresh.Import([]byte("{")); err == nil {
		t.Fatal("garbage imported")
	}
}

// A daemon asks manoctl's emulator which functions run, to find drift.
func TestStateQuery(t *testing.T) {
	h := newHarness(t, emulator.SampleInventory())
	h.prepare(svcA, athens)
	h.deploy(svcA, athens, "firewall-vnfd.yml", fwID)
	m, err := h.cl.Request(t.Context(), emulator.StateTopic, map[string]any{})
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Functions []string
		Instances []struct {
			ID                string `json:"id"`
			ServiceInstanceID string `json:"service_instance_id"`
			VIMUUID           string `json:"vim_uuid"`
		}
	}
	if err := m.Decode(&st); err != nil || len(st.Functions) != 1 || st.Functions[0] != fwID {
		t.Fatalf("state %+v %v", st, err)
	}
	if len(st.Instances) != 1 || st.Instances[0].ID != fwID || st.Instances[0].ServiceInstanceID != svcA || st.Instances[0].VIMUUID != athens {
		t.Fatalf("instances %+v", st.Instances)
	}
	h.emu.LoseFunction(fwID)
	m, _ = h.cl.Request(t.Context(), emulator.StateTopic, map[string]any{})
	m.Decode(&st)
	if len(st.Functions) != 0 {
		t.Fatalf("lost function still reported: %v", st.Functions)
	}
}
