package apply_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/manoctl/manoctl/adapters/membus"
	"github.com/manoctl/manoctl/reconcile/apply"
	"github.com/manoctl/manoctl/reconcile/bus"
	"github.com/manoctl/manoctl/reconcile/desired"
	"github.com/manoctl/manoctl/reconcile/gk"
	"github.com/manoctl/manoctl/reconcile/plan"
	"github.com/manoctl/manoctl/reconcile/wire"
)

// fakeSLM answers the gatekeeper requests apply sends, like the SLM does
// (an intermediate status, then READY or ERROR), and logs when each
// request started and ended. It lets the tests see the order apply runs
// things in, how many run at once, and what a failure does.
type fakeSLM struct {
	ep *bus.Endpoint

	mu          sync.Mutex
	seq         int
	log         []entry
	inflight    int
	maxInflight int
	// fail maps a request ("create a", "terminate id-c", "scale id-e
	// addvnf vnf_iperf 1") to the error its workflow ends with.
	fail map[string]string
	// gate, when set, runs before a request's workflow ends.
	gate func(what string)
}

type entry struct {
	start, end int // sequence numbers
	what       string
	corr       string
}

func newFakeSLM(t *testing.T) (*fakeSLM, *gk.Client) {
	t.Helper()
	br := membus.New()
	t.Cleanup(func() { br.Close() })
	f := &fakeSLM{ep: bus.NewEndpoint(br.Default(), bus.AppSLM), fail: map[string]string{}}
	for _, topic := range []string{bus.TopicServiceCreate, bus.TopicServiceTerminate, bus.TopicServiceUpdate, bus.TopicServiceScale} {
		if _, err := f.ep.Handle(context.Background(), topic, bus.SkipOwn|bus.RequestsOnly, f.handle); err != nil {
			t.Fatal(err)
		}
	}
	c := gk.New(br.Default(), bus.AppManoctl)
	c.Timeout = 20 * time.Second
	t.Cleanup(func() { c.Close() })
	return f, c
}

func (f *fakeSLM) handle(ctx context.Context, msg *bus.Message) {
	var body map[string]any
	if err := msg.Decode(&body); err != nil {
		panic(err)
	}
	str := func(m any, k string) string { s, _ := m.(map[string]any)[k].(string); return s }
	var what, first string
	var final wire.StatusMessage
	final.Status = bus.StatusReady
	switch msg.Topic {
	case bus.TopicServiceCreate:
		name := str(body["manoctl"], "instance_name")
		what, first = "create "+name, bus.StatusInstantiating
		final.NSR = map[string]any{"id": "new-" + name}
	case bus.TopicServiceTerminate:
		what, first = "terminate "+str(body, "instance_id"), bus.StatusTerminating
	case bus.TopicServiceUpdate:
		what, first = "update "+str(body, "instance_id")+" "+str(body["manoctl"], "instance_name"), bus.StatusUpdating
	case bus.TopicServiceScale:
		n, _ := body["number_of_instances"].(float64)
		if i, ok := body["number_of_instances"].(int); ok {
			n = float64(i)
		}
		what = fmt.Sprintf("scale %s %s %s %d", str(body, "service_instance_uuid"), str(body, "scaling_type"), str(body, "vnf_id"), int(n))
		first = bus.StatusScaling
	}
	f.mu.Lock()
	f.seq++
	i := len(f.log)
	f.log = append(f.log, entry{start: f.seq, end: -1, what: what, corr: msg.CorrelationID})
	f.inflight++
	f.maxInflight = max(f.maxInflight, f.inflight)
	gate := f.gate
	failure, failed := f.fail[what]
	f.mu.Unlock()
	go func() {
		f.ep.Reply(ctx, msg, wire.StatusMessage{Status: first})
		if gate != nil {
			gate(what)
		}
		if failed {
			final = wire.StatusMessage{Status: bus.StatusError, Error: failure}
		}
		f.mu.Lock()
		f.seq++
		f.log[i].end = f.seq
		f.inflight--
		f.mu.Unlock()
		f.ep.Reply(ctx, msg, final)
	}()
}

func (f *fakeSLM) entries() []entry {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.log)
}

func (f *fakeSLM) find(t *testing.T, what string) entry {
	t.Helper()
	for _, e := range f.entries() {
		if e.what == what {
			return e
		}
	}
	t.Fatalf("no request %q among %v", what, f.whats())
	return entry{}
}

