package membus_test

import (
	"testing"

	"github.com/manoctl/manoctl/adapters/membus"
	"github.com/manoctl/manoctl/reconcile/bus/bustest"
)

// The in-process bus passes the conformance suite of the bus port; so must
// every other transport (DESIGN.md §2).
func TestConformance(t *testing.T) {
	bustest.Run(t, func(t *testing.T) bustest.Env {
		b := membus.New()
		t.Cleanup(func() { b.Close() })
		env := bustest.Env{Connector: b, Vhosts: [2]string{"bustest-a", "bustest-b"}}
		for _, v := range env.Vhosts {
			if err := b.AddVhost(v); err != nil {
				t.Fatal(err)
			}
		}
		return env
	})
}
