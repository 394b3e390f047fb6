package amqp

import (
	"context"

	"github.com/manoctl/manoctl/reconcile/bus"
)

// Connector opens Buses on the virtual hosts of one broker with one set of
// credentials; it implements bus.Connector. The SLM, FLM and SMR use one to
// reach the SSM and FSM vhosts (ssm-<id>, fsm-<id>, wire-protocol §7): the
// URL's path is replaced by the vhost, and everything else in the Config
// (exchange, TLS, handlers of events) applies to every Bus.
type Connector struct {
	cfg Config
}

var _ bus.Connector = (*Connector)(nil)

// NewConnector returns a Connector for cfg. cfg.URL names the broker and
// the credentials; its own path is the vhost Connect("") uses.
func NewConnector(cfg Config) *Connector { return &Connector{cfg: cfg} }

// Connect dials vhost ("" for the URL's own) and returns its Bus. A vhost
// that does not exist fails at once with an error wrapping bus.ErrNoVhost;
// an unreachable broker is retried until ctx ends.
func (c *Connector) Connect(ctx context.Context, vhost string) (bus.Bus, error) {
	b, err := c.Dial(ctx, vhost)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// Dial is Connect with the concrete type.
func (c *Connector) Dial(ctx context.Context, vhost string) (*Bus, error) {
	cfg := c.cfg
	if vhost != "" {
		r, err := cfg.resolve()
		if err != nil {
			return nil, err
		}
		if cfg.URL, err = URLWithVhost(r.URL, vhost); err != nil {
			return nil, err
		}
	}
	return Dial(ctx, cfg)
}