func (f *fakeSLM) whats() []string {
	var out []string
	for _, e := range f.entries() {
		out = append(out, e.what)
	}
	return out
}

// service is a desired service of the demo's shape (three network
// functions); instances sets counts above one.
func service(name string, instances map[string]int) *desired.Service {
	s := &desired.Service{Name: name, NSD: map[string]any{"name": "sonata-demo"}, SpecDigest: "sha256:" + name, Instances: map[string]int{}}
	for _, id := range []string{"vnf_firewall", "vnf_iperf", "vnf_tcpdump"} {
		s.Functions = append(s.Functions, desired.Function{VNFID: id, VNFD: map[string]any{"name": id}})
		s.Instances[id] = 1
	}
	for k, v := range instances {
		s.Instances[k] = v
	}
	return s
}

func state(svcs ...*desired.Service) *desired.State { return &desired.State{Services: svcs} }

// recorder is a Hook that keeps what it was told.
type recorder struct {
	mu       sync.Mutex
	started  map[string]string   // service -> corr
	requests map[string][]string // service -> what
	statuses map[string][]string
	done     map[string]*apply.ChangeResult
}

func newRecorder() *recorder {
	return &recorder{started: map[string]string{}, requests: map[string][]string{}, statuses: map[string][]string{}, done: map[string]*apply.ChangeResult{}}
}

func (r *recorder) Started(c *plan.Change, corr string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.started[c.Service]; dup {
		panic("started twice: " + c.Service)
	}
	r.started[c.Service] = corr
}

func (r *recorder) Request(c *plan.Change, what, corr string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests[c.Service] = append(r.requests[c.Service], what)
}

func (r *recorder) Status(c *plan.Change, status string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.statuses[c.Service] = append(r.statuses[c.Service], status)
}

func (r *recorder) Done(c *plan.Change, res *apply.ChangeResult) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.done[c.Service]; dup {
		panic("done twice: " + c.Service)
	}
	r.done[c.Service] = res
}

