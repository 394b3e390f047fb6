package sdk_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/manoctl/manoctl/adapters/membus"
	"github.com/manoctl/manoctl/reconcile/bus"
	"github.com/manoctl/manoctl/reconcile/sm"
	"github.com/manoctl/manoctl/reconcile/sm/sdk"
)

type fixture struct {
	broker *membus.Broker
	vhost  bus.Bus
	reg    chan sm.RegistrationRequest
	mano   *bus.Endpoint
	// seen records everything on the generic topic, status the status
	// notices.
	seen   chan *bus.Message
	status chan sm.StatusNotice
}

// newFixture makes vhost fsm-f1 with a registry that answers reply (or
// stays silent when reply is nil).
func newFixture(t *testing.T, reply func(sm.RegistrationRequest) any) *fixture {
	t.Helper()
	f := &fixture{broker: membus.New(), reg: make(chan sm.RegistrationRequest, 4), seen: make(chan *bus.Message, 64), status: make(chan sm.StatusNotice, 4)}
	t.Cleanup(func() { f.broker.Close() })
	f.broker.AddVhost("fsm-f1")
	f.vhost, _ = f.broker.Connect(context.Background(), "fsm-f1")
	registry := bus.NewEndpoint(f.vhost, bus.AppSMR)
	registry.Handle(context.Background(), bus.TopicSMRegistration, bus.RequestsOnly, func(ctx context.Context, m *bus.Message) {
		var req sm.RegistrationRequest
		m.Decode(&req)
		f.reg <- req
		if reply != nil {
			registry.Reply(ctx, m, reply(req))
		}
	})
	f.mano = bus.NewEndpoint(f.vhost, bus.AppFLM, bus.WithTimeouts(func(string) time.Duration { return 300 * time.Millisecond }))
	f.vhost.Subscribe(context.Background(), bus.GenericFSMTopic("f1"), func(_ context.Context, m *bus.Message) { f.seen <- m })
	f.vhost.Subscribe(context.Background(), bus.TopicSMStatus, func(_ context.Context, m *bus.Message) {
		var n sm.StatusNotice
		m.Decode(&n)
		f.status <- n
	})
	return f
}

func registered(req sm.RegistrationRequest) any {
	return sm.RegistrationReply{Status: sm.StatusRegistered, SpecificManagerID: req.SpecificManagerID, UUID: "u"}
}

func (f *fixture) manager(t *testing.T, cfg sdk.Config) *sdk.Manager {
	t.Helper()
	cfg.BrokerURL, cfg.SFUUID = "membus://x/fsm-f1", "f1"
	m, err := sdk.New(cfg, sdk.DialerFunc(func(ctx context.Context, url, _, _ string) (bus.Bus, error) {
		v, err := sdk.VhostOf(url)
		if err != nil {
			return nil, err
		}
		return f.broker.Connect(ctx, v)
	}))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func fsmConfig() sdk.Config {
	return sdk.Config{Kind: sm.KindFSM, ServiceName: "demo", FunctionName: "iperf", ManagerName: "start", RegistrationTimeout: time.Second}
}

func run(t *testing.T, m *sdk.Manager) (registeredCh chan struct{}, done chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	registeredCh, done = make(chan struct{}), make(chan error, 1)
	m.OnRegistered(func(context.Context, sm.RegistrationReply) { close(registeredCh) })
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("Run did not return")
		}
	})
	return registeredCh, done
}

// The registration body is the 2017 sonsmbase one (§7.3).
func TestRegistrationBody(t *testing.T) {
	f := newFixture(t, registered)
	cfg := fsmConfig()
	cfg.UpdateVersion, cfg.Version, cfg.Description = true, "0.3", "d"
	reg, _ := run(t, f.manager(t, cfg))
	<-reg
	req := <-f.reg
	if req.SpecificManagerType != "fsm" || req.ServiceName != "demo" || req.FunctionName == nil || *req.FunctionName != "iperf" ||
		req.SpecificManagerName != "start" || req.SpecificManagerID != "sonfsmdemoiperfstart1" || req.UpdateVersion != "true" ||
		req.Version != "0.3" || req.Description != "d" || req.SFUUID != "f1" {
		t.Errorf("registration %+v", req)
	}
	// And the status notice follows.
	var n sm.StatusNotice
	select {
	case n = <-f.status:
	case <-time.After(2 * time.Second):
	}
	if n.Name != "sonfsmdemoiperfstart1" || n.Status != "running" {
		t.Errorf("status notice %+v", n)
	}
}

