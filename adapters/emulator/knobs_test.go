package emulator_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/manoctl/manoctl/adapters/emulator"
	"github.com/manoctl/manoctl/reconcile/bus"
)

// Fail answers the Nth call with the topic's error shape and the request
// has no effect; the calls around it are untouched.
func TestFailNth(t *testing.T) {
	h := newHarness(t, emulator.SampleInventory())
	h.emu.Inject(bus.TopicIAFunctionDeploy, 2, emulator.Fail("VIM exploded"))
	h.prepare(svcA, athens)
	if r := h.deploy(svcA, athens, "firewall-vnfd.yml", fwID); r["request_status"] != "COMPLETED" {
		t.Fatalf("call 1: %v", r)
	}
	r := h.deploy(svcA, athens, "iperf-vnfd.yml", ipID)
	if r["request_status"] != "ERROR" || r["message"] != "VIM exploded" || len(r) != 2 {
		t.Fatalf("call 2: %v, want {request_status: ERROR, message: VIM exploded}", r)
	}
	if _, ok := h.emu.Function(ipID); ok {
		t.Fatal("failed call took effect")
	}
	if r := h.deploy(svcA, athens, "iperf-vnfd.yml", ipID); r["request_status"] != "COMPLETED" {
		t.Fatalf("call 3: %v", r)
	}
	if c, _ := h.usage(athens); c != 2 {
		t.Fatalf("%d cores used, want 2", c)
	}
	if n := h.emu.Calls(bus.TopicIAFunctionDeploy); n != 3 {
		t.Fatalf("Calls = %d, want 3", n)
	}
}

// Each topic fails in its own error shape.
func TestFailShapes(t *testing.T) {
	h := newHarness(t, emulator.SampleInventory())
	h.emu.Inject("infrastructure.#", emulator.Every, emulator.Fail("no"))
	for topic, status := range map[string]string{
		bus.TopicIAComputeList:    "fail",
		bus.TopicIAWanConfigure:   "FAILED",
		bus.TopicIAServicePrepare: "ERROR",
		bus.TopicIAFunctionDeploy: "ERROR",
		bus.TopicIAServiceRemove:  "ERROR",
	} {
		h.mustFail(topic, map[string]any{}, status, "no")
	}
}

// DropRequest: no effect, no reply. DropReply: effect, no reply.
func TestDrops(t *testing.T) {
	h := newHarness(t, emulator.SampleInventory())
	h.emu.Inject(bus.TopicIAServicePrepare, 1, emulator.DropRequest())
	h.emu.Inject(bus.TopicIAServicePrepare, 2, emulator.DropReply())
	prep := map[string]any{"instance_id": svcA, "vim_list": []any{map[string]any{"uuid": athens}}}

	lost := h.send(bus.TopicIAServicePrepare, prep)
	h.barrier()
	if len(h.tap.replies(lost)) != 0 {
		t.Fatal("dropped request answered")
	}
	if _, ok := h.emu.Service(svcA); ok {
		t.Fatal("dropped request took effect")
	}

	unanswered := h.send(bus.TopicIAServicePrepare, prep)
	h.barrier()
	if len(h.tap.replies(unanswered)) != 0 {
		t.Fatal("dropped reply sent")
	}
	if _, ok := h.emu.Service(svcA); !ok {
		t.Fatal("request whose reply was dropped had no effect")
	}
	h.mustComplete(bus.TopicIAServicePrepare, prep) // call 3 is normal
}

// A timeout at the deploy step (reply lost) leaves a function that the
// caller's rollback must remove; service.remove restores the capacity.
func TestTimeoutThenRollback(t *testing.T) {
	h := newHarness(t, emulator.SampleInventory())
	h.emu.Inject(bus.TopicIAFunctionDeploy, emulator.Every, emulator.DropReply())
	h.prepare(svcA, athens)
	_, err := h.cl.Request(t.Context(), bus.TopicIAFunctionDeploy, deployRequest(t, svcA, athens, "firewall-vnfd.yml", fwID),
		bus.WithTimeout(20*time.Millisecond))
	if !bus.IsTimeout(err) {
		t.Fatalf("err %v, want a timeout", err)
	}
	h.barrier()
	if c, _ := h.usage(athens); c != 1 {
		t.Fatalf("%d cores used: the deploy took effect before its reply was lost", c)
	}
	h.mustComplete(bus.TopicIAServiceRemove, map[string]any{"instance_uuid": svcA})
	if c, m := h.usage(athens); c != 0 || m != 0 {
		t.Fatalf("capacity not restored: %d/%d", c, m)
	}
}

