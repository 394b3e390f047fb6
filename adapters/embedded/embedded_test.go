package embedded_test

import (
	"context"
	"testing"
	"time"

	"github.com/manoctl/manoctl/adapters/embedded"
	"github.com/manoctl/manoctl/adapters/emulator"
	"github.com/manoctl/manoctl/reconcile/bus"
	"github.com/manoctl/manoctl/reconcile/mano"
	"github.com/manoctl/manoctl/reconcile/slm"
	"github.com/manoctl/manoctl/reconcile/wire"
)

func inventory() emulator.Inventory {
	return emulator.Inventory{VIMs: []emulator.VIMConfig{
		{Name: "athens", City: "Athens", Endpoint: "10.100.32.200", Cores: 32, MemoryMB: 65536},
		{Name: "aveiro", City: "Aveiro", Endpoint: "10.1.10.0", Cores: 32, MemoryMB: 65536},
	}}
}

func start(t testing.TB, mut func(*embedded.Config)) (*embedded.Platform, *slm.MemRecords) {
	t.Helper()
	rec := slm.NewMemRecords()
	cfg := embedded.Config{Inventory: inventory(), MANO: mano.Config{Placer: embedded.DefaultPlacer(), Records: rec}}
	if mut != nil {
		mut(&cfg)
	}
	p, err := embedded.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p, rec
}

func demo(t testing.TB) wire.CreateRequest {
	t.Helper()
	req, err := embedded.SonataDemo("testdata/sonata-demo")
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func TestInstantiateTerminateSonataDemo(t *testing.T) {
	p, rec := start(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	before := p.IA.VIMs()
	var seen []string
	res, err := p.GK.Create(ctx, demo(t), func(s wire.StatusMessage) { seen = append(seen, s.Status) })
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK() {
		t.Fatalf("instantiation ended %s: %v", res.Final.Status, res.Final.Error)
	}
	if len(seen) != 1 || seen[0] != bus.StatusInstantiating {
		t.Fatalf("intermediate statuses %v, want [INSTANTIATING]", seen)
	}
	nsr := res.Final.NSR
	if nsr["status"] != "normal operation" || nsr["version"] != "1" || len(res.Final.VNFRs) != 3 {
		t.Fatalf("nsr %v, %d vnfrs", nsr, len(res.Final.VNFRs))
	}
	for _, v := range res.Final.VNFRs {
		if v["status"] != "normal operation" || v["version"] != "2" {
			t.Fatalf("vnfr %v", v)
		}
	}
	servID := nsr["id"].(string)
	if got := len(p.IA.Functions(servID)); got != 3 {
		t.Fatalf("emulator runs %d functions, want 3", got)
	}
	res, err = p.GK.Terminate(ctx, servID, nil)
	if err != nil || !res.OK() {
		t.Fatalf("terminate: %v %+v", err, res)
	}
	if got := len(p.IA.Functions(servID)); got != 0 {
		t.Fatalf("emulator still runs %d functions", got)
	}
	after := p.IA.VIMs()
	for i := range before {
		if before[i].CoreUsed != after[i].CoreUsed || before[i].MemoryUsedMB != after[i].MemoryUsedMB {
			t.Fatalf("capacity not restored: %+v vs %+v", before[i], after[i])
		}
	}
	st, err := rec.LoadService(ctx, servID)
	if err != nil || st.Status != slm.StatusTerminated || st.NSR["status"] != "terminated" || st.NSR["version"] != "2" {
		t.Fatalf("record %+v %v", st, err)
	}
}
