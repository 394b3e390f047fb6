package smruntime

import (
	"context"
	"net/url"

	"github.com/manoctl/manoctl/adapters/amqp"
	"github.com/manoctl/manoctl/adapters/membus"
	"github.com/manoctl/manoctl/reconcile/bus"
	"github.com/manoctl/manoctl/reconcile/sm/sdk"
)

// MembusScheme is the URL scheme of in-process broker_host values.
const MembusScheme = "membus"

// MembusURL is the broker_host of a manager on vhost of an in-process
// broker.
func MembusURL(vhost string) string {
	return MembusScheme + "://local/" + url.PathEscape(vhost)
}

// MembusDialer connects SDK managers to the vhost their broker_host names
// on an in-process broker; the exchange is the broker's own.
type MembusDialer struct{ Broker *membus.Broker }

var _ sdk.Dialer = MembusDialer{}

// Dial connects to the URL's vhost.
func (d MembusDialer) Dial(ctx context.Context, rawURL, _, _ string) (bus.Bus, error) {
	vhost, err := sdk.VhostOf(rawURL)
	if err != nil {
		return nil, err
	}
	return d.Broker.Connect(ctx, vhost)
}

// AMQPDialer connects SDK managers over AMQP. Config is a template: its
// URL, Exchange and Name are replaced by broker_host, broker_exchange and
// the manager id; TLS, timeouts and logging apply as set.
type AMQPDialer struct{ Config amqp.Config }

var _ sdk.Dialer = AMQPDialer{}

// Dial connects to broker_host.
func (d AMQPDialer) Dial(ctx context.Context, rawURL, exchange, appID string) (bus.Bus, error) {
	cfg := d.Config
	cfg.URL, cfg.Exchange, cfg.Name = rawURL, exchange, appID
	return amqp.Dial(ctx, cfg)
}