// Malformed sends unescaped wrapper text that no decoder accepts (§14.7 I2).
func TestMalformedReply(t *testing.T) {
	h := newHarness(t, emulator.SampleInventory())
	h.emu.Inject(bus.TopicIAFunctionDeploy, 1, emulator.Malformed())
	h.prepare(svcA, athens)
	m, err := h.cl.Request(t.Context(), bus.TopicIAFunctionDeploy, deployRequest(t, svcA, athens, "firewall-vnfd.yml", fwID))
	if err != nil {
		t.Fatal(err)
	}
	if m.Payload != nil || len(m.Body) == 0 || m.AppID != bus.AppIA {
		t.Fatalf("malformed reply %+v", m)
	}
	var v any
	if err := m.Decode(&v); err == nil {
		t.Fatalf("malformed body %q decoded as %v", m.Body, v)
	}
	if !strings.Contains(string(m.Body), "ERROR") {
		t.Errorf("body %q should read as an error reply", m.Body)
	}
	if _, ok := h.emu.Function(fwID); ok {
		t.Fatal("malformed (error) reply but the function was deployed")
	}
}

func TestDuplicateReply(t *testing.T) {
	h := newHarness(t, emulator.SampleInventory())
	h.emu.Inject(bus.TopicIAComputeList, 1, emulator.Duplicate(2))
	m, _ := h.request(bus.TopicIAComputeList, map[string]any{})
	h.barrier()
	if n := len(h.tap.replies(m.CorrelationID)); n != 3 {
		t.Fatalf("%d replies, want 3", n)
	}
}

// HoldReply: the request takes effect at once, the reply waits for the
// test; the caller can time out in between and the late reply is
// harmless.
func TestHeldAndLateReplies(t *testing.T) {
	h := newHarness(t, emulator.SampleInventory())
	release := make(chan struct{})
	h.emu.Inject(bus.TopicIAServicePrepare, 1, emulator.HoldReply(release))
	h.emu.Inject(bus.TopicIAServicePrepare, 2, emulator.LateReply(time.Millisecond))
	prep := map[string]any{"instance_id": svcA, "vim_list": []any{map[string]any{"uuid": athens}}}

	call, err := h.cl.Start(t.Context(), bus.TopicIAServicePrepare, prep)
	if err != nil {
		t.Fatal(err)
	}
	defer call.Close()
	h.barrier()
	if _, ok := h.emu.Service(svcA); !ok {
		t.Fatal("held call has not taken effect")
	}
	if len(h.tap.replies(call.CorrelationID)) != 0 {
		t.Fatal("held reply sent before release")
	}
	close(release)
	select {
	case m := <-call.Replies():
		var r map[string]any
		if err := m.Decode(&r); err != nil || r["request_status"] != "COMPLETED" {
			t.Fatalf("held reply %v %v", r, err)
		}
	case <-t.Context().Done():
		t.Fatal("held reply never sent")
	}
	// A late reply is still a normal reply.
	h.mustComplete(bus.TopicIAServicePrepare, prep)
}