func TestRegistrationRefusedOrUnanswered(t *testing.T) {
	for name, reply := range map[string]func(sm.RegistrationRequest) any{
		"refused": func(sm.RegistrationRequest) any {
			return sm.RegistrationReply{Status: sm.StatusFailed, Error: "Cannot register 'x', already exists"}
		},
		"silent": nil,
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, reply)
			err := f.manager(t, fsmConfig()).Run(context.Background())
			if !errors.Is(err, sdk.ErrRegistration) {
				t.Fatalf("Run = %v, want ErrRegistration", err)
			}
			if name == "refused" && !strings.Contains(err.Error(), "already exists") {
				t.Errorf("error %v", err)
			}
		})
	}
}

func TestDispatch(t *testing.T) {
	f := newFixture(t, registered)
	m := f.manager(t, fsmConfig())
	calls := make(chan *sdk.Request, 8)
	m.Handle(sm.TypeStart, func(ctx context.Context, req *sdk.Request) (any, error) {
		calls <- req
		if req.Content()["fail"] == true {
			return nil, errors.New("cannot start")
		}
		return nil, nil
	})
	reg, _ := run(t, m)
	<-reg
	ctx := context.Background()

	// A call of its type is answered with notify on the topic, with the
	// request's correlation id and no reply_to.
	r, err := f.mano.Request(ctx, bus.GenericFSMTopic("f1"), sm.FSMRequest{FSMType: sm.TypeStart, Content: map[string]any{"vnfr": map[string]any{}}})
	if err != nil {
		t.Fatal(err)
	}
	var reply sm.FSMReply
	r.Decode(&reply)
	if reply.Status != bus.StatusCompleted || r.AppID != "sonfsmdemoiperfstart1" || r.ReplyTo != "" {
		t.Errorf("reply %+v from %s", reply, r.AppID)
	}
	if req := <-calls; req.Type != sm.TypeStart || req.Content()["vnfr"] == nil || !req.IsCall() {
		t.Errorf("request %+v", req)
	}
	// An error becomes {status: ERROR, error}.
	r, err = f.mano.Request(ctx, bus.GenericFSMTopic("f1"), sm.FSMRequest{FSMType: sm.TypeStart, Content: map[string]any{"fail": true}})
	if err != nil {
		t.Fatal(err)
	}
	r.Decode(&reply)
	if reply.Status != bus.StatusError || reply.Error != "cannot start" {
		t.Errorf("error reply %+v", reply)
	}
	<-calls
	// Ignored: another type (another FSM's call), a message without
	// fsm_type (a reply), the manager's own message.
	for _, body := range []any{
		sm.FSMRequest{FSMType: sm.TypeStop},
		map[string]any{"status": "COMPLETED"},
	} {
		if _, err := f.mano.Request(ctx, bus.GenericFSMTopic("f1"), body); !bus.IsTimeout(err) {
			t.Errorf("%v answered: %v", body, err)
		}
	}
	own := bus.NewEndpoint(f.vhost, "sonfsmdemoiperfstart1")
	if err := own.Publish(ctx, &bus.Message{Topic: bus.GenericFSMTopic("f1"), ReplyTo: bus.GenericFSMTopic("f1"), CorrelationID: "own",
		Payload: sm.FSMRequest{FSMType: sm.TypeStart}}); err != nil {
		t.Fatal(err)
	}
	// A notification of its type runs the handler but gets no reply.
	f.mano.Notify(ctx, bus.GenericFSMTopic("f1"), sm.FSMRequest{FSMType: sm.TypeStart}, "n1")
	select {
	case req := <-calls:
		if req.IsCall() || req.Message.CorrelationID != "n1" {
			t.Errorf("the manager handled %+v", req.Message)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("notification not handled")
	}
	time.Sleep(50 * time.Millisecond)
	for len(f.seen) > 0 {
		m := <-f.seen
		if m.AppID == "sonfsmdemoiperfstart1" && m.ReplyTo == "" && (m.CorrelationID == "n1" || m.CorrelationID == "own") {
			t.Errorf("answered %s", m.CorrelationID)
		}
	}
}

func TestAbortStopsRunWithoutAnswering(t *testing.T) {
	f := newFixture(t, registered)
	m := f.manager(t, fsmConfig())
	m.Handle(sm.TypeStart, func(ctx context.Context, req *sdk.Request) (any, error) {
		m.Abort(errors.New("crash"))
		return sdk.Completed(), nil
	})
	reg, done := run(t, m)
	<-reg
	if _, err := f.mano.Request(context.Background(), bus.GenericFSMTopic("f1"), sm.FSMRequest{FSMType: sm.TypeStart}); !bus.IsTimeout(err) {
		t.Errorf("an aborted manager answered: %v", err)
	}
	select {
	case err := <-done:
		if err == nil || err.Error() != "crash" {
			t.Errorf("Run = %v", err)
		}
		done <- err // for the cleanup
	case <-time.After(2 * time.Second):
		t.Fatal("Run did not return")
	}
}

// An abort while the registration is still unanswered is Run's error:
// a call can arrive, and crash the manager, before the registry's reply
// does. Run used to return the cut-short registration instead
// ("registration failed: ... context canceled").
func TestAbortDuringRegistration(t *testing.T) {
	f := newFixture(t, nil) // the registry never answers
	m := f.manager(t, fsmConfig())
	done := make(chan error, 1)
	go func() { done <- m.Run(context.Background()) }()
	<-f.reg // the registration is on its way
	m.Abort(errors.New("crash"))
	select {
	case err := <-done:
		if err == nil || err.Error() != "crash" {
			t.Errorf("Run = %v, want the abort's error", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
	}
}

func TestConfig(t *testing.T) {
	env := map[string]string{"broker_host": "amqp://u:p@h:5672/ssm-9", "broker_exchange": "x", "sf_uuid": "9"}
	c := sdk.Config{Kind: sm.KindSSM, ServiceName: "s", ManagerName: "n", Number: "7"}.FromEnv(func(k string) string { return env[k] })
	if c.BrokerURL != env["broker_host"] || c.Exchange != "x" || c.SFUUID != "9" || c.ID() != "sonssms"+"n7" {
		t.Errorf("%+v %s", c, c.ID())
	}
	if v, _ := sdk.VhostOf(c.BrokerURL); v != "ssm-9" {
		t.Errorf("vhost %s", v)
	}
	for _, u := range []string{"amqp://h", "amqp://h/", "amqp://h/%2F"} {
		if v, _ := sdk.VhostOf(u); v != "/" {
			t.Errorf("VhostOf(%s) = %s", u, v)
		}
	}
	for _, bad := range []sdk.Config{
		{Kind: "xsm", ServiceName: "s", ManagerName: "n", BrokerURL: "amqp://h"},
		{Kind: sm.KindSSM, ServiceName: "s s", ManagerName: "n", BrokerURL: "amqp://h"},
		{Kind: sm.KindFSM, ServiceName: "s", ManagerName: "n", BrokerURL: "amqp://h"}, // no function
		{Kind: sm.KindSSM, ServiceName: "s", ManagerName: "n", Number: "1a", BrokerURL: "amqp://h"},
		{Kind: sm.KindSSM, ServiceName: "s", ManagerName: "n"},
	} {
		if _, err := sdk.New(bad, sdk.DialerFunc(nil)); err == nil {
			t.Errorf("accepted %+v", bad)
		}
	}
}
