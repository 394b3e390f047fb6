package embedded_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/manoctl/manoctl/adapters/embedded"
	"github.com/manoctl/manoctl/adapters/emulator"
	"github.com/manoctl/manoctl/adapters/membus"
	"github.com/manoctl/manoctl/reconcile/bus"
	"github.com/manoctl/manoctl/reconcile/gk"
	"github.com/manoctl/manoctl/reconcile/mano"
	"github.com/manoctl/manoctl/reconcile/slm"
)

// fastTimeouts make lost replies fail a test in well under a second: the
// emulator answers in microseconds.
var fastTimeouts = bus.ScaledTimeouts(0.002)

// TestInstantiationFailureAtEachStep injects an IA failure, or a lost reply
// (the request took effect, the answer never came: the hard case), at each
// IA step of an instantiation. Every time: the requester gets one ERROR
// naming the step, no function stays deployed, capacity is as before, and
// the records say which step failed and that the work was rolled back.
func TestInstantiationFailureAtEachStep(t *testing.T) {
	steps := []struct {
		topic string
		call  int
		step  string
	}{
		{bus.TopicIAComputeList, 1, slm.TaskTopology},
		{bus.TopicIAServicePrepare, 1, slm.TaskPrepare},
		{bus.TopicIAFunctionDeploy, 1, slm.TaskDeploy},
		{bus.TopicIAFunctionDeploy, 2, slm.TaskDeploy},
		{bus.TopicIAFunctionDeploy, 3, slm.TaskDeploy},
		{bus.TopicIAChainConfigure, 1, slm.TaskChain},
		{bus.TopicIAWanConfigure, 1, slm.TaskWanConfigure},
	}
	faults := []struct {
		name  string
		fault emulator.Fault
	}{
		{"fail", emulator.Fail("injected failure")},
		{"timeout", emulator.DropReply()},
		{"malformed", emulator.Malformed()},
	}
	for _, s := range steps {
		for _, f := range faults {
			t.Run(fmt.Sprintf("%s#%d/%s", s.topic, s.call, f.name), func(t *testing.T) {
				p, rec := start(t, func(c *embedded.Config) { c.MANO.Timeouts = fastTimeouts })
				before := p.IA.VIMs()
				p.IA.Inject(s.topic, s.call, f.fault)
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				res, err := p.GK.Create(ctx, demo(t), nil)
				if err != nil {
					t.Fatal(err)
				}
				if res.OK() {
					t.Fatal("instantiation succeeded despite the fault")
				}
				msg := fmt.Sprint(res.Final.Error)
				if !strings.Contains(msg, s.step) {
					t.Errorf("ERROR %q does not name the step %s", msg, s.step)
				}
				p.WaitIdle(ctx)
				if fs := p.IA.Snapshot().Functions; len(fs) != 0 {
					t.Errorf("%d functions left deployed: %+v", len(fs), fs)
				}
				assertCapacity(t, before, p.IA.VIMs())
				ops := rec.Operations()
				if len(ops) != 1 || ops[0].FailedStep != s.step || (ops[0].Status != slm.OpRolledBack && ops[0].Status != slm.OpFailed) {
					t.Fatalf("operation %+v", ops)
				}
				svcs := rec.Services()
				if len(svcs) != 1 || svcs[0].Status != slm.StatusError || svcs[0].Prepared {
					t.Fatalf("service record %+v", svcs)
				}
			})
		}
	}
}

func assertCapacity(t *testing.T, before, after []emulator.VIM) {
	t.Helper()
	for i := range before {
		if before[i].CoreUsed != after[i].CoreUsed || before[i].MemoryUsedMB != after[i].MemoryUsedMB {
			t.Errorf("capacity of %s not restored: %d cores/%.0f MB used before, %d/%.0f after",
				before[i].Name, before[i].CoreUsed, before[i].MemoryUsedMB, after[i].CoreUsed, after[i].MemoryUsedMB)
		}
	}
}

