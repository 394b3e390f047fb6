package smr_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/manoctl/manoctl/adapters/membus"
	"github.com/manoctl/manoctl/adapters/smruntime"
	"github.com/manoctl/manoctl/reconcile/bus"
	"github.com/manoctl/manoctl/reconcile/sm"
	"github.com/manoctl/manoctl/reconcile/sm/sdk"
	"github.com/manoctl/manoctl/reconcile/smr"
	"github.com/manoctl/manoctl/schema/descriptor"
)

// Instance uuids of the original SMR tests (wire-protocol §11.1).
const (
	nsdUUID   = "937213ae-890b-413c-a11e-45c62c4eee3f"
	vnfd1UUID = "c32b731f-7eea-4afd-9c60-0b0d0ea37eed"
	vnfd2UUID = "754fe4fe-96c9-484d-9683-1a1e8b9a31a3"
)

type harness struct {
	broker  *membus.Broker
	smr     *smr.SMR
	runtime *smruntime.InProcess
	slm     *bus.Endpoint // a fake SLM/FLM on the default vhost
}

// dumb is an SDK manager that registers and does nothing else, like the
// son-sm dumb examples.
func dumb(b *membus.Broker, cfg sdk.Config) smruntime.ManagerFunc {
	return func(ctx context.Context, getenv func(string) string) error {
		m, err := sdk.New(cfg.FromEnv(getenv), smruntime.MembusDialer{Broker: b})
		if err != nil {
			return err
		}
		return m.Run(ctx)
	}
}

func newHarness(t *testing.T, vhosts smr.Vhosts, extra map[string]smruntime.ManagerFunc, timeout time.Duration) *harness {
	t.Helper()
	h := &harness{broker: membus.New()}
	t.Cleanup(func() { h.broker.Close() })
	ssm := func(name, number string, update bool, version string) sdk.Config {
		return sdk.Config{Kind: sm.KindSSM, ServiceName: "service1", ManagerName: name, Number: number, UpdateVersion: update, Version: version}
	}
	fsm := func(function, name string, update bool) sdk.Config {
		return sdk.Config{Kind: sm.KindFSM, ServiceName: "service1", FunctionName: function, ManagerName: name, UpdateVersion: update}
	}
	images := map[string]smruntime.ManagerFunc{
		"hadik3r/sonssmservice1dumb1":                  dumb(h.broker, ssm("dumb", "1", false, "0.1")),
		"hadik3r/sonssmservice1placement1":             dumb(h.broker, ssm("placement", "1", false, "0.1")),
		"hadik3r/sonssmservice1updateddumb1":           dumb(h.broker, ssm("dumb", "1", true, "0.2")),
		"hadik3r/sonfsmservice1function1dumb1":         dumb(h.broker, fsm("function1", "dumb", false)),
		"hadik3r/sonfsmservice1firewallconfiguration1": dumb(h.broker, fsm("firewall", "configuration", false)),
		"hadik3r/sonfsmservice1function1monitoring1":   dumb(h.broker, fsm("function1", "monitoring", false)),
		"hadik3r/sonfsmservice1function1updateddumb1":  dumb(h.broker, fsm("function1", "updateddumb", true)),
	}
	for k, v := range extra {
		images[k] = v
	}
	h.runtime = smruntime.NewInProcess(images, nil)
	if vhosts == nil {
		vhosts = smruntime.MembusVhosts{Broker: h.broker}
	}
	h.smr = smr.New(h.broker.Default(), smr.Config{
		Runtime: h.runtime, Vhosts: vhosts, Connector: h.broker,
		BrokerURL: smruntime.MembusURL, RegistrationTimeout: timeout,
	})
	if err := h.smr.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		h.smr.Close()
		if r := h.runtime.Running(); len(r) > 0 {
			t.Errorf("managers running after Close: %v", r)
		}
	})
	h.slm = bus.NewEndpoint(h.broker.Default(), bus.AppSLM)
	t.Cleanup(func() { h.slm.Close() })
	return h
}

