package sm

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/manoctl/manoctl/adapters/membus"
	"github.com/manoctl/manoctl/reconcile/bus"
)

// TestExitWatch: a call waiting for a manager fails as soon as the
// registry reports that manager exited, not at its timeout; later calls
// to it fail at once until its instance is forgotten; calls to other
// managers and instances are not touched.
func TestExitWatch(t *testing.T) {
	ctx := context.Background()
	b, err := membus.New().Connect(ctx, "/")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	smr := bus.NewEndpoint(b, bus.AppSMR)
	caller := bus.NewEndpoint(b, bus.AppFLM, bus.WithTimeouts(func(string) time.Duration { return time.Minute }))
	defer caller.Close()
	// A manager that never answers; "generic.fsm.f2" answers at once.
	if _, err := b.Subscribe(ctx, "generic.fsm.f2", func(ctx context.Context, m *bus.Message) {
		if m.ReplyTo != "" {
			smr.Reply(ctx, m, map[string]any{"status": "COMPLETED"})
		}
	}); err != nil {
		t.Fatal(err)
	}

	x := newExitWatch(KindFSM)
	if err := x.watch(ctx, caller); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := x.request(ctx, caller, "sonfsmdemoiperfstart1", "f1", "generic.fsm.f1", map[string]any{"fsm_type": "start"})
		done <- err
	}()
	// Wait until the call is registered, then report another manager
	// of the instance, and the same manager of another instance.
	for {
		x.mu.Lock()
		n := len(x.waiting)
		x.mu.Unlock()
		if n == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	notice := func(id, uuid string) {
		t.Helper()
		if err := smr.Notify(ctx, bus.TopicSMRFSMExited, ExitNotice{ID: id, UUID: uuid, Error: "exit status 3"}, ""); err != nil {
			t.Fatal(err)
		}
	}
	notice("sonfsmdemoiperfstop1", "f1")
	notice("sonfsmdemoiperfstart1", "f2")
	select {
	case err := <-done:
		t.Fatalf("call ended by another manager's exit: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	start := time.Now()
	notice("sonfsmdemoiperfstart1", "f1")
	var exited *ExitedError
	select {
	case err := <-done:
		if !errors.As(err, &exited) || !exited.WhileAsked || err.Error() != "fsm sonfsmdemoiperfstart1 exited: exit status 3" {
			t.Fatalf("call ended with %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("call still waiting after the manager's exit")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("call failed %v after the exit", d)
	}

	// Later calls to the exited manager fail without being sent.
	if _, err := x.request(ctx, caller, "sonfsmdemoiperfstart1", "f1", "generic.fsm.f1", nil); !errors.As(err, &exited) || exited.WhileAsked {
		t.Fatalf("call to an exited manager: %v", err)
	}
	// Another instance's manager of the same id exited too (above);
	// forgetting f2 (instantiated again) lets calls through.
	x.forget("f2")
	if _, err := x.request(ctx, caller, "sonfsmdemoiperfstart1", "f2", "generic.fsm.f2", map[string]any{"fsm_type": "start"}); err != nil {
		t.Fatalf("call after forget: %v", err)
	}
	// The caller's own cancellation is not an exit.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := x.request(cctx, caller, "sonfsmdemoiperfconfigure1", "f1", "generic.fsm.f1", nil); err == nil || errors.As(err, &exited) {
		t.Fatalf("cancelled call: %v", err)
	}
}
