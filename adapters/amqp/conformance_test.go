package amqp_test

import (
	"testing"

	"github.com/manoctl/manoctl/adapters/amqp"
	"github.com/manoctl/manoctl/adapters/amqp/amqptest"
	"github.com/manoctl/manoctl/reconcile/bus/bustest"
)

// The AMQP transport passes the same conformance suite as the in-process
// bus, against the real broker. Two private vhosts serve the whole suite
// and every case gets its own exchange on them.
func TestConformance(t *testing.T) {
	amqptest.Require(t)
	vhosts := [2]string{amqptest.Vhost(t), amqptest.Vhost(t)}
	bustest.Run(t, func(t *testing.T) bustest.Env {
		cfg := amqptest.Config(t, vhosts[0])
		// The exchange helper deletes the exchange on vhosts[0]; the one
		// on vhosts[1] goes with that vhost at the end of the suite.
		return bustest.Env{Connector: amqp.NewConnector(cfg), Vhosts: vhosts}
	})
}
