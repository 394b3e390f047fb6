// Package gk is a gatekeeper-style client of the SLM: it sends the
// requests the SONATA gatekeeper sends (service.instances.create,
// service.instance.terminate, ...) and follows the stream of status
// messages to the end (wire-protocol §9). manoctl apply drives the
// lifecycle through it, embedded or against a daemon.
package gk

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/manoctl/manoctl/reconcile/bus"
	"github.com/manoctl/manoctl/reconcile/wire"
)

// Client sends lifecycle requests on behalf of one requester.
type Client struct {
	ep *bus.Endpoint
	// Timeout bounds a whole workflow (the SLM bounds each step).
	Timeout time.Duration
}

// New returns a client publishing with appID on b.
func New(b bus.Bus, appID string) *Client {
	return &Client{ep: bus.NewEndpoint(b, appID), Timeout: 30 * time.Minute}
}

// Close removes the client's subscriptions.
func (c *Client) Close() error { return c.ep.Close() }

// Result is the end of a workflow.
type Result struct {
	// Final is the READY or ERROR message.
	Final wire.StatusMessage
	// CorrelationID of the request.
	CorrelationID string
}

// OK reports a READY end.
func (r *Result) OK() bool { return r.Final.Status == bus.StatusReady }

// Err returns the workflow's error as a Go error, nil when READY.
func (r *Result) Err() error {
	if r.OK() {
		return nil
	}
	return &WorkflowError{Status: r.Final.Status, Message: wire.ErrorText(r.Final.Error)}
}

// WorkflowError is a workflow that ended in ERROR.
type WorkflowError struct {
	Status  string
	Message string
}

func (e *WorkflowError) Error() string { return e.Message }

// StatusFunc observes the intermediate status messages.
type StatusFunc func(wire.StatusMessage)

// Create instantiates a service.
func (c *Client) Create(ctx context.Context, req wire.CreateRequest, onStatus StatusFunc, opts ...bus.CallOption) (*Result, error) {
	return c.run(ctx, bus.TopicServiceCreate, req, onStatus, opts...)
}

// Terminate terminates the service instance id.
func (c *Client) Terminate(ctx context.Context, id string, onStatus StatusFunc, opts ...bus.CallOption) (*Result, error) {
	return c.run(ctx, bus.TopicServiceTerminate, wire.TerminateRequest{InstanceID: id}, onStatus, opts...)
}

// Scale scales a VNF of a running service.
func (c *Client) Scale(ctx context.Context, req wire.ScaleRequest, onStatus StatusFunc, opts ...bus.CallOption) (*Result, error) {
	return c.run(ctx, bus.TopicServiceScale, req, onStatus, opts...)
}

// Update replaces the descriptors of the running service id.
func (c *Client) Update(ctx context.Context, id string, req wire.CreateRequest, onStatus StatusFunc, opts ...bus.CallOption) (*Result, error) {
	body := req.Map()
	body["instance_id"] = id
	return c.run(ctx, bus.TopicServiceUpdate, body, onStatus, opts...)
}

// ErrTimeout is returned when a workflow does not end within Timeout.
var ErrTimeout = errors.New("workflow did not end in time")

func (c *Client) run(ctx context.Context, topic string, body any, onStatus StatusFunc, opts ...bus.CallOption) (*Result, error) {
	call, err := c.ep.Start(ctx, topic, body, opts...)
	if err != nil {
		return nil, err
	}
	defer call.Close()
	t := time.NewTimer(c.Timeout)
	defer t.Stop()
	for {
		select {
		case m := <-call.Replies():
			var st wire.StatusMessage
			if err := m.Decode(&st); err != nil {
				return nil, fmt.Errorf("gk: malformed status on %s from %s: %w", topic, m.AppID, err)
			}
			if st.Status == "" {
				continue // the gatekeeper ignores bodies without status
			}
			if st.Status == bus.StatusReady || st.Status == bus.StatusError {
				return &Result{Final: st, CorrelationID: call.CorrelationID}, nil
			}
			if onStatus != nil {
				onStatus(st)
			}
		case <-t.C:
			return nil, fmt.Errorf("gk: %s %s: %w after %s", topic, call.CorrelationID, ErrTimeout, c.Timeout)
		case <-ctx.Done():
			return nil, fmt.Errorf("gk: %s: %w", topic, ctx.Err())
		}
	}
}