// Latency never blocks the delivery loop: a slow deploy does not hold up
// a compute.list sent after it. Close abandons the slow call.
func TestLatencyDoesNotBlock(t *testing.T) {
	h := newHarness(t, emulator.SampleInventory())
	h.emu.SetLatency(bus.TopicIAFunctionDeploy, time.Hour)
	h.prepare(svcA, athens)
	slow := h.send(bus.TopicIAFunctionDeploy, deployRequest(t, svcA, athens, "firewall-vnfd.yml", fwID))
	h.request(bus.TopicIAComputeList, map[string]any{})
	if len(h.tap.replies(slow)) != 0 {
		t.Fatal("slow deploy answered early")
	}
	if _, ok := h.emu.Function(fwID); ok {
		t.Fatal("a delayed request takes effect when it is answered, not before")
	}
	// Close must return with the hour-long call pending (goroutine ends).
	if err := h.emu.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestLatencyFunc(t *testing.T) {
	h := newHarness(t, emulator.SampleInventory())
	var mu sync.Mutex
	var seen []int
	h.emu.SetLatencyFunc("infrastructure.management.#", func(topic string, call int) time.Duration {
		mu.Lock()
		defer mu.Unlock()
		if topic == bus.TopicIAComputeList {
			seen = append(seen, call)
		}
		return time.Microsecond
	})
	for i := 0; i < 3; i++ {
		h.request(bus.TopicIAComputeList, map[string]any{})
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 3 || seen[0] != 1 || seen[2] != 3 {
		t.Fatalf("latency function saw calls %v", seen)
	}
	// A later setting overrides, 0 restores instant answers.
	h.emu.SetLatency("infrastructure.management.#", 0)
	h.request(bus.TopicIAComputeList, map[string]any{})
	if len(seen) != 3 {
		t.Fatal("overridden latency function still called")
	}
}

// KeepReplyTo reproduces the *.remove quirk; IA replies still match by
// correlation id and app id (§14.7 I1).
func TestKeepReplyTo(t *testing.T) {
	h := newHarness(t, emulator.SampleInventory())
	h.emu.Inject(bus.TopicIAComputeRemove, emulator.Every, emulator.KeepReplyTo())
	r := h.status(bus.TopicIAComputeAdd, vimAdd("Mock", "m"))
	m, _ := h.request(bus.TopicIAComputeRemove, map[string]any{"uuid": r["uuid"]})
	if m.ReplyTo != bus.TopicIAComputeRemove {
		t.Fatalf("reply_to %q, want it kept", m.ReplyTo)
	}
	// The emulator does not take its own reply for a new request.
	h.barrier()
	if n := h.emu.Calls(bus.TopicIAComputeRemove); n != 1 {
		t.Fatalf("%d calls counted, want 1", n)
	}
}

func TestClearFaultsAndReset(t *testing.T) {
	h := newHarness(t, emulator.SampleInventory())
	h.emu.Inject("infrastructure.#", emulator.Every, emulator.Fail("down"))
	h.mustFail(bus.TopicIAComputeList, map[string]any{}, "fail", "down")
	h.emu.ClearFaults()
	if n := h.emu.Calls(bus.TopicIAComputeList); n != 0 {
		t.Fatalf("counter %d after ClearFaults", n)
	}
	h.prepare(svcA, athens)
	h.deploy(svcA, athens, "firewall-vnfd.yml", fwID)
	h.status(bus.TopicIAComputeAdd, vimAdd("Mock", "extra"))
	h.emu.Inject(bus.TopicIAFunctionDeploy, 1, emulator.Fail("x"))
	h.emu.Reset()
	s := h.emu.Snapshot()
	if len(s.VIMs) != 2 || len(s.Services) != 0 || len(s.Functions) != 0 || s.VIMs[0].CoreUsed != 0 {
		t.Fatalf("after Reset: %+v", s)
	}
	// The injected fault went with the reset.
	h.prepare(svcA, athens)
	if r := h.deploy(svcA, athens, "firewall-vnfd.yml", fwID); r["request_status"] != "COMPLETED" {
		t.Fatalf("deploy after Reset: %v", r)
	}
}

// Knobs are safe to turn while requests flow (run with -race).
func TestKnobsConcurrently(t *testing.T) {
	h := newHarness(t, emulator.SampleInventory(), emulator.WithConcurrency(4))
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ctx.Err() == nil; i++ {
			h.emu.SetLatency(bus.TopicIAComputeList, time.Duration(i%2)*time.Microsecond)
			h.emu.Inject(bus.TopicIAComputeList, i, emulator.Duplicate(1))
			_ = h.emu.Calls(bus.TopicIAComputeList)
			_ = h.emu.Snapshot()
			if i%50 == 0 {
				h.emu.ClearFaults()
			}
		}
	}()
	for i := 0; i < 200; i++ {
		h.request(bus.TopicIAComputeList, map[string]any{})
	}
	cancel()
	wg.Wait()
}

// Close ends the goroutines of held and delayed replies instead of
// leaking them: it waits for them, so returning proves they are gone.
func TestCloseAbandonsPendingReplies(t *testing.T) {
	h := newHarness(t, emulator.SampleInventory())
	never := make(chan struct{})
	h.emu.Inject(bus.TopicIAComputeList, emulator.Every, emulator.HoldReply(never))
	h.emu.Inject(bus.TopicIANetworkList, emulator.Every, emulator.LateReply(time.Hour))
	held := h.send(bus.TopicIAComputeList, map[string]any{})
	late := h.send(bus.TopicIANetworkList, map[string]any{})
	h.barrier()
	if err := h.emu.Close(); err != nil {
		t.Fatal(err)
	}
	if len(h.tap.replies(held)) != 0 || len(h.tap.replies(late)) != 0 {
		t.Fatal("abandoned replies were sent")
	}
	// A closed emulator no longer answers.
	if _, err := h.cl.Request(t.Context(), bus.TopicIAComputeList, map[string]any{}, bus.WithTimeout(10*time.Millisecond)); !bus.IsTimeout(err) {
		t.Fatalf("closed emulator answered: %v", err)
	}
}

func TestFaultString(t *testing.T) {
	for f, want := range map[emulator.Fault]string{
		emulator.Fail("x"):              `fail("x")`,
		emulator.Malformed():            "malformed reply",
		emulator.DropRequest():          "drop request",
		emulator.DropReply():            "drop reply",
		emulator.Duplicate(2):           "duplicate reply x2",
		emulator.LateReply(time.Second): "late reply +1s",
		emulator.HoldReply(nil):         "held reply",
		emulator.KeepReplyTo():          "reply keeps reply_to",
		{}:                              "no fault",
	} {
		if got := f.String(); got != want {
			t.Errorf("%q, want %q", got, want)
		}
	}
}
