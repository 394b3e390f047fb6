package control

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/manoctl/manoctl/reconcile/bus"
	"github.com/manoctl/manoctl/reconcile/plan"
)

// Client talks to a daemon over a bus.
type Client struct {
	ep *bus.Endpoint
	b  bus.Bus
	// Timeout bounds each request; apply streams are bounded by
	// ApplyTimeout.
	Timeout      time.Duration
	ApplyTimeout time.Duration
}

// NewClient returns a client publishing with app id "manoctl".
func NewClient(b bus.Bus) *Client {
	return &Client{ep: bus.NewEndpoint(b, bus.AppManoctl), b: b, Timeout: 30 * time.Second, ApplyTimeout: 2 * time.Hour}
}

// Close removes the client's subscriptions.
func (c *Client) Close() error { return c.ep.Close() }

// ErrNoDaemon is returned when no daemon answers.
var ErrNoDaemon = fmt.Errorf("no manoctl daemon answered on the broker (is it running, on this exchange?)")

func (c *Client) call(ctx context.Context, topic string, req, out any) error {
	m, err := c.ep.Request(ctx, topic, req, bus.WithTimeout(c.Timeout))
	if bus.IsTimeout(err) {
		return ErrNoDaemon
	}
	if err != nil {
		return err
	}
	if err := m.Decode(out); err != nil {
		return fmt.Errorf("control: malformed %s reply: %w", topic, err)
	}
	return nil
}

// Plan asks the daemon for a plan.
func (c *Client) Plan(ctx context.Context, d *Desired, detailed bool) (*plan.Plan, error) {
	var r PlanReply
	if err := c.call(ctx, TopicPlan, PlanRequest{Desired: d, Detailed: detailed}, &r); err != nil {
		return nil, err
	}
	if r.Error != nil {
		return nil, r.Error
	}
	return r.Plan, nil
}

// Apply asks the daemon to apply a plan and reports its progress until
// the final result, which it returns.
func (c *Client) Apply(ctx context.Context, req ApplyRequest, onProgress func(Progress)) (*Progress, error) {
	call, err := c.ep.Start(ctx, TopicApply, req)
	if err != nil {
		return nil, err
	}
	defer call.Close()
	first := time.NewTimer(c.Timeout) // until the daemon acknowledges
	defer first.Stop()
	deadline := time.NewTimer(c.ApplyTimeout)
	defer deadline.Stop()
	for {
		select {
		case m := <-call.Replies():
			first.Stop()
			var p Progress
			if err := m.Decode(&p); err != nil {
				return nil, fmt.Errorf("control: malformed apply progress: %w", err)
			}
			if p.Kind == "result" {
				if p.Failure != nil {
					return &p, p.Failure
				}
				return &p, nil
			}
			if onProgress != nil {
				onProgress(p)
			}
		case <-first.C:
			return nil, ErrNoDaemon
		case <-deadline.C:
			return nil, fmt.Errorf("control: apply did not end within %s", c.ApplyTimeout)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Get lists records.
func (c *Client) Get(ctx context.Context, kind string, all bool) (*GetReply, error) {
	var r GetReply
	if err := c.call(ctx, TopicGet, GetRequest{Kind: kind, All: all}, &r); err != nil {
		return nil, err
	}
	if r.Error != nil {
		return nil, r.Error
	}
	return &r, nil
}

// Describe describes a service.
func (c *Client) Describe(ctx context.Context, service string, operations int) (map[string]any, error) {
	var r DescribeReply
	if err := c.call(ctx, TopicDescribe, DescribeRequest{Service: service, Operations: operations}, &r); err != nil {
		return nil, err
	}
	if r.Error != nil {
		return nil, r.Error
	}
	return r.Document, nil
}

// Plugins lists plugins or acts on one.
func (c *Client) Plugins(ctx context.Context, action, target string) (*PluginsReply, error) {
	var r PluginsReply
	if err := c.call(ctx, TopicPlugins, PluginsRequest{Action: action, Target: target}, &r); err != nil {
		return nil, err
	}
	if r.Error != nil {
		return nil, r.Error
	}
	return &r, nil
}

// Status describes the daemon.
func (c *Client) Status(ctx context.Context) (*StatusReply, error) {
	var r StatusReply
	if err := c.call(ctx, TopicStatus, map[string]any{}, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Events delivers the daemon's record changes until ctx ends. Delivery
// is in order; h must not block for long.
func (c *Client) Events(ctx context.Context, h func(Event)) error {
	return c.EventsReady(ctx, nil, h)
}

// EventsReady is Events that closes ready (when not nil) once the
// subscription is in place.
func (c *Client) EventsReady(ctx context.Context, ready chan<- struct{}, h func(Event)) error {
	sub, err := c.b.Subscribe(ctx, TopicEvents+".#", func(_ context.Context, m *bus.Message) {
		var e Event
		if m.Decode(&e) == nil {
			h(e)
		}
	})
	if err != nil {
		return err
	}
	if ready != nil {
		close(ready)
	}
	<-ctx.Done()
	sub.Unsubscribe()
	return nil
}

// Object decodes an event's record.
func (e Event) Decode(v any) error { return json.Unmarshal(e.Object, v) }
