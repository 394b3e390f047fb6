package embedded_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/manoctl/manoctl/adapters/embedded"
	"github.com/manoctl/manoctl/adapters/emulator"
	"github.com/manoctl/manoctl/adapters/membus"
	"github.com/manoctl/manoctl/adapters/smruntime"
	"github.com/manoctl/manoctl/adapters/smruntime/examples/managers"
	"github.com/manoctl/manoctl/reconcile/bus"
	"github.com/manoctl/manoctl/reconcile/bus/bustest"
	"github.com/manoctl/manoctl/reconcile/gk"
	"github.com/manoctl/manoctl/reconcile/mano"
	"github.com/manoctl/manoctl/reconcile/slm"
	"github.com/manoctl/manoctl/reconcile/sm"
	"github.com/manoctl/manoctl/reconcile/sm/sdk"
	"github.com/manoctl/manoctl/reconcile/wire"
	"github.com/manoctl/manoctl/schema/descriptor"
)

// smPlatform is the embedded platform with the specific-manager plugins:
// the SMR and PLEX, the SLM's and FLM's manager steps, and the example
// managers in-process (smruntime.InProcess over the in-process bus).
type smPlatform struct {
	Broker  *membus.Broker
	IA      *emulator.Emulator
	MANO    *mano.Platform
	GK      *gk.Client
	Stack   *smruntime.Stack
	Runtime *smruntime.InProcess
	Records *slm.MemRecords
	tap     *vhostTap
}

// smOptions tune startSM.
type smOptions struct {
	timeouts     func(string) time.Duration
	registration time.Duration
	// images replaces or adds in-process managers by image.
	images map[string]smruntime.ManagerFunc
	// options adjusts the options of the example managers by image.
	options map[string]func(*managers.Options)
	tap     bool
}

// exampleImages maps the test descriptors' images to the example managers.
func exampleImages(b *membus.Broker, adjust map[string]func(*managers.Options)) map[string]smruntime.ManagerFunc {
	d := smruntime.MembusDialer{Broker: b}
	ex := func(image string, r managers.Role, o managers.Options) (string, smruntime.ManagerFunc) {
		if f := adjust[image]; f != nil {
			f(&o)
		}
		return image, func(ctx context.Context, getenv func(string) string) error {
			return managers.Run(ctx, r, o, d, getenv)
		}
	}
	out := map[string]smruntime.ManagerFunc{}
	for _, e := range []struct {
		image string
		role  managers.Role
		o     managers.Options
	}{
		{"manoctl/sonssmdemotask1", managers.RoleTaskSSM, managers.Options{Service: "demo", Name: "task", Number: "1"}},
		{"manoctl/sonssmdemoconfigure1", managers.RoleConfigureSSM, managers.Options{Service: "demo", Name: "configure", Number: "1"}},
		{"manoctl/sonssmdemoplacement1", managers.RolePlacementSSM, managers.Options{Service: "demo", Name: "placement", Number: "1"}},
		{"manoctl/sonfsmdemoiperfstart1", managers.RoleConfigureFSM, managers.Options{Service: "demo", Function: "iperf", Name: "start", Number: "1", Type: sm.TypeStart}},
		{"manoctl/sonfsmdemoiperfstop1", managers.RoleConfigureFSM, managers.Options{Service: "demo", Function: "iperf", Name: "stop", Number: "1", Type: sm.TypeStop}},
		{"manoctl/sonfsmdemoiperfconfigure1", managers.RoleConfigureFSM, managers.Options{Service: "demo", Function: "iperf", Name: "configure", Number: "1", Type: sm.TypeConfigure}},
	} {
		k, f := ex(e.image, e.role, e.o)
		out[k] = f
	}
	return out
}

