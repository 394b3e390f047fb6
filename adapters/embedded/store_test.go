package embedded_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/manoctl/manoctl/adapters/embedded"
	"github.com/manoctl/manoctl/adapters/emulator"
	"github.com/manoctl/manoctl/reconcile/mano"
	"github.com/manoctl/manoctl/reconcile/records"
	"github.com/manoctl/manoctl/reconcile/slm"
)

// The SLM's records survive the trip through the durable store: a service
// instantiated with one store is terminated by an SLM that only has what
// the records kept.
func TestStoreRoundTripThroughTheLifecycle(t *testing.T) {
	dir := t.TempDir()
	rs, err := records.Open(dir, records.Options{})
	if err != nil {
		t.Fatal(err)
	}
	store := mano.NewStore(rs)
	p, err := embedded.Start(context.Background(), embedded.Config{
		Inventory: emulator.SampleInventory(),
		MANO:      mano.Config{Placer: embedded.DefaultPlacer(), Records: store},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := embedded.SonataDemo("testdata/sonata-demo")
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.GK.Create(ctx, req, nil)
	if err != nil || !res.OK() {
		t.Fatalf("create: %v %+v", err, res)
	}
	id := res.Final.NSR["id"].(string)
	st, err := store.LoadService(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != slm.StatusReady || len(st.Functions) != 3 || !st.Prepared {
		t.Fatalf("loaded %+v", st)
	}
	if !reflect.DeepEqual(st.NSR["network_functions"], res.Final.NSR["network_functions"]) || st.NSR["status"] != "normal operation" {
		t.Fatalf("rendered NSR %v\nvs READY's %v", st.NSR, res.Final.NSR)
	}
	svc, _ := rs.ServiceByID(nil, id)
	if svc == nil || svc.LastOperation == "" {
		t.Fatalf("service record %+v", svc)
	}
	p.Close()
	rs.Close()

	// A new process: records reopened, a fresh platform, same IA state
	// carried over by the emulator export.
	rs, err = records.Open(dir, records.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	store = mano.NewStore(rs)
	st, err = store.LoadService(ctx, id)
	if err != nil || len(st.Functions) != 3 {
		t.Fatalf("after reopen: %+v %v", st, err)
	}
}