// TestRunOrder: what frees capacity (destroys, the terminate half of
// replaces and heals, the scale-ins of scale changes) runs before anything
// is deployed, as the plan's placement preview assumes; within a change, a
// create or an update comes before its scaling (an update's scale-ins
// included), a terminate before its create.
func TestRunOrder(t *testing.T) {
	slm, c := newFakeSLM(t)
	st := state(
		service("a", map[string]int{"vnf_iperf": 2}),
		service("b", map[string]int{"vnf_iperf": 2}),
		service("c", nil), service("d", nil),
		service("e", map[string]int{"vnf_tcpdump": 2}),
	)
	p := &plan.Plan{Changes: []*plan.Change{
		{Service: "x", ServiceID: "id-x", Action: plan.Destroy},
		{Service: "y", ServiceID: "id-y", Action: plan.Destroy},
		{Service: "a", Action: plan.Create},
		{Service: "b", ServiceID: "id-b", Action: plan.Update, Scale: []plan.ScaleDelta{
			{VNFID: "vnf_iperf", From: 1, To: 2}, {VNFID: "vnf_tcpdump", From: 2, To: 1}}},
		{Service: "c", ServiceID: "id-c", Action: plan.Replace},
		{Service: "d", ServiceID: "id-d", Action: plan.Heal},
		{Service: "e", ServiceID: "id-e", Action: plan.Scale, Scale: []plan.ScaleDelta{
			{VNFID: "vnf_iperf", From: 3, To: 1}, {VNFID: "vnf_tcpdump", From: 1, To: 2}}},
	}}
	hook := newRecorder()
	res, err := apply.Run(context.Background(), c, p, st, apply.Options{Hook: hook})
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed() != 0 {
		for _, r := range res.Changes {
			t.Errorf("%s: %v", r.Change.Service, r.Err)
		}
		t.FailNow()
	}
	want := []string{
		"terminate id-x", "terminate id-y", "terminate id-c", "terminate id-d", "scale id-e removevnf vnf_iperf 2",
		"create a", "scale new-a addvnf vnf_iperf 1",
		"update id-b b", "scale id-b removevnf vnf_tcpdump 1", "scale id-b addvnf vnf_iperf 1",
		"create c", "create d", "scale id-e addvnf vnf_tcpdump 1",
	}
	got := slm.whats()
	if !sameSet(got, want) {
		t.Fatalf("requests\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	// Everything that frees capacity ended before anything was deployed.
	lastFree := 0
	for _, w := range want[:5] {
		lastFree = max(lastFree, slm.find(t, w).end)
	}
	for _, w := range want[5:] {
		if e := slm.find(t, w); e.start < lastFree {
			t.Errorf("%q started before the capacity the plan counted on was freed", w)
		}
	}
	// Each change's requests in order.
	for _, pair := range [][2]string{
		{"create a", "scale new-a addvnf vnf_iperf 1"},
		{"update id-b b", "scale id-b removevnf vnf_tcpdump 1"},
		{"scale id-b removevnf vnf_tcpdump 1", "scale id-b addvnf vnf_iperf 1"},
		{"terminate id-c", "create c"},
		{"terminate id-d", "create d"},
		{"scale id-e removevnf vnf_iperf 2", "scale id-e addvnf vnf_tcpdump 1"},
	} {
		if a, b := slm.find(t, pair[0]), slm.find(t, pair[1]); a.end > b.start {
			t.Errorf("%q must end before %q starts", pair[0], pair[1])
		}
	}
	// Results: destroys first, then the plan's order; ids of what was
	// created.
	var order []string
	for _, r := range res.Changes {
		order = append(order, r.Change.Service+"="+r.ServiceID)
	}
	if want := []string{"x=id-x", "y=id-y", "a=new-a", "b=id-b", "c=new-c", "d=new-d", "e=id-e"}; !slices.Equal(order, want) {
		t.Errorf("results %v, want %v", order, want)
	}
	// The hook saw each change start once, with the correlation id of its
	// first request, then its later requests, statuses and end.
	for _, ch := range p.Changes {
		corr, ok := hook.started[ch.Service]
		if !ok || hook.done[ch.Service] == nil || hook.done[ch.Service].Err != nil {
			t.Errorf("%s: started %v, done %+v", ch.Service, ok, hook.done[ch.Service])
			continue
		}
		found := false
		for _, e := range slm.entries() {
			if e.corr == corr {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: started with correlation id %s, which no request carried", ch.Service, corr)
		}
	}
	wantReq := map[string][]string{"a": {"scale vnf_iperf"}, "b": {"scale vnf_tcpdump", "scale vnf_iperf"}, "c": {"create"}, "d": {"create"}, "e": {"scale vnf_tcpdump"}}
	for s, w := range wantReq {
		if !slices.Equal(hook.requests[s], w) {
			t.Errorf("%s: later requests %v, want %v", s, hook.requests[s], w)
		}
	}
	if st := hook.statuses["c"]; !slices.Equal(st, []string{bus.StatusTerminating, bus.StatusInstantiating}) {
		t.Errorf("c's statuses %v", st)
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// TestRunParallelism: independent services change in parallel, never more
// at once than Parallelism allows (16 by default).
func TestRunParallelism(t *testing.T) {
	for _, tc := range []struct{ parallelism, services, want int }{{3, 10, 3}, {0, 24, 16}, {1, 3, 1}} {
		t.Run(fmt.Sprint(tc.parallelism), func(t *testing.T) {
			slm, c := newFakeSLM(t)
			release := make(chan struct{})
			slm.gate = func(string) { <-release }
			var svcs []*desired.Service
			p := &plan.Plan{}
			for i := 0; i < tc.services; i++ {
				name := fmt.Sprintf("s%02d", i)
				svcs = append(svcs, service(name, nil))
				p.Changes = append(p.Changes, &plan.Change{Service: name, Action: plan.Create})
			}
			done := make(chan *apply.Result)
			go func() {
				res, err := apply.Run(context.Background(), c, p, state(svcs...), apply.Options{Parallelism: tc.parallelism})
				if err != nil {
					t.Error(err)
				}
				done <- res
			}()
			// Wait until as many workflows run as allowed, give a
			// further one the chance to start, then let them all end.
			deadline := time.Now().Add(10 * time.Second)
			for {
				slm.mu.Lock()
				n := slm.inflight
				slm.mu.Unlock()
				if n >= tc.want || time.Now().After(deadline) {
					break
				}
				time.Sleep(time.Millisecond)
			}
			time.Sleep(50 * time.Millisecond)
			close(release)
			res := <-done
			if res == nil || res.Failed() != 0 || len(res.Changes) != tc.services {
				t.Fatalf("result %+v", res)
			}
			if slm.maxInflight != tc.want {
				t.Errorf("%d workflows ran at once, want %d", slm.maxInflight, tc.want)
			}
		})
	}
}

// TestRunPartialFailure: a failed change does not stop the others; the
// result says which failed and why, and a replace whose terminate failed
// creates nothing.
func TestRunPartialFailure(t *testing.T) {
	slm, c := newFakeSLM(t)
	slm.fail["create bad"] = "vnf_deploy: Deployment Error"
	slm.fail["terminate id-r"] = "cannot terminate"
	slm.fail["scale new-s addvnf vnf_iperf 1"] = "placement: no VIM fits"
	slm.fail["terminate id-gone"] = "IA unreachable"
	st := state(service("bad", nil), service("good", nil), service("r", nil), service("s", map[string]int{"vnf_iperf": 2}))
	p := &plan.Plan{Changes: []*plan.Change{
		{Service: "gone", ServiceID: "id-gone", Action: plan.Destroy},
		{Service: "bad", Action: plan.Create},
		{Service: "good", Action: plan.Create},
		{Service: "r", ServiceID: "id-r", Action: plan.Replace},
		{Service: "s", Action: plan.Create},
		{Service: "unknown", Action: plan.Create},
	}}
	hook := newRecorder()
	res, err := apply.Run(context.Background(), c, p, st, apply.Options{Hook: hook})
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed() != 5 || len(res.Changes) != 6 {
		t.Fatalf("failed %d of %d", res.Failed(), len(res.Changes))
	}
	byName := map[string]*apply.ChangeResult{}
	for _, r := range res.Changes {
		byName[r.Change.Service] = r
	}
	wantErr := map[string]string{
		"gone":    "destroy gone: IA unreachable",
		"bad":     "create bad: vnf_deploy: Deployment Error",
		"r":       "replace r: cannot terminate",
		"s":       "create s: scale vnf_iperf to 2: placement: no VIM fits",
		"unknown": "service unknown is not in the desired state",
	}
	for name, w := range wantErr {
		r := byName[name]
		if r.Err == nil || r.Err.Error() != w {
			t.Errorf("%s: error %v, want %q", name, r.Err, w)
		}
	}
	var we *gk.WorkflowError
	if !errors.As(byName["bad"].Err, &we) || we.Status != bus.StatusError {
		t.Errorf("a workflow's ERROR is a *gk.WorkflowError: %#v", byName["bad"].Err)
	}
	if r := byName["good"]; r.Err != nil || r.ServiceID != "new-good" {
		t.Errorf("good: %+v", r)
	}
	if r := byName["s"]; r.ServiceID != "new-s" {
		t.Errorf("a create whose scaling failed still names the instance it made: %+v", r)
	}
	if slices.Contains(slm.whats(), "create r") {
		t.Error("replace created after its terminate failed")
	}
	if slices.ContainsFunc(slm.whats(), func(w string) bool { return strings.Contains(w, "unknown") }) {
		t.Error("a request went out for a service the desired state does not have")
	}
	if len(hook.done) != 6 {
		t.Errorf("Done called for %d changes, want 6", len(hook.done))
	}
}

// TestRunRefusesInfeasiblePlan: nothing is sent for a plan that cannot be
// placed.
func TestRunRefusesInfeasiblePlan(t *testing.T) {
	slm, c := newFakeSLM(t)
	p := &plan.Plan{Infeasible: true, Changes: []*plan.Change{{Service: "a", Action: plan.Create, Infeasible: "no VIM fits"}}}
	if _, err := apply.Run(context.Background(), c, p, state(service("a", nil)), apply.Options{}); !errors.Is(err, apply.ErrNotApplyable) {
		t.Fatalf("err %v, want ErrNotApplyable", err)
	}
	time.Sleep(20 * time.Millisecond)
	if n := len(slm.entries()); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}

// TestRunEmptyPlan: nothing to do is no error.
func TestRunEmptyPlan(t *testing.T) {
	_, c := newFakeSLM(t)
	res, err := apply.Run(context.Background(), c, &plan.Plan{}, state(), apply.Options{})
	if err != nil || len(res.Changes) != 0 || res.Failed() != 0 {
		t.Fatalf("res %+v err %v", res, err)
	}
}

// TestRunCancelled: a cancelled context ends the waiting changes with its
// error.
func TestRunCancelled(t *testing.T) {
	slm, c := newFakeSLM(t)
	block := make(chan struct{})
	defer close(block)
	slm.gate = func(string) { <-block }
	ctx, cancel := context.WithCancel(context.Background())
	p := &plan.Plan{Changes: []*plan.Change{{Service: "a", Action: plan.Create}, {Service: "b", Action: plan.Create}}}
	go func() {
		for len(slm.entries()) < 2 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	res, err := apply.Run(ctx, c, p, state(service("a", nil), service("b", nil)), apply.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res.Changes {
		if !errors.Is(r.Err, context.Canceled) {
			t.Errorf("%s: %v, want context.Canceled", r.Change.Service, r.Err)
		}
	}
}

// TestRunOneAtATimeWhenVIMsAreTight: changes that deploy run one at a
// time, in plan order, when the VIMs could not take all they deploy at
// once; changes that only free capacity still run in parallel.
func TestRunOneAtATimeWhenVIMsAreTight(t *testing.T) {
	for _, tc := range []struct {
		name       string
		coresTotal int
		want       int
	}{{"tight", 12, 1}, {"roomy", 100, 4}} {
		t.Run(tc.name, func(t *testing.T) {
			slm, c := newFakeSLM(t)
			var svcs []*desired.Service
			p := &plan.Plan{VIMs: []plan.VIMDelta{{Name: "v", CoresTotal: tc.coresTotal, CoresBefore: 2, CoresAfter: 12,
				MemoryTotalMB: 1e6, MemoryBeforeMB: 4000, MemoryAfterMB: 24000}}}
			for i := 0; i < 4; i++ {
				name := fmt.Sprintf("s%d", i)
				svcs = append(svcs, service(name, nil))
				ch := &plan.Change{Service: name, Action: plan.Create}
				for _, vnf := range []string{"vnf_firewall", "vnf_iperf", "vnf_tcpdump"} {
					ch.Placement = append(ch.Placement, plan.FunctionPlacement{VNFID: vnf, VIM: "v", Cores: 1, MemoryMB: 2000})
				}
				p.Changes = append(p.Changes, ch)
			}
			for i := 0; i < 3; i++ {
				p.Changes = append(p.Changes, &plan.Change{Service: fmt.Sprintf("gone%d", i), ServiceID: fmt.Sprintf("id-%d", i), Action: plan.Destroy})
			}
			// Hold each workflow until as many of its kind as may run at
			// once have started (or a while has passed), so that overlaps
			// show.
			slm.gate = func(what string) {
				kind, want, wait := "terminate", 3, 2*time.Second
				if strings.HasPrefix(what, "create") {
					// All four, if they run at once; one at a time, each
					// waits a little for others that must not come.
					kind, want = "create", 4
					if tc.want == 1 {
						wait = 50 * time.Millisecond
					}
				}
				for deadline := time.Now().Add(wait); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
					n := 0
					for _, e := range slm.entries() {
						if strings.HasPrefix(e.what, kind) {
							n++
						}
					}
					if n >= want {
						break
					}
				}
			}
			res, err := apply.Run(context.Background(), c, p, state(svcs...), apply.Options{})
			if err != nil || res.Failed() != 0 {
				t.Fatalf("res %+v err %v", res, err)
			}
			es := slm.entries()
			overlap := func(prefix string) int {
				most := 0
				for _, a := range es {
					if !strings.HasPrefix(a.what, prefix) {
						continue
					}
					n := 0
					for _, b := range es {
						if strings.HasPrefix(b.what, prefix) && b.start < a.end && a.start < b.end {
							n++
						}
					}
					most = max(most, n)
				}
				return most
			}
			if n := overlap("terminate"); n != 3 {
				t.Errorf("destroys ran %d at once, want 3", n)
			}
			if n := overlap("create"); n != tc.want {
				t.Errorf("%d creates ran at once, want %d", n, tc.want)
			}
			if tc.want == 1 {
				var order []string
				for _, e := range es {
					if strings.HasPrefix(e.what, "create") {
						order = append(order, e.what)
					}
				}
				if !slices.Equal(order, []string{"create s0", "create s1", "create s2", "create s3"}) {
					t.Errorf("creates in order %v, want the plan's", order)
				}
			}
		})
	}
}