func startSM(t testing.TB, o smOptions) *smPlatform {
	t.Helper()
	ctx := context.Background()
	if o.timeouts == nil {
		o.timeouts = embedded.DefaultTimeouts
	}
	if o.registration == 0 {
		o.registration = 5 * time.Second
	}
	p := &smPlatform{Broker: membus.New(), Records: slm.NewMemRecords()}
	t.Cleanup(func() { p.Broker.Close() })
	if o.tap {
		p.tap = newVhostTap(p.Broker)
	}
	ia, err := emulator.New(inventory())
	if err != nil {
		t.Fatal(err)
	}
	p.IA = ia
	if err := ia.Start(ctx, p.Broker.Default()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ia.Close() })
	images := exampleImages(p.Broker, o.options)
	for k, f := range o.images {
		images[k] = f
	}
	p.Runtime = smruntime.NewInProcess(images, nil)
	var vhosts interface {
		Create(context.Context, string) error
		Delete(context.Context, string) error
	} = smruntime.MembusVhosts{Broker: p.Broker}
	if p.tap != nil {
		vhosts = p.tap
	}
	p.Stack = smruntime.NewStack(smruntime.StackConfig{
		Default: p.Broker.Default(), Connector: p.Broker, Vhosts: vhosts, Runtime: p.Runtime,
		BrokerURL: smruntime.MembusURL, RegistrationTimeout: o.registration, Timeouts: o.timeouts,
	})
	cfg := mano.Config{Placer: embedded.DefaultPlacer(), Records: p.Records, Timeouts: o.timeouts}
	p.Stack.Configure(&cfg)
	p.MANO, err = mano.Start(ctx, p.Broker.Default(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	p.GK = gk.New(p.Broker.Default(), bus.AppGatekeeper)
	t.Cleanup(func() {
		p.GK.Close()
		p.MANO.Close()
		p.Stack.Close()
		if r := p.Runtime.Running(); len(r) > 0 {
			t.Errorf("managers still running after the platform closed: %v", r)
		}
	})
	return p
}

// waitIdle waits until no workflow runs and every operation is recorded
// as ended (the SLM frees a service when it sends the final status, and
// records the end of the operation just after).
func (p *smPlatform) waitIdle(t testing.TB) {
	t.Helper()
	idle := func() bool {
		if len(p.MANO.SLM.Active()) > 0 {
			return false
		}
		for _, op := range p.Records.Operations() {
			if op.Status == slm.OpRunning {
				return false
			}
		}
		return true
	}
	deadline := time.Now().Add(10 * time.Second)
	for !idle() {
		if time.Now().After(deadline) {
			t.Fatalf("workflows still running: %v", p.MANO.SLM.Active())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// assertNoManagers checks that nothing of the specific managers is left:
// no manager runs, the SMR holds no vhost and the broker has none but the
// default, and neither the SLM nor the FLM keeps a connection.
func (p *smPlatform) assertNoManagers(t testing.TB) {
	t.Helper()
	problems := func() []string {
		var out []string
		if r := p.Runtime.Running(); len(r) > 0 {
			out = append(out, fmt.Sprintf("managers still running: %v", r))
		}
		if r := p.Stack.SMR.Running(); len(r) > 0 {
			out = append(out, fmt.Sprintf("SMR still runs %v", r))
		}
		if v := p.Stack.SMR.Vhosts(); len(v) > 0 {
			out = append(out, fmt.Sprintf("SMR still holds vhosts %v", v))
		}
		if v := p.Broker.Vhosts(); len(v) != 1 {
			out = append(out, fmt.Sprintf("broker vhosts %v, want only the default", v))
		}
		if c := p.Stack.Managers.Connected(); len(c) > 0 {
			out = append(out, fmt.Sprintf("SLM still connected to the SSMs of %v", c))
		}
		if c := p.Stack.FSMs.Connected(); len(c) > 0 {
			// The FLM forgets FSM connections when it sees the terminate
			// request go by: asynchronously.
			out = append(out, fmt.Sprintf("FLM still connected to the FSMs of %v", c))
		}
		return out
	}
	// Managers stop asynchronously once their context is cancelled.
	deadline := time.Now().Add(5 * time.Second)
	for len(problems()) > 0 && time.Now().Before(deadline) {
		time.Sleep(2 * time.Millisecond)
	}
	for _, pr := range problems() {
		t.Error(pr)
	}
}

func demoSM(t testing.TB) wire.CreateRequest {
	t.Helper()
	dir := "testdata/sonata-demo-sm"
	req, err := embedded.LoadCreateRequest(filepath.Join(dir, "sonata-demo.yml"),
		filepath.Join(dir, "firewall-vnfd.yml"), filepath.Join(dir, "iperf-vnfd.yml"), filepath.Join(dir, "tcpdump-vnfd.yml"))
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// TestSpecificManagersLifecycle instantiates and terminates the demo
// service with a task, a configure and a placement SSM and an iperf VNF
// with start, stop and configure FSMs, all of them the example managers.
func TestSpecificManagersLifecycle(t *testing.T) {
	p := startSM(t, smOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := p.GK.Create(ctx, demoSM(t), nil)
	if err != nil || !res.OK() {
		t.Fatalf("create: %v %+v", err, res)
	}
	servID := res.Final.NSR["id"].(string)
	p.waitIdle(t)

	// The placement SSM's colocate policy put the whole service on one VIM.
	vims := map[string]bool{}
	for _, f := range p.IA.Functions(servID) {
		vims[f.VIMUUID] = true
	}
	if len(vims) != 1 {
		t.Errorf("functions on %d VIMs, want 1 (colocate)", len(vims))
	}
	// Six managers run: 3 SSMs, 3 FSMs; each registered and said so.
	if got := len(p.Runtime.Running()); got != 6 {
		t.Errorf("%d managers running, want 6: %v", got, p.Runtime.Running())
	}
	for _, id := range []string{"sonssmdemotask1", "sonssmdemoconfigure1", "sonssmdemoplacement1"} {
		// The status notice follows the registration reply, and the
		// workflow may end before the registry has read it.
		rec, ok := p.Stack.SMR.Record(id, servID)
		for deadline := time.Now().Add(5 * time.Second); ok && rec.LastStatus == "" && time.Now().Before(deadline); {
			time.Sleep(5 * time.Millisecond)
			rec, ok = p.Stack.SMR.Record(id, servID)
		}
		if !ok || rec.Status != "running" || rec.LastStatus != "running" {
			t.Errorf("registry record of %s: %+v (found %v)", id, rec, ok)
		}
	}
	// The task SSM's schedule ran: configure_ssm and vnfs_config after
	// vnf_chain, before vnfs_start.
	var steps []string
	for _, op := range p.Records.Operations() {
		if op.Kind == slm.KindInstantiate {
			for _, s := range op.Steps {
				steps = append(steps, s.Name)
			}
		}
	}
	want := []string{"validate_deploy_request", "contact_gk", "onboard_ssms", "instant_ssms", "trigger_task_ssm",
		"request_topology", "req_placement_from_ssm", "ia_prepare", "vnf_deploy", "vnf_chain", "configure_ssm",
		"vnfs_config", "vnfs_start", "store_nsr", "wan_configure", "start_monitoring", "inform_gk_instantiation"}
	if !slices.Equal(steps, want) {
		t.Errorf("steps\n %v\nwant\n %v", steps, want)
	}

	res, err = p.GK.Terminate(ctx, servID, nil)
	if err != nil || !res.OK() {
		t.Fatalf("terminate: %v %+v", err, res)
	}
	p.waitIdle(t)
	p.assertNoManagers(t)
	for _, rec := range p.Stack.SMR.Records() {
		if rec.Status != "terminated" {
			t.Errorf("record %s is %s after termination", rec.Key, rec.Status)
		}
	}
}

// TestSpecificManagersGoldenTrace checks the bus traffic of instantiating
// and terminating the demo service with SSMs and FSMs, on every vhost,
// against testdata/golden/sm-instantiate.trace and sm-terminate.trace.
//
// The sequence follows wire-protocol §4.4 and §4.5 with manoctl's
// changes: on-board and instantiate the SSMs (each registers on
// ssm-<sid> and posts a status, §7.3, M4); the task SSM rewrites the
// schedule (§4.4 step 4); topology; the placement SSM answers on
// placement.ssm.<sid> (§14.5 L5); prepare; per VNF mano.function.deploy,
// and for iperf the FLM's FSM on-board and instantiate with three
// registrations on fsm-<fid> before the IA deploy (§6.2); then the task
// SSM's order: chain, configure_ssm (§4.8), mano.function.configure
// (only iperf: the configure SSM switched it off for the others) relayed
// to the configure FSM (§6.4), start (iperf through its FSM), WAN, READY.
// Termination: stop (iperf through its FSM), service.remove, the SSMs'
// and then iperf's FSMs' terminate with the termination option (§4.5
// steps 7-8, S6), READY.
//
// The trace is canonical: messages of all vhosts are merged in publish
// order; per-function steps running in parallel are ordered by function;
// parallel registrations by manager; a manager's status notice, which
// races the registry's answer to the MANO, comes right after its
// registration. Ids become <sid> and <fid:name>.
func TestSpecificManagersGoldenTrace(t *testing.T) {
	p := startSM(t, smOptions{tap: true})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := p.GK.Create(ctx, demoSM(t), nil)
	if err != nil || !res.OK() {
		t.Fatalf("create: %v %+v", err, res)
	}
	servID := res.Final.NSR["id"].(string)
	p.waitIdle(t)
	p.tap.waitFor(t, bus.TopicInterSLM)
	// Managers post their status after their registration is answered,
	// which races the rest of the workflow: wait for all six.
	waitFor(t, "six status notices", func() bool {
		n := 0
		for _, r := range p.Stack.SMR.Records() {
			if r.LastStatus != "" {
				n++
			}
		}
		return n == 6
	})
	names := p.functionNames(t, servID)
	bustest.CheckGolden(t, filepath.Join("testdata", "golden", "sm-instantiate.trace"), smCanonical(t, p.tap.take(), servID, names))

	res, err = p.GK.Terminate(ctx, servID, nil)
	if err != nil || !res.OK() {
		t.Fatalf("terminate: %v %+v", err, res)
	}
	p.waitIdle(t)
	p.tap.waitFor(t, bus.TopicInterSLM)
	bustest.CheckGolden(t, filepath.Join("testdata", "golden", "sm-terminate.trace"), smCanonical(t, p.tap.take(), servID, names))
	p.assertNoManagers(t)
}

// vhostTap creates vhosts for the SMR and records every message on every
// vhost, like queues bound to "#" on each. Before a vhost is deleted, and
// before the recorded messages are taken, a barrier message goes through
// each tapped vhost: membus queues are FIFO, so once the tap has seen the
// barrier it has seen everything published before it (deleting a vhost
// drops what its queues still hold).
type vhostTap struct {
	broker *membus.Broker
	mu     sync.Mutex
	msgs   []*bus.Message
	conns  map[string]bus.Bus
	seen   map[string]chan struct{} // barrier id -> closed when seen
}

const tapBarrier = "manoctl.test.tap.barrier"

func newVhostTap(b *membus.Broker) *vhostTap {
	t := &vhostTap{broker: b, conns: map[string]bus.Bus{}, seen: map[string]chan struct{}{}}
	t.conns[bus.DefaultVhost] = b.Default()
	b.Default().Subscribe(context.Background(), "#", t.handle)
	return t
}

func (t *vhostTap) handle(_ context.Context, m *bus.Message) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if m.Topic == tapBarrier {
		if ch := t.seen[m.CorrelationID]; ch != nil {
			close(ch)
			delete(t.seen, m.CorrelationID)
		}
		return
	}
	t.msgs = append(t.msgs, m)
}

func (t *vhostTap) Create(ctx context.Context, name string) error {
	if err := t.broker.AddVhost(name); err != nil {
		return err
	}
	c, err := t.broker.Connect(ctx, name)
	if err != nil {
		return err
	}
	if _, err = c.Subscribe(ctx, "#", t.handle); err != nil {
		return err
	}
	t.mu.Lock()
	t.conns[name] = c
	t.mu.Unlock()
	return nil
}

func (t *vhostTap) Delete(_ context.Context, name string) error {
	t.barrier(name)
	t.mu.Lock()
	delete(t.conns, name)
	t.mu.Unlock()
	return t.broker.DeleteVhost(name)
}

// barrier waits until the tap of vhost has seen everything published on it
// so far.
func (t *vhostTap) barrier(vhost string) {
	t.mu.Lock()
	c := t.conns[vhost]
	id := fmt.Sprintf("barrier-%d", len(t.seen)+len(t.msgs))
	for t.seen[id] != nil {
		id += "+"
	}
	ch := make(chan struct{})
	t.seen[id] = ch
	t.mu.Unlock()
	if c == nil || c.Publish(context.Background(), &bus.Message{Topic: tapBarrier, AppID: "tap", CorrelationID: id}) != nil {
		return
	}
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
	}
}

// waitFor waits until the tap has recorded a message on topic.
func (t *vhostTap) waitFor(tb testing.TB, topic string) {
	tb.Helper()
	waitFor(tb, "a message on "+topic, func() bool {
		t.mu.Lock()
		defer t.mu.Unlock()
		for _, m := range t.msgs {
			if m.Topic == topic {
				return true
			}
		}
		return false
	})
}

// take returns the messages recorded so far, in publish order.
func (t *vhostTap) take() []*bus.Message {
	t.mu.Lock()
	vhosts := make([]string, 0, len(t.conns))
	for v := range t.conns {
		vhosts = append(vhosts, v)
	}
	t.mu.Unlock()
	for _, v := range vhosts {
		t.barrier(v)
	}
	t.mu.Lock()
	out := t.msgs
	t.msgs = nil
	t.mu.Unlock()
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out
}

// functionNames maps the service's function instance ids to VNFD names.
func (p *smPlatform) functionNames(t testing.TB, servID string) map[string]string {
	t.Helper()
	st, err := p.Records.LoadService(context.Background(), servID)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, f := range st.Functions {
		out[f.ID] = descriptor.Str(f.VNFD, "name")
	}
	return out
}

// smCanonical renders a multi-vhost trace (see TestSpecificManagersGoldenTrace).
func smCanonical(t *testing.T, msgs []*bus.Message, servID string, funcName map[string]string) []string {
	t.Helper()
	type entry struct {
		m       *bus.Message
		body    any
		step    string // per-function step the message belongs to
		subject string // function name of per-function steps
		manager string // manager id of registrations and status notices
	}
	type tag struct{ step, subject string }
	byCorr := map[string]tag{}
	var es []entry
	for _, m := range msgs {
		if strings.HasPrefix(m.Topic, "platform.management.plugin.") {
			continue
		}
		var body any
		if err := m.Decode(&body); err != nil {
			t.Fatalf("undecodable %s: %v", m.Topic, err)
		}
		bm := descriptor.AsMap(body)
		e := entry{m: m, body: body}
		onFSMVhost := strings.HasPrefix(m.Vhost, "fsm-")
		switch {
		case strings.HasPrefix(m.Topic, "mano.function."):
			e.step = strings.TrimPrefix(m.Topic, "mano.function.")
			e.subject = descriptor.Str(descriptor.Map(bm, "vnfd"), "name")
		case m.Topic == bus.TopicIAFunctionDeploy:
			e.step, e.subject = "deploy", descriptor.Str(descriptor.Map(bm, "vnfd"), "name")
		case strings.HasPrefix(m.Topic, "specific.manager.registry.fsm.on-board"),
			strings.HasPrefix(m.Topic, "specific.manager.registry.fsm.instantiate"):
			e.step, e.subject = "deploy", descriptor.Str(descriptor.Map(bm, "VNFD"), "name")
		case onFSMVhost && (m.Topic == bus.TopicSMRegistration || m.Topic == bus.TopicSMStatus):
			e.step, e.subject = "deploy", funcName[strings.TrimPrefix(m.Vhost, "fsm-")]
		case onFSMVhost:
			e.step, e.subject = descriptor.Str(bm, "fsm_type"), funcName[strings.TrimPrefix(m.Vhost, "fsm-")]
		}
		if m.ReplyTo != "" && e.step != "" {
			byCorr[m.CorrelationID] = tag{e.step, e.subject}
		} else if m.ReplyTo == "" && m.CorrelationID != "" {
			if tg, ok := byCorr[m.CorrelationID]; ok {
				e.step, e.subject = tg.step, tg.subject
			}
		}
		switch m.Topic {
		case bus.TopicSMRegistration:
			e.manager = descriptor.Str(bm, "specific_manager_id")
		case bus.TopicSMStatus:
			e.manager = descriptor.Str(bm, "name")
		}
		es = append(es, e)
	}
	// Status notices go right after their manager's registration reply.
	var statuses []entry
	var rest []entry
	for _, e := range es {
		if e.m.Topic == bus.TopicSMStatus {
			statuses = append(statuses, e)
		} else {
			rest = append(rest, e)
		}
	}
	es = rest
	// A step's messages for several functions, ordered by function (stable:
	// the causal order within one function stays).
	for i := 0; i < len(es); {
		j := i
		for j < len(es) && es[i].step != "" && es[j].step == es[i].step {
			j++
		}
		if j > i {
			run := es[i:j]
			sort.SliceStable(run, func(a, b int) bool { return run[a].subject < run[b].subject })
			i = j
			continue
		}
		i++
	}
	// Parallel registrations, ordered by manager.
	for i := 0; i < len(es); {
		j := i
		for j < len(es) && es[j].manager != "" && es[j].m.Vhost == es[i].m.Vhost {
			j++
		}
		if j > i {
			run := es[i:j]
			sort.SliceStable(run, func(a, b int) bool { return run[a].manager < run[b].manager })
			i = j
			continue
		}
		i++
	}
	for _, s := range statuses {
		at := len(es)
		for k, e := range es {
			if e.m.Topic == bus.TopicSMRegistration && e.m.ReplyTo == "" && e.manager == s.manager && e.m.Vhost == s.m.Vhost {
				at = k + 1
			}
		}
		es = slices.Insert(es, at, s)
	}
	ids := func(s string) string {
		s = strings.ReplaceAll(s, servID, "<sid>")
		for id, name := range funcName {
			s = strings.ReplaceAll(s, id, "<fid:"+name+">")
		}
		return s
	}
	labels := map[string]string{}
	var lines []string
	for _, e := range es {
		m := e.m
		corr := "-"
		if m.CorrelationID != "" {
			if _, ok := labels[m.CorrelationID]; !ok {
				labels[m.CorrelationID] = fmt.Sprintf("c%d", len(labels)+1)
			}
			corr = labels[m.CorrelationID]
		}
		rt := "no"
		if m.ReplyTo != "" {
			rt = "yes"
		}
		lines = append(lines, fmt.Sprintf("%s | %s | %s | %s | %s | %s", ids(m.Vhost), ids(m.Topic), m.AppID, rt, corr, smShape(e.body)))
	}
	return lines
}

// smShape is shape with the values of the fields that tell SM calls and
// replies apart.
func smShape(v any) string {
	m, ok := v.(map[string]any)
	if !ok {
		return bustest.Shape(v)
	}
	keys := make([]string, 0, len(m))
	for k, x := range m {
		switch k {
		case "status", "request_status", "ssm_type", "fsm_type", "error":
			if k == "error" && x == nil {
				keys = append(keys, k)
				continue
			}
			if s := descriptor.ToString(x); s != "" || k != "error" {
				keys = append(keys, k+"="+s)
				continue
			}
			keys = append(keys, k)
		default:
			// Keyed registry replies: the manager ids and their status.
			if e := descriptor.AsMap(x); e != nil && strings.HasPrefix(k, "son") {
				keys = append(keys, k+"="+descriptor.Str(e, "status"))
				continue
			}
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return "{" + strings.Join(keys, ",") + "}"
}

// fastSM is startSM with timeouts short enough that a silent manager fails
// a test in well under a second.
func fastSM(t testing.TB, o smOptions) *smPlatform {
	o.timeouts = func(topic string) time.Duration {
		switch {
		case strings.HasPrefix(topic, "generic."), strings.HasPrefix(topic, "placement."):
			return 500 * time.Millisecond
		}
		return embedded.DefaultTimeouts(topic)
	}
	if o.registration == 0 {
		o.registration = 300 * time.Millisecond
	}
	return startSM(t, o)
}

// TestManagerFailures: a manager that never registers, one that crashes
// (before registering, or when called), and one that answers with an
// error each make the workflow fail with one ERROR naming the step; the
// work is rolled back and no manager is left running.
func TestManagerFailures(t *testing.T) {
	silent := func(ctx context.Context, _ func(string) string) error { <-ctx.Done(); return nil }
	crash := func(context.Context, func(string) string) error { return errors.New("segmentation fault") }
	cases := []struct {
		name    string
		images  map[string]smruntime.ManagerFunc
		options map[string]func(*managers.Options)
		step    string
		text    string
		fast    bool // must fail before the registration timeout
	}{
		{name: "ssm-never-registers", images: map[string]smruntime.ManagerFunc{"manoctl/sonssmdemoplacement1": silent},
			step: slm.TaskInstantSSMs, text: "Registration failed"},
		{name: "ssm-crashes-before-registering", images: map[string]smruntime.ManagerFunc{"manoctl/sonssmdemotask1": crash},
			step: slm.TaskInstantSSMs, text: "segmentation fault", fast: true},
		{name: "task-ssm-crashes-when-called", options: map[string]func(*managers.Options){
			"manoctl/sonssmdemotask1": func(o *managers.Options) { o.CrashOn = sm.TypeTask }},
			step: slm.TaskTriggerTaskSSM, text: "ssm sonssmdemotask1 exited: crashed (-crash-on)"},
		{name: "task-ssm-answers-error", options: map[string]func(*managers.Options){
			"manoctl/sonssmdemotask1": func(o *managers.Options) { o.FailOn = sm.TypeTask }},
			step: slm.TaskTriggerTaskSSM, text: "refuses task calls"},
		{name: "placement-ssm-answers-error", options: map[string]func(*managers.Options){
			"manoctl/sonssmdemoplacement1": func(o *managers.Options) { o.FailOn = sm.TypePlacement }},
			step: slm.TaskPlacementSSM, text: "refuses placement calls"},
		{name: "configure-ssm-crashes-when-called", options: map[string]func(*managers.Options){
			"manoctl/sonssmdemoconfigure1": func(o *managers.Options) { o.CrashOn = sm.TypeConfigure }},
			step: slm.TaskConfigureSSM, text: "ssm sonssmdemoconfigure1 exited: crashed (-crash-on)"},
		{name: "fsm-never-registers", images: map[string]smruntime.ManagerFunc{"manoctl/sonfsmdemoiperfstop1": silent},
			step: slm.TaskDeploy, text: "Registration failed"},
		{name: "configure-fsm-answers-error", options: map[string]func(*managers.Options){
			"manoctl/sonfsmdemoiperfconfigure1": func(o *managers.Options) { o.FailOn = sm.TypeConfigure }},
			step: slm.TaskConfig, text: "refuses configure calls"},
		{name: "start-fsm-crashes-when-called", options: map[string]func(*managers.Options){
			"manoctl/sonfsmdemoiperfstart1": func(o *managers.Options) { o.CrashOn = sm.TypeStart }},
			step: slm.TaskStart, text: "fsm sonfsmdemoiperfstart1 exited: crashed (-crash-on)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := fastSM(t, smOptions{images: c.images, options: c.options})
			before := p.IA.VIMs()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			var seen []string
			start := time.Now()
			res, err := p.GK.Create(ctx, demoSM(t), func(s wire.StatusMessage) { seen = append(seen, s.Status) })
			if err != nil {
				t.Fatal(err)
			}
			if res.OK() {
				t.Fatal("instantiation succeeded")
			}
			if c.fast && time.Since(start) > 250*time.Millisecond {
				t.Errorf("took %v: a crashed manager must fail at once, not after the registration timeout", time.Since(start))
			}
			msg := wire.ErrorText(res.Final.Error)
			if !strings.HasPrefix(msg, c.step+": ") || !strings.Contains(msg, c.text) {
				t.Errorf("ERROR %q, want step %s and %q", msg, c.step, c.text)
			}
			if !slices.Equal(seen, []string{bus.StatusInstantiating}) {
				t.Errorf("statuses before the end %v", seen)
			}
			p.waitIdle(t)
			p.assertNoManagers(t)
			if fs := p.IA.Snapshot().Functions; len(fs) != 0 {
				t.Errorf("%d functions left deployed", len(fs))
			}
			assertCapacity(t, before, p.IA.VIMs())
			ops := p.Records.Operations()
			if len(ops) != 1 || ops[0].FailedStep != c.step || ops[0].Status != slm.OpRolledBack {
				t.Errorf("operation %+v", ops[0])
			}
		})
	}
}

// TestMonitorSSMFeedback: a monitor SSM gets the running service, asks for
// a custom workflow (vnfs_config with its own payload for iperf), then
// for the termination; both run without status messages to the
// gatekeeper.
func TestMonitorSSMFeedback(t *testing.T) {
	type call struct {
		typ  string
		body map[string]any
	}
	calls := make(chan call, 16)
	var p *smPlatform
	monitor := func(ctx context.Context, getenv func(string) string) error {
		m, err := sdk.New(sdk.Config{Kind: sm.KindSSM, ServiceName: "demo", ManagerName: "monitor"}.FromEnv(getenv),
			smruntime.MembusDialer{Broker: p.Broker})
		if err != nil {
			return err
		}
		var iperf string
		m.Handle(sm.TypeMonitor, func(ctx context.Context, req *sdk.Request) (any, error) {
			calls <- call{req.Type, req.Body}
			if req.Body["nsr"] == nil {
				return nil, nil // a monitoring alarm
			}
			var st sm.MonitorStart
			if err := req.Decode(&st); err != nil {
				return nil, err
			}
			for _, v := range st.VNFs {
				if descriptor.Str(v.VNFD, "name") == "iperf-vnf" {
					iperf = v.ID
				}
			}
			go func() {
				m.Feedback(ctx, sm.Feedback{
					VNF:      []sm.FunctionUpdate{{"id": iperf, "configure": map[string]any{"trigger": true, "payload": map[string]any{"threshold": 85}}}},
					Schedule: []string{slm.TaskConfig},
				})
			}()
			return nil, nil
		})
		return m.Run(ctx)
	}
	p = startSM(t, smOptions{images: map[string]smruntime.ManagerFunc{"manoctl/sonssmdemomonitor1": monitor}, tap: true})
	req := demoSM(t)
	// Only a monitor SSM; the VNFs keep their FSMs.
	nsd := descriptor.Copy(req.NSD)
	nsd[sm.SSMKey] = []any{map[string]any{"id": "sonssmdemomonitor1", "image": "manoctl/sonssmdemomonitor1",
		"options": []any{map[string]any{"key": "type", "value": "monitor"}}}}
	req.NSD = nsd
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := p.GK.Create(ctx, req, nil)
	if err != nil || !res.OK() {
		t.Fatalf("create: %v %+v", err, res)
	}
	servID := res.Final.NSR["id"].(string)
	select {
	case c := <-calls:
		if c.body["nsr"] == nil || len(c.body["vnfs"].([]any)) != 3 {
			t.Errorf("monitor start %v", c.body)
		}
	case <-ctx.Done():
		t.Fatal("monitor SSM never called")
	}
	// The custom workflow sends the configure event with the SSM's payload
	// to iperf's configure FSM.
	waitFor(t, "the custom workflow", func() bool {
		for _, op := range p.Records.Operations() {
			if op.Kind == slm.KindCustom && op.Status == slm.OpSucceeded {
				return true
			}
		}
		return false
	})
	found := false
	for _, m := range p.tap.take() {
		if strings.HasPrefix(m.Vhost, "fsm-") && strings.HasPrefix(m.Topic, "generic.fsm.") {
			var body map[string]any
			if m.Decode(&body) == nil && body["fsm_type"] == "configure" {
				c := descriptor.AsMap(body["content"])
				found = found || descriptor.Int(c, "threshold") == 85
			}
		}
		if m.Topic == bus.TopicServiceCreate && m.AppID == bus.AppSLM && m.CorrelationID != res.CorrelationID {
			t.Errorf("status message outside the gatekeeper's request: %+v", m)
		}
	}
	if !found {
		t.Error("no configure call with the monitor SSM's payload reached the FSM")
	}

	// The monitoring manager's alarms reach the monitor SSM (§4.8).
	mon := bus.NewEndpoint(p.Broker.Default(), "son-monitoring")
	mon.Notify(ctx, bus.TopicMonitoring, map[string]any{"serviceID": servID, "alertname": "mon_rule_vm_cpu_usage_85_perc"}, "")
	select {
	case c := <-calls:
		if c.body["alertname"] != "mon_rule_vm_cpu_usage_85_perc" || c.body["ssm_type"] != "monitor" {
			t.Errorf("alarm relayed as %v", c.body)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("alarm not relayed to the monitor SSM")
	}

	// Feedback asking for termination.
	conn, err := p.Broker.Connect(ctx, bus.SSMVhost(servID))
	if err != nil {
		t.Fatal(err)
	}
	ep := bus.NewEndpoint(conn, "sonssmdemomonitor1")
	if err := ep.Notify(ctx, bus.MonitorSSMTopic(servID), sm.Feedback{ServiceInstanceID: servID, Workflow: "termination"}, ""); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the termination", func() bool {
		st, err := p.Records.LoadService(ctx, servID)
		return err == nil && st.Status == slm.StatusTerminated && len(p.MANO.SLM.Active()) == 0
	})
	for _, m := range p.tap.take() {
		if m.Topic == bus.TopicServiceTerminate {
			t.Errorf("termination by a monitor SSM told the gatekeeper: %s %v", m.Topic, m.Payload)
		}
	}
	p.assertNoManagers(t)
	if fs := p.IA.Snapshot().Functions; len(fs) != 0 {
		t.Errorf("%d functions left", len(fs))
	}
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestPlacementExecutive: an external caller asks PLEX on
// placement.executive.request; PLEX forwards to the service's placement
// SSM on its vhost and relays the mapping.
func TestPlacementExecutive(t *testing.T) {
	p := startSM(t, smOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := p.GK.Create(ctx, demoSM(t), nil)
	if err != nil || !res.OK() {
		t.Fatalf("create: %v %+v", err, res)
	}
	servID := res.Final.NSR["id"].(string)
	req := demoSM(t)
	body := sm.PlacementRequest{NSD: req.NSD, UUID: servID, Topology: []wire.VIMResources{
		{VIMUUID: "small", CoreTotal: 2, MemoryTotal: 4096}, {VIMUUID: "big", CoreTotal: 64, MemoryTotal: 65536},
	}}
	for i, v := range req.VNFDs {
		d := descriptor.Copy(v)
		d["instance_uuid"] = fmt.Sprintf("f%d", i)
		body.VNFDs = append(body.VNFDs, d)
	}
	caller := bus.NewEndpoint(p.Broker.Default(), "an-external-caller")
	defer caller.Close()
	m, err := caller.Request(ctx, bus.TopicPlacementExecutive, body)
	if err != nil {
		t.Fatal(err)
	}
	var reply wire.PlaceReply
	if err := m.Decode(&reply); err != nil || m.AppID != bus.AppPLEX {
		t.Fatalf("reply %v from %s: %v", m.Payload, m.AppID, err)
	}
	if reply.Status != bus.StatusCompleted || len(reply.Mapping) != 3 || reply.Mapping["f0"].VIM != "big" {
		t.Errorf("mapping %+v", reply)
	}
	// No SSM vhost for an unknown service: an error reply, not silence.
	body.UUID = "no-such-service"
	m, err = caller.Request(ctx, bus.TopicPlacementExecutive, body)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Decode(&reply); err != nil || reply.Error == nil || reply.Mapping != nil {
		t.Errorf("reply for an unknown service %+v", reply)
	}
	if r, err := p.GK.Terminate(ctx, servID, nil); err != nil || !r.OK() {
		t.Fatalf("terminate: %v %+v", err, r)
	}
}

// TestFSMConnectionOnDemand: an FLM that did not deploy a function (another
// instance, or one that restarted) reaches its FSMs all the same (§14.4
// F5).
func TestFSMConnectionOnDemand(t *testing.T) {
	p := startSM(t, smOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := p.GK.Create(ctx, demoSM(t), nil)
	if err != nil || !res.OK() {
		t.Fatalf("create: %v %+v", err, res)
	}
	servID := res.Final.NSR["id"].(string)
	st, _ := p.Records.LoadService(ctx, servID)
	var iperf slm.FunctionState
	for _, f := range st.Functions {
		if f.VNFID == "vnf_iperf" {
			iperf = f
		}
	}
	fresh := sm.NewFSMs(p.Broker.Default(), sm.FSMsConfig{Connector: p.Broker, Timeouts: embedded.DefaultTimeouts})
	defer fresh.Close()
	if err := fresh.Event(ctx, iperf.ID, iperf.VNFD, sm.TypeConfigure, map[string]any{"x": 1}); err != nil {
		t.Fatalf("configure through a fresh FLM: %v", err)
	}
	if c := fresh.Connected(); len(c) != 1 || c[0] != iperf.ID {
		t.Errorf("connected to %v", c)
	}
	if r, err := p.GK.Terminate(ctx, servID, nil); err != nil || !r.OK() {
		t.Fatalf("terminate: %v %+v", err, r)
	}
	// The fresh FLM saw the FSMs' termination go by and let go too.
	waitFor(t, "the fresh FLM to let go", func() bool { return len(fresh.Connected()) == 0 })
}

// TestTaskFSM: a task FSM sees the FLM's deploy schedule (§14.4 F2); one
// that keeps it lets the deploy go on, one that changes it fails it, and
// the function's FSMs are terminated again.
func TestTaskFSM(t *testing.T) {
	for _, c := range []struct {
		name    string
		reorder bool
	}{{"keeps", false}, {"reorders", true}} {
		t.Run(c.name, func(t *testing.T) {
			var p *smPlatform
			task := func(ctx context.Context, getenv func(string) string) error {
				m, err := sdk.New(sdk.Config{Kind: sm.KindFSM, ServiceName: "demo", FunctionName: "iperf", ManagerName: "task"}.FromEnv(getenv),
					smruntime.MembusDialer{Broker: p.Broker})
				if err != nil {
					return err
				}
				m.Handle(sm.TypeTask, func(ctx context.Context, req *sdk.Request) (any, error) {
					var r sm.FSMRequest
					if err := req.Decode(&r); err != nil {
						return nil, err
					}
					if r.Topic != bus.TopicFunctionDeploy {
						return nil, fmt.Errorf("topic %q", r.Topic)
					}
					s := slices.Clone(r.Schedule) // payloads are read-only
					if c.reorder {
						slices.Reverse(s)
					}
					return sdk.Schedule(s), nil
				})
				return m.Run(ctx)
			}
			p = startSM(t, smOptions{images: map[string]smruntime.ManagerFunc{"manoctl/sonfsmdemoiperftask1": task}})
			req := demoSM(t)
			for i, v := range req.VNFDs {
				if descriptor.Str(v, "name") != "iperf-vnf" {
					continue
				}
				d := descriptor.Copy(v)
				d[sm.FSMKey] = append(slices.Clone(descriptor.List(v, sm.FSMKey)), map[string]any{
					"id": "sonfsmdemoiperftask1", "image": "manoctl/sonfsmdemoiperftask1",
					"options": []any{map[string]any{"key": "type", "value": "task"}}})
				req.VNFDs[i] = d
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			res, err := p.GK.Create(ctx, req, nil)
			if err != nil {
				t.Fatal(err)
			}
			if c.reorder {
				if res.OK() || !strings.Contains(wire.ErrorText(res.Final.Error), "task FSM returned schedule") {
					t.Fatalf("create: %+v", res.Final)
				}
				p.waitIdle(t)
				p.assertNoManagers(t)
				return
			}
			if !res.OK() {
				t.Fatalf("create: %+v", res.Final)
			}
			if r, err := p.GK.Terminate(ctx, res.Final.NSR["id"].(string), nil); err != nil || !r.OK() {
				t.Fatalf("terminate: %v %+v", err, r)
			}
			p.waitIdle(t)
			p.assertNoManagers(t)
		})
	}
}

// TestScaleWithFSMs: a scaled-out function gets FSMs of its own, and
// removing it again (scale-in) terminates them.
func TestScaleWithFSMs(t *testing.T) {
	p := startSM(t, smOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := p.GK.Create(ctx, demoSM(t), nil)
	if err != nil || !res.OK() {
		t.Fatalf("create: %v %+v", err, res)
	}
	servID := res.Final.NSR["id"].(string)
	p.waitIdle(t)
	if n := len(p.Runtime.Running()); n != 6 {
		t.Fatalf("%d managers", n)
	}
	r, err := p.GK.Scale(ctx, wire.ScaleRequest{ServiceInstanceUUID: servID, ScalingType: "addvnf", VNFID: "vnf_iperf"}, nil)
	if err != nil || !r.OK() {
		t.Fatalf("scale out: %v %+v", err, r)
	}
	p.waitIdle(t)
	if n := len(p.Runtime.Running()); n != 9 {
		t.Errorf("%d managers after scaling iperf out, want 9: %v", n, p.Runtime.Running())
	}
	r, err = p.GK.Scale(ctx, wire.ScaleRequest{ServiceInstanceUUID: servID, ScalingType: "removevnf", VNFID: "vnf_iperf"}, nil)
	if err != nil || !r.OK() {
		t.Fatalf("scale in: %v %+v", err, r)
	}
	p.waitIdle(t)
	waitFor(t, "the removed function's FSMs to stop", func() bool { return len(p.Runtime.Running()) == 6 })
	if r, err := p.GK.Terminate(ctx, servID, nil); err != nil || !r.OK() {
		t.Fatalf("terminate: %v %+v", err, r)
	}
	p.waitIdle(t)
	p.assertNoManagers(t)
}

// BenchmarkLifecycleWithManagers instantiates and terminates the demo
// service with its three SSMs and three FSMs (in-process managers) per
// iteration; compare BenchmarkInstantiateTerminate without managers.
func BenchmarkLifecycleWithManagers(b *testing.B) {
	p := startSM(b, smOptions{})
	ctx := context.Background()
	req := demoSM(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := p.GK.Create(ctx, req, nil)
		if err != nil || !res.OK() {
			b.Fatalf("create: %v %+v", err, res)
		}
		r, err := p.GK.Terminate(ctx, res.Final.NSR["id"].(string), nil)
		if err != nil || !r.OK() {
			b.Fatalf("terminate: %v %+v", err, r)
		}
	}
}
