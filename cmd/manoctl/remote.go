package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/manoctl/manoctl/adapters/amqp"
	"github.com/manoctl/manoctl/reconcile/control"
)

func init() {
	exitMappers = append(exitMappers, func(err error) (int, bool) {
		var ce *control.Error
		if errors.As(err, &ce) && ce.Code != 0 {
			return ce.Code, true
		}
		return 0, false
	})
}

// dialTimeout bounds a CLI command's wait for the broker.
const dialTimeout = 10 * time.Second

// remoteFlags select a running daemon instead of the local state
// directory.
type remoteFlags struct {
	broker, exchange string
}

func (r *remoteFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&r.broker, "broker", "", "talk to the manoctl daemon on this AMQP broker instead of using the state directory")
	cmd.Flags().StringVar(&r.exchange, "exchange", "", "the daemon's exchange (default $broker_exchange, then son-kernel)")
}

func (r *remoteFlags) remote() bool { return r.broker != "" }

// dial connects to the daemon's broker.
func (r *remoteFlags) dial(ctx context.Context) (*control.Client, func(), error) {
	// A CLI command gives up on an unreachable broker; the daemon, which
	// must outlive broker restarts, retries forever instead.
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	b, err := amqp.Dial(dctx, amqp.Config{URL: r.broker, Exchange: r.exchange, Name: "manoctl cli"})
	if err != nil {
		if dctx.Err() != nil && ctx.Err() == nil {
			return nil, nil, fmt.Errorf("broker: no connection to %s within %s: %w", amqp.RedactURL(r.broker), dialTimeout, err)
		}
		return nil, nil, fmt.Errorf("broker: %w", err)
	}
	c := control.NewClient(b)
	return c, func() {
		c.Close()
		b.Close()
	}, nil
}
