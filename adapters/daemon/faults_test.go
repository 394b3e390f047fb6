package daemon_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/manoctl/manoctl/adapters/amqp"
	"github.com/manoctl/manoctl/adapters/amqp/amqptest"
	"github.com/manoctl/manoctl/adapters/embedded"
	"github.com/manoctl/manoctl/reconcile/bus"
	"github.com/manoctl/manoctl/reconcile/control"
	"github.com/manoctl/manoctl/reconcile/gk"
	"github.com/manoctl/manoctl/reconcile/records"
	"github.com/manoctl/manoctl/reconcile/wire"
)

// dialBus connects a reconnecting manoctl bus to the platform's vhost on
// the daemon's exchange.
func (p *platform) dialBus(t *testing.T, name string) *amqp.Bus {
	t.Helper()
	cfg := amqptest.Config(t, p.vhost)
	cfg.Exchange = "son-kernel"
	cfg.Name = name
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := amqp.Dial(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// restartBroker does to the platform's vhost what a broker restart does
// to a non-durable SONATA setup: every connection is closed, the
// exchange and every queue are gone, and for a while nothing can
// connect. Deleting and re-creating the test's own vhost does exactly
// that without disturbing the tests that share the broker.
func (p *platform) restartBroker(t *testing.T, down time.Duration) {
	t.Helper()
	m := amqptest.Manager(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// A broker going down closes every connection and loses its
	// non-durable state; until it is back, no one gets in. Deleting the
	// vhost does all of that at once (closing the connections first,
	// apart, would let the clients back in to a vhost about to go, a
	// window a real restart does not have).
	if err := m.DeleteVhost(ctx, p.vhost); err != nil {
		t.Fatalf("broker restart: delete vhost: %v", err)
	}
	time.Sleep(down)
	if err := amqp.EnsureVhost(ctx, m, p.vhost, "guest"); err != nil {
		t.Fatalf("broker restart: re-create vhost: %v", err)
	}
}

// uuidRE matches the ids in error texts, so that like errors count as one.
var uuidRE = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

func sonataDemo(t testing.TB) wire.CreateRequest {
	t.Helper()
	req, err := embedded.SonataDemo("../embedded/testdata/sonata-demo")
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// operations lists the daemon's operations once none is running.
func settledOperations(t *testing.T, c *control.Client, within time.Duration) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		rep, err := c.Get(ctx, "operations", true)
		cancel()
		if err == nil {
			running := 0
			for _, o := range rep.Items {
				if s := o["status"]; !records.OperationStatus(fmt.Sprint(s)).Done() {
					running++
				}
			}
			if running == 0 {
				return rep.Items
			}
			err = fmt.Errorf("%d operations still running", running)
		}
		if time.Now().After(deadline) {
			t.Fatalf("operations did not settle within %s: %v", within, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func healthz(t *testing.T, d *proc) {
	t.Helper()
	addr, _ := d.readyInfo()["metrics_addr"].(string)
	if addr == "" {
		t.Fatal("the daemon's ready file names no metrics address")
	}
	var last string
	for range 100 {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			last = fmt.Sprintf("%d %s", resp.StatusCode, b)
		} else {
			last = err.Error()
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("daemon unhealthy: /healthz %s", last)
}

// The broker restarts in the middle of 50 concurrent instantiations:
// every request ends, READY or ERROR (a status lost with the broker ends
// it at the client's timeout), none hangs; the records hold each service
// once, none left instantiating, every READY one ready; the daemon
// reconnects, is healthy and instantiates again.
func TestBrokerRestartDuringInstantiations(t *testing.T) {
	if testing.Short() {
		t.Skip("broker restart takes a while")
	}
	// Deploys take a second, as on a real VIM, so that the restart finds
	// workflows at every step.
	p := startPlatform(t, []string{"--latency", "infrastructure.function.deploy=1s"},
		"--timeout-scale", "0.05", "--metrics-addr", "127.0.0.1:0")
	b := p.dialBus(t, "manoctl test gatekeeper")
	client := gk.New(b, bus.AppGatekeeper)
	client.Timeout = 45 * time.Second
	req := sonataDemo(t)

	const n = 50
	var started atomic.Int32
	restart := make(chan struct{})
	type outcome struct {
		res  *gk.Result
		err  error
		took time.Duration
	}
	outcomes := make([]outcome, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t0 := time.Now()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			res, err := client.Create(ctx, req, func(wire.StatusMessage) {
				if started.Add(1) == 10 {
					close(restart)
				}
			})
			outcomes[i] = outcome{res, err, time.Since(t0)}
		}()
	}
	select {
	case <-restart:
	case <-time.After(60 * time.Second):
		t.Fatal("no instantiation started")
	}
	p.restartBroker(t, 2*time.Second)
	wg.Wait()

	ready := map[string]bool{}
	var nReady, nError, nTimeout int
	reasons := map[string]int{}
	for i, o := range outcomes {
		switch {
		case o.err != nil:
			// The request's status messages were lost with the broker:
			// the client gives up at its timeout, never later.
			if o.took > client.Timeout+10*time.Second {
				t.Errorf("request %d ended after %s (%v), past its timeout %s", i, o.took, o.err, client.Timeout)
			}
			nTimeout++
		case o.res.OK():
			nReady++
			id, _ := o.res.Final.NSR["id"].(string)
			if id == "" || ready[id] {
				t.Errorf("request %d: READY with service id %q (empty or duplicate)", i, id)
			}
			ready[id] = true
		default:
			nError++
			reasons[uuidRE.ReplaceAllString(o.res.Err().Error(), "<id>")]++
		}
	}
	for r, k := range reasons {
		t.Logf("%d ERROR: %.300s", k, r)
	}
	t.Logf("after the broker restart: %d READY, %d ERROR, %d lost to the client (timeout)", nReady, nError, nTimeout)

	c := control.NewClient(b)
	defer c.Close()
	ops := settledOperations(t, c, 90*time.Second)
	byCorr := map[string]int{}
	for _, o := range ops {
		if o["kind"] == "instantiate" {
			byCorr[fmt.Sprint(o["correlation_id"])]++
		}
	}
	for corr, k := range byCorr {
		if k > 1 {
			t.Errorf("request %s was instantiated %d times", corr, k)
		}
	}
	if len(byCorr) > n {
		t.Errorf("%d instantiate operations for %d requests", len(byCorr), n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	svcs, err := c.Get(ctx, "services", true)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, s := range svcs.Items {
		id := fmt.Sprint(s["id"])
		if seen[id] {
			t.Errorf("service %s listed twice", id)
		}
		seen[id] = true
		if st := s["status"]; st != "ready" && st != "error" && st != "terminated" {
			t.Errorf("service %s left %v after the restart", id, st)
		}
		if ready[id] && s["status"] != "ready" {
			t.Errorf("service %s was READY to the gatekeeper but is %v in the records", id, s["status"])
		}
		delete(ready, id)
	}
	for id := range ready {
		t.Errorf("service %s was READY to the gatekeeper but is not in the records", id)
	}

	checkInfraMatchesRecords(t, b, c)

	healthz(t, p.daemon)
	res, err := client.Create(ctx, req, nil)
	if err != nil || !res.OK() {
		t.Fatalf("instantiation after the broker restart: %v %+v", err, res)
	}
	terminateAll(t, b, c, client)
}

// infraState asks the emulator for the functions it runs and the VIMs'
// use.
func infraState(t *testing.T, b bus.Bus) (functions map[string]bool, coresUsed int) {
	t.Helper()
	ep := bus.NewEndpoint(b, "manoctl.test.probe")
	defer ep.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	m, err := ep.Request(ctx, control.TopicEmulatorState, map[string]any{})
	if err != nil {
		t.Fatalf("emulator state: %v", err)
	}
	var st control.EmulatorState
	if err := m.Decode(&st); err != nil {
		t.Fatal(err)
	}
	functions = map[string]bool{}
	for _, id := range st.Functions {
		functions[id] = true
	}
	m, err = ep.Request(ctx, bus.TopicIAComputeList, map[string]any{})
	if err != nil {
		t.Fatalf("compute.list: %v", err)
	}
	var vims []wire.VIMResources
	if err := m.Decode(&vims); err != nil {
		t.Fatal(err)
	}
	for _, v := range vims {
		coresUsed += v.CoreUsed
	}
	return functions, coresUsed
}

// infraMismatches lists how the functions the emulator runs differ from
// those of the services the records hold as running: orphan VNFs left on
// a VIM, functions of ready services missing.
func infraMismatches(t *testing.T, b bus.Bus, c *control.Client) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	fns, err := c.Get(ctx, "functions", false)
	if err != nil {
		t.Fatal(err)
	}
	svcs, err := c.Get(ctx, "services", false)
	if err != nil {
		t.Fatal(err)
	}
	status := map[string]string{}
	for _, s := range svcs.Items {
		status[fmt.Sprint(s["id"])] = fmt.Sprint(s["status"])
	}
	infra, _ := infraState(t, b)
	owned := map[string]bool{}
	var out []string
	for _, f := range fns.Items {
		id := fmt.Sprint(f["id"])
		owned[id] = true
		if status[fmt.Sprint(f["service_id"])] == "ready" && !infra[id] {
			out = append(out, fmt.Sprintf("function %s of ready service %s is not running on any VIM", id, f["service"]))
		}
	}
	for id := range infra {
		if !owned[id] {
			out = append(out, fmt.Sprintf("orphan: the infrastructure runs function %s, which no service record owns", id))
		}
	}
	return out
}

// checkInfraMatchesRecords fails t unless the emulator runs exactly the
// functions of the services the records hold as running.
func checkInfraMatchesRecords(t *testing.T, b bus.Bus, c *control.Client) {
	t.Helper()
	for _, m := range infraMismatches(t, b, c) {
		t.Error(m)
	}
}

// waitInfraMatchesRecords is checkInfraMatchesRecords for a daemon whose
// reconcile loop is still removing orphans.
func waitInfraMatchesRecords(t *testing.T, b bus.Bus, c *control.Client, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ms := infraMismatches(t, b, c)
		if len(ms) == 0 {
			return
		}
		if time.Now().After(deadline) {
			for _, m := range ms {
				t.Error(m)
			}
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// terminateAll terminates every service the records hold as running and
// checks that the VIMs are back to empty.
func terminateAll(t *testing.T, b bus.Bus, c *control.Client, client *gk.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	svcs, err := c.Get(ctx, "services", false)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for _, s := range svcs.Items {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := client.Terminate(ctx, fmt.Sprint(s["id"]), nil)
			if err == nil {
				err = res.Err()
			}
			if err != nil {
				t.Errorf("terminate %v (%v): %v", s["id"], s["status"], err)
			}
		}()
	}
	wg.Wait()
	infra, cores := infraState(t, b)
	if len(infra) != 0 || cores != 0 {
		t.Errorf("after terminating everything the VIMs run %d functions and use %d cores", len(infra), cores)
	}
}