// Duplicate and late replies must be harmless: the workflow succeeds once.
func TestDuplicateAndLateRepliesAreHarmless(t *testing.T) {
	p, _ := start(t, nil)
	for _, topic := range []string{bus.TopicIAComputeList, bus.TopicIAServicePrepare, bus.TopicIAFunctionDeploy, bus.TopicIAChainConfigure} {
		p.IA.Inject(topic, emulator.Every, emulator.Duplicate(2))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := 0; i < 3; i++ {
		res, err := p.GK.Create(ctx, demo(t), nil)
		if err != nil || !res.OK() {
			t.Fatalf("create %d: %v %+v", i, err, res)
		}
	}
}

func TestTerminationFailureKeepsRecordForRetry(t *testing.T) {
	p, rec := start(t, func(c *embedded.Config) { c.MANO.Timeouts = fastTimeouts })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := p.GK.Create(ctx, demo(t), nil)
	if err != nil || !res.OK() {
		t.Fatalf("create: %v %+v", err, res)
	}
	id := res.Final.NSR["id"].(string)
	p.IA.Inject(bus.TopicIAServiceRemove, 1, emulator.Fail("remove failed"))
	res, err = p.GK.Terminate(ctx, id, nil)
	if err != nil || res.OK() {
		t.Fatalf("terminate should fail: %v %+v", err, res)
	}
	st, _ := rec.LoadService(ctx, id)
	if st.Status != slm.StatusError || !st.Prepared || st.FailedStep != slm.TaskTerminateSvc {
		t.Fatalf("record after failed terminate: %+v", st)
	}
	// Retrying converges.
	res, err = p.GK.Terminate(ctx, id, nil)
	if err != nil || !res.OK() {
		t.Fatalf("retry: %v %+v", err, res)
	}
	if fs := p.IA.Snapshot().Functions; len(fs) != 0 {
		t.Fatalf("functions left: %v", fs)
	}
}

// flakyBus refuses the first n subscriptions to one pattern, as a broker
// does for a moment while it goes away (ACCESS_REFUSED on the reply
// queue's declaration).
type flakyBus struct {
	bus.Bus
	pattern string
	left    atomic.Int32
}

func (b *flakyBus) Subscribe(ctx context.Context, pattern string, h bus.Handler, opts ...bus.SubscribeOption) (bus.Subscription, error) {
	if pattern == b.pattern && b.left.Add(-1) >= 0 {
		return nil, errors.New("injected: ACCESS_REFUSED declaring the reply queue")
	}
	return b.Bus.Subscribe(ctx, pattern, h, opts...)
}

// A rollback whose bus fails for a moment retries: the failed
// instantiation leaves no function deployed and the service not prepared.
// (Before, the rollback gave up at the first refused subscription and the
// functions stayed on the VIMs.)
func TestRollbackRetriesWhenTheBusFails(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	broker := membus.New()
	defer broker.Close()
	ia, err := emulator.New(inventory())
	if err != nil {
		t.Fatal(err)
	}
	defer ia.Close()
	if err := ia.Start(ctx, broker.Default()); err != nil {
		t.Fatal(err)
	}
	flaky := &flakyBus{Bus: broker.Default(), pattern: bus.TopicIAServiceRemove}
	flaky.left.Store(2)
	rec := slm.NewMemRecords()
	m, err := mano.Start(ctx, flaky, mano.Config{Placer: embedded.DefaultPlacer(), Records: rec, Timeouts: fastTimeouts})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	client := gk.New(broker.Default(), bus.AppManoctl)
	defer client.Close()

	before := ia.VIMs()
	ia.Inject(bus.TopicIAChainConfigure, 1, emulator.Fail("injected failure"))
	res, err := client.Create(ctx, demo(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.OK() {
		t.Fatal("instantiation succeeded despite the fault")
	}
	if fs := ia.Snapshot().Functions; len(fs) != 0 {
		t.Errorf("%d functions left deployed after the rollback: %+v", len(fs), fs)
	}
	assertCapacity(t, before, ia.VIMs())
	if left := flaky.left.Load(); left >= 0 {
		t.Errorf("the rollback subscribed %d times fewer than the test refused", left+1)
	}
	svcs := rec.Services()
	if len(svcs) != 1 || svcs[0].Status != slm.StatusError || svcs[0].Prepared {
		t.Fatalf("service record %+v", svcs)
	}
}
