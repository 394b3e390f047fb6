package emulator

import (
	"context"
	"testing"

	"github.com/manoctl/manoctl/reconcile/bus"
)

// SampleInventory is a small inventory for tests: two VIMs of different
// size in different cities, the second with a domain. Each fits the
// three-VNF sonata-demo (1 core and 2 GB per VNF) at least once.
func SampleInventory() Inventory {
	return Inventory{VIMs: []VIMConfig{
		{Name: "athens", City: "Athens", Endpoint: "http://athens.example:5000/v2.0", Cores: 8, MemoryMB: 16384},
		{Name: "paderborn", City: "Paderborn", Endpoint: "http://paderborn.example:5000/v2.0", Domain: "upb", Cores: 4, MemoryMB: 8192},
	}}
}

// StartTest starts an emulator over inv on b and closes it when the test
// ends. It fails the test if the emulator cannot start.
func StartTest(tb testing.TB, b bus.Bus, inv Inventory, opts ...Option) *Emulator {
	tb.Helper()
	e, err := New(inv, opts...)
	if err != nil {
		tb.Fatalf("emulator: %v", err)
	}
	if err := e.Start(context.Background(), b); err != nil {
		tb.Fatalf("emulator: %v", err)
	}
	tb.Cleanup(func() {
		if err := e.Close(); err != nil {
			tb.Errorf("emulator: close: %v", err)
		}
	})
	return e
}
