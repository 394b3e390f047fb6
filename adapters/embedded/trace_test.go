package embedded_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/manoctl/manoctl/adapters/embedded"
	"github.com/manoctl/manoctl/reconcile/bus"
	"github.com/manoctl/manoctl/reconcile/bus/bustest"
)

// tracer records every message on the exchange, like the queue bound to
// "#" that captured spec/observed-trace.md.
type tracer struct {
	mu   sync.Mutex
	msgs []*bus.Message
}

func (tr *tracer) handle(_ context.Context, m *bus.Message) {
	tr.mu.Lock()
	tr.msgs = append(tr.msgs, m)
	tr.mu.Unlock()
}

func (tr *tracer) take() []*bus.Message {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	out := tr.msgs
	tr.msgs = nil
	return out
}

// TestGoldenTrace checks instantiate and terminate of sonata-demo against
// the golden traces, which follow spec/observed-trace.md message for
// message; see testdata/golden/README.md for the deliberate differences.
func TestGoldenTrace(t *testing.T) {
	tr := &tracer{}
	// Publish as the gatekeeper, as in the observed trace.
	p, _ := start(t, func(c *embedded.Config) { c.ClientAppID = bus.AppGatekeeper })
	p.Broker.Default().Subscribe(context.Background(), "#", tr.handle)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := p.GK.Create(ctx, demo(t), nil)
	if err != nil || !res.OK() {
		t.Fatalf("create: %v %+v", err, res)
	}
	p.WaitIdle(ctx)
	time.Sleep(20 * time.Millisecond) // let the tap drain
	bustest.CheckGolden(t, filepath.Join("testdata", "golden", "instantiate.trace"), bustest.Canonical(t, tr.take()))

	res, err = p.GK.Terminate(ctx, res.Final.NSR["id"].(string), nil)
	if err != nil || !res.OK() {
		t.Fatalf("terminate: %v %+v", err, res)
	}
	p.WaitIdle(ctx)
	time.Sleep(20 * time.Millisecond)
	bustest.CheckGolden(t, filepath.Join("testdata", "golden", "terminate.trace"), bustest.Canonical(t, tr.take()))
}