func load(t *testing.T, name string) descriptor.Doc {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var d map[string]any
	if err := yaml.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

// call sends a registry request and returns the keyed reply.
func (h *harness) call(t *testing.T, topic string, req any) map[string]sm.SMRResult {
	t.Helper()
	m, err := h.slm.Request(context.Background(), topic, req, bus.WithTimeout(20*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if m.AppID != bus.AppSMR || m.ReplyTo != "" {
		t.Errorf("reply from %q with reply_to %q", m.AppID, m.ReplyTo)
	}
	res, err := sm.ParseSMRReply(m)
	if err != nil {
		t.Fatalf("%s: %v", topic, err)
	}
	return res
}

// expect checks the ids and statuses of a reply, each with error 'None'.
func expect(t *testing.T, what string, res map[string]sm.SMRResult, status string, ids ...string) {
	t.Helper()
	if got := sm.SortedIDs(res); !slices.Equal(got, sortedCopy(ids)) {
		t.Errorf("%s: reply keys %v, want %v", what, got, sortedCopy(ids))
	}
	for id, r := range res {
		if r.Status != status || r.Error != sm.NoError {
			t.Errorf("%s: %s = %+v, want status %s, error 'None'", what, id, r, status)
		}
		if status == sm.StatusInstantiated || status == sm.StatusUpdated {
			if r.UUID == "" || r.UUID == sm.NoError {
				t.Errorf("%s: %s has no registration uuid", what, id)
			}
		}
	}
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

// TestOriginalSMRCases replays the original test_smr.py (§11.2) with its
// descriptors: on-board, instantiate, update and terminate of SSMs and of
// the FSMs of two VNFDs, the managers being SDK versions of the son-sm dumb
// examples.
func TestOriginalSMRCases(t *testing.T) {
	h := newHarness(t, nil, nil, 10*time.Second)
	const (
		dumb1       = "sonssmservice1dumb1"
		placement1  = "sonssmservice1placement1"
		fDumb1      = "sonfsmservice1function1dumb1"
		fConfig1    = "sonfsmservice1firewallconfiguration1"
		fMonitor1   = "sonfsmservice1function1monitoring1"
		fUpdDumb1   = "sonfsmservice1function1updateddumb1"
		onboardSSM  = bus.TopicSMRSSMOnboard
		onboardFSM  = bus.TopicSMRFSMOnboard
		instSSM     = bus.TopicSMRSSMInstantiate
		instFSM     = bus.TopicSMRFSMInstantiate
		updSSM      = bus.TopicSMRSSMUpdate
		updFSM      = bus.TopicSMRFSMUpdate
		termSSM     = bus.TopicSMRSSMTerminate
		termFSM     = bus.TopicSMRFSMTerminate
		ssmVhost    = "ssm-" + nsdUUID
		fsm1Vhost   = "fsm-" + vnfd1UUID
		fsm2Vhost   = "fsm-" + vnfd2UUID
		statusTyped = sm.StatusOnboarded
	)
	nsd, vnfd1, vnfd2 := load(t, "nsd.yml"), load(t, "vnfd1.yml"), load(t, "vnfd2.yml")

	expect(t, "ssm on-board", h.call(t, onboardSSM, sm.SMRRequest{NSD: nsd}), statusTyped, dumb1, placement1)
	expect(t, "fsm on-board 1", h.call(t, onboardFSM, sm.SMRRequest{VNFD: vnfd1}), statusTyped, fDumb1)
	expect(t, "fsm on-board 2", h.call(t, onboardFSM, sm.SMRRequest{VNFD: vnfd2}), statusTyped, fMonitor1, fConfig1)

	start := time.Now()
	expect(t, "ssm instantiate", h.call(t, instSSM, sm.SMRRequest{NSD: nsd, UUID: nsdUUID}), sm.StatusInstantiated, dumb1, placement1)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("instantiate took %v: the SMR must answer as soon as the managers registered (M2)", d)
	}
	expect(t, "fsm instantiate 1", h.call(t, instFSM, sm.SMRRequest{VNFD: vnfd1, UUID: vnfd1UUID}), sm.StatusInstantiated, fDumb1)
	expect(t, "fsm instantiate 2", h.call(t, instFSM, sm.SMRRequest{VNFD: vnfd2, UUID: vnfd2UUID}), sm.StatusInstantiated, fMonitor1, fConfig1)
	if got := h.smr.Vhosts(); !slices.Equal(got, sortedCopy([]string{ssmVhost, fsm1Vhost, fsm2Vhost})) {
		t.Errorf("vhosts %v", got)
	}
	if n := len(h.runtime.Running()); n != 5 {
		t.Errorf("%d managers running, want 5", n)
	}
	rec, _ := h.smr.Record(dumb1, nsdUUID)
	firstUUID := rec.UUID
	if rec.Status != smr.RecordRunning || rec.ServiceName != "service1" || rec.Name != "dumb" || rec.SFUUID != nsdUUID {
		t.Errorf("record %+v", rec)
	}

	// Update to the same id: the updated image registers with
	// update_version 'true' and replaces the running manager.
	expect(t, "ssm update", h.call(t, updSSM, sm.SMRRequest{NSD: load(t, "nsdu.yml"), UUID: nsdUUID}), sm.StatusUpdated, dumb1)
	rec, _ = h.smr.Record(dumb1, nsdUUID)
	if rec.Version != "0.2" || rec.UUID != firstUUID || rec.Status != smr.RecordRunning {
		t.Errorf("record after the update %+v", rec)
	}
	// Update to a new id: the old record is terminated (M3), the new one
	// runs.
	expect(t, "fsm update", h.call(t, updFSM, sm.SMRRequest{VNFD: load(t, "vnfdu.yml"), UUID: vnfd2UUID}), sm.StatusUpdated, fUpdDumb1)
	if rec, _ := h.smr.Record(fConfig1, vnfd2UUID); rec.Status != smr.RecordTerminated {
		t.Errorf("replaced record %+v, want terminated (M3)", rec)
	}
	if rec, _ := h.smr.Record(fUpdDumb1, vnfd2UUID); rec.Status != smr.RecordRunning {
		t.Errorf("new record %+v", rec)
	}
	if n := len(h.runtime.Running()); n != 5 {
		t.Errorf("%d managers running after the updates, want 5: %v", n, h.runtime.Running())
	}

	expect(t, "ssm terminate", h.call(t, termSSM, sm.SMRRequest{NSD: load(t, "nsdt.yml"), UUID: nsdUUID}), sm.StatusTerminated, dumb1, placement1)
	expect(t, "fsm terminate 1", h.call(t, termFSM, sm.SMRRequest{VNFD: load(t, "vnfdt1.yml"), UUID: vnfd1UUID}), sm.StatusTerminated, fDumb1)
	expect(t, "fsm terminate 2", h.call(t, termFSM, sm.SMRRequest{VNFD: load(t, "vnfdt2.yml"), UUID: vnfd2UUID}), sm.StatusTerminated, fMonitor1, fUpdDumb1)
	waitNone(t, h)
	if v := h.smr.Vhosts(); len(v) > 0 {
		t.Errorf("vhosts left: %v (M5)", v)
	}
	if v := h.broker.Vhosts(); len(v) != 1 {
		t.Errorf("broker vhosts %v", v)
	}
	// Terminating again is harmless.
	expect(t, "ssm terminate again", h.call(t, termSSM, sm.SMRRequest{NSD: load(t, "nsdt.yml"), UUID: nsdUUID}), sm.StatusTerminated, dumb1, placement1)
}

func waitNone(t *testing.T, h *harness) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for len(h.runtime.Running()) > 0 && time.Now().Before(deadline) {
		time.Sleep(2 * time.Millisecond)
	}
	if r := h.runtime.Running(); len(r) > 0 {
		t.Errorf("managers still running: %v", r)
	}
}

func TestMissingDescriptorAndUnkeyedErrors(t *testing.T) {
	h := newHarness(t, nil, nil, time.Second)
	for _, c := range []struct{ topic, text string }{
		{bus.TopicSMRSSMOnboard, "NSD not found"},
		{bus.TopicSMRSSMInstantiate, "NSD not found"},
		{bus.TopicSMRFSMOnboard, "VNFD not found"},
		{bus.TopicSMRFSMTerminate, "VNFD not found"},
	} {
		m, err := h.slm.Request(context.Background(), c.topic, map[string]any{"foo": 1})
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]any
		if err := m.Decode(&body); err != nil || body["status"] != sm.StatusFailed || body["error"] != c.text {
			t.Errorf("%s: %v", c.topic, body)
		}
		if _, err := sm.ParseSMRReply(m); err == nil || err.Error() != c.text {
			t.Errorf("ParseSMRReply: %v", err)
		}
	}
}

// A request without reply_to gets no answer (async endpoints, §7.2).
func TestNotificationsAreIgnored(t *testing.T) {
	h := newHarness(t, nil, nil, time.Second)
	got := make(chan *bus.Message, 4)
	h.broker.Default().Subscribe(context.Background(), bus.TopicSMRSSMOnboard, func(_ context.Context, m *bus.Message) { got <- m })
	h.slm.Notify(context.Background(), bus.TopicSMRSSMOnboard, sm.SMRRequest{NSD: load(t, "nsd.yml")}, "c1")
	<-got
	select {
	case m := <-got:
		t.Errorf("answered a notification: %+v", m)
	case <-time.After(100 * time.Millisecond):
	}
}

type failingVhosts struct{}

func (failingVhosts) Create(context.Context, string) error {
	return errors.New("management API: 500")
}
func (failingVhosts) Delete(context.Context, string) error { return nil }

// M1: a vhost that cannot be created fails every manager with the
// original's text and uuid 'None'.
func TestVhostCreationFailure(t *testing.T) {
	h := newHarness(t, failingVhosts{}, nil, time.Second)
	res := h.call(t, bus.TopicSMRSSMInstantiate, sm.SMRRequest{NSD: load(t, "nsd.yml"), UUID: nsdUUID})
	for id, r := range res {
		if r.Status != sm.StatusFailed || r.UUID != sm.NoError || r.Error != sm.ErrVhostCreation {
			t.Errorf("%s: %+v", id, r)
		}
	}
	if len(res) != 2 || len(h.runtime.Running()) != 0 {
		t.Errorf("reply %v, running %v", res, h.runtime.Running())
	}
}

// M9: an update entry with only one of currentId and currentImage is
// reported; entries with neither are not updates.
func TestUpdateEntryWithoutBothOptions(t *testing.T) {
	h := newHarness(t, nil, nil, 5*time.Second)
	nsd := load(t, "nsd.yml")
	expect(t, "instantiate", h.call(t, bus.TopicSMRSSMInstantiate, sm.SMRRequest{NSD: nsd, UUID: nsdUUID}), sm.StatusInstantiated,
		"sonssmservice1dumb1", "sonssmservice1placement1")
	upd := descriptor.Copy(nsd)
	upd[sm.SSMKey] = []any{
		map[string]any{"id": "sonssmservice1dumb1", "image": "hadik3r/sonssmservice1updateddumb1",
			"options": []any{map[string]any{"key": "currentId", "value": "sonssmservice1dumb1"}}},
		map[string]any{"id": "sonssmservice1placement1", "image": "hadik3r/sonssmservice1placement1"},
	}
	res := h.call(t, bus.TopicSMRSSMUpdate, sm.SMRRequest{NSD: upd, UUID: nsdUUID})
	if len(res) != 1 || res["sonssmservice1dumb1"].Status != sm.StatusFailed ||
		res["sonssmservice1dumb1"].Error != "missing currentId/currentImage option" {
		t.Errorf("update reply %+v", res)
	}
}

// The registration handshake (§7.3): malformed, misnamed, foreign and
// duplicate registrations are refused with the original's texts where it
// has them.
func TestRegistrationReplies(t *testing.T) {
	var mu sync.Mutex
	var replies []sm.RegistrationReply
	var h *harness
	probe := func(ctx context.Context, getenv func(string) string) error {
		vhost, _ := sdk.VhostOf(getenv(sm.EnvBrokerHost))
		b, err := h.broker.Connect(ctx, vhost)
		if err != nil {
			return err
		}
		defer b.Close()
		ep := bus.NewEndpoint(b, "sonssmservice1dumb1")
		defer ep.Close()
		sf := getenv(sm.EnvSFUUID)
		valid := sm.RegistrationRequest{SpecificManagerType: "ssm", ServiceName: "service1", SpecificManagerName: "dumb",
			SpecificManagerID: "sonssmservice1dumb1", UpdateVersion: "false", Version: "0.1", SFUUID: sf}
		misnamed := valid
		misnamed.SpecificManagerID = "sonssmservice1other1"
		foreign := valid
		foreign.SFUUID = "another-instance"
		noVersion := valid
		noVersion.Version = ""
		for _, req := range []any{map[string]any{"foo": "bar"}, noVersion, misnamed, foreign, valid, valid} {
			m, err := ep.Request(ctx, bus.TopicSMRegistration, req, bus.WithTimeout(5*time.Second))
			if err != nil {
				return err
			}
			var r sm.RegistrationReply
			if err := m.Decode(&r); err != nil {
				return err
			}
			mu.Lock()
			replies = append(replies, r)
			mu.Unlock()
		}
		<-ctx.Done()
		return nil
	}
	h = newHarness(t, nil, map[string]smruntime.ManagerFunc{"probe": probe}, 5*time.Second)
	nsd := descriptor.Copy(load(t, "nsd.yml"))
	nsd[sm.SSMKey] = []any{map[string]any{"id": "sonssmservice1dumb1", "image": "probe"}}
	expect(t, "instantiate", h.call(t, bus.TopicSMRSSMInstantiate, sm.SMRRequest{NSD: nsd, UUID: nsdUUID}), sm.StatusInstantiated, "sonssmservice1dumb1")
	// The registry answers the instantiation once the valid registration is
	// answered; the probe's last registration may still be on its way.
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := len(replies)
		mu.Unlock()
		if n >= 6 || time.Now().After(deadline) {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []struct{ status, err string }{
		{sm.StatusFailed, "Invalid registration request format"},
		{sm.StatusFailed, "'version'"},
		{sm.StatusFailed, `specific_manager_id "sonssmservice1other1" is not sonssmservice1dumb<number>`},
		{sm.StatusFailed, `sf_uuid "another-instance" does not match vhost ssm-` + nsdUUID},
		{sm.StatusRegistered, ""},
		{sm.StatusFailed, "Cannot register 'sonssmservice1dumb1', already exists"},
	}
	if len(replies) != len(want) {
		t.Fatalf("replies %+v", replies)
	}
	for i, w := range want {
		r := replies[i]
		if r.Status != w.status || (w.err != "" && r.Error != w.err) || (w.err == "" && r.Error != nil) {
			t.Errorf("registration %d: %+v, want %s %q", i, r, w.status, w.err)
		}
	}
	ok := replies[4]
	if ok.UUID == "" || ok.SFUUID != nsdUUID || ok.SpecificManagerID != "sonssmservice1dumb1" || ok.ServiceName != "service1" {
		t.Errorf("registered reply %+v", ok)
	}
}

// A manager that exits before registering fails its instantiation at
// once, not after the registration timeout; one that never registers
// fails after it; either way nothing is left running.
func TestManagerThatDoesNotRegister(t *testing.T) {
	crash := func(context.Context, func(string) string) error { return errors.New("boom") }
	silent := func(ctx context.Context, _ func(string) string) error { <-ctx.Done(); return nil }
	h := newHarness(t, nil, map[string]smruntime.ManagerFunc{"crash": crash, "silent": silent}, 500*time.Millisecond)
	for _, c := range []struct {
		image, text string
		max         time.Duration
	}{
		{"crash", "Registration failed: manager exited before registering: boom", 300 * time.Millisecond},
		{"silent", "Registration failed: no registration of sonssmservice1dumb1" + nsdUUID + " within 500ms", 2 * time.Second},
	} {
		nsd := descriptor.Copy(load(t, "nsd.yml"))
		nsd[sm.SSMKey] = []any{map[string]any{"id": "sonssmservice1dumb1", "image": c.image}}
		start := time.Now()
		res := h.call(t, bus.TopicSMRSSMInstantiate, sm.SMRRequest{NSD: nsd, UUID: nsdUUID})
		r := res["sonssmservice1dumb1"]
		if r.Status != sm.StatusFailed || r.UUID != sm.NoError || r.Error != c.text {
			t.Errorf("%s: %+v", c.image, r)
		}
		if d := time.Since(start); d > c.max {
			t.Errorf("%s: took %v", c.image, d)
		}
		waitNone(t, h)
		if v := h.smr.Vhosts(); len(v) > 0 {
			t.Errorf("%s: vhosts left %v", c.image, v)
		}
	}
}

// An image the runtime does not know fails on-board.
func TestOnboardUnknownImageAndBadID(t *testing.T) {
	h := newHarness(t, nil, nil, time.Second)
	nsd := descriptor.Copy(load(t, "nsd.yml"))
	nsd[sm.SSMKey] = []any{
		map[string]any{"id": "sonssmservice1dumb1", "image": "nobody/knows"},
		map[string]any{"id": "ssm1", "image": "hadik3r/sonssmservice1dumb1"},
		map[string]any{"id": "sonfsmservice1fdumb1", "image": "hadik3r/sonssmservice1dumb1"},
	}
	res := h.call(t, bus.TopicSMRSSMOnboard, sm.SMRRequest{NSD: nsd})
	for id, want := range map[string]string{
		"sonssmservice1dumb1":  "no in-process manager for image nobody/knows",
		"ssm1":                 `manager id "ssm1" is not of the form sonssm<service><name><number>`,
		"sonfsmservice1fdumb1": `manager id "sonfsmservice1fdumb1" names an fsm, but it is declared as an ssm`,
	} {
		if r := res[id]; r.Status != sm.StatusFailed || r.Error != want {
			t.Errorf("%s: %+v, want %q", id, r, want)
		}
	}
}
