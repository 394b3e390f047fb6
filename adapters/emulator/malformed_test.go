package emulator_test

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/manoctl/manoctl/adapters/emulator"
	"github.com/manoctl/manoctl/reconcile/bus"
)

// syncBuffer is a log sink shared by the emulator's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The IA drops messages without app_id, its own (and the WIM adaptor's)
// echoes, and messages that are not requests (§1.7).
func TestSelfFiltering(t *testing.T) {
	var logs syncBuffer
	h := newHarness(t, emulator.SampleInventory(), emulator.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	prep := map[string]any{"instance_id": svcA, "vim_list": []any{map[string]any{"uuid": athens}}}
	for _, m := range []*bus.Message{
		{Topic: bus.TopicIAServicePrepare, CorrelationID: "c1", ReplyTo: bus.TopicIAServicePrepare, Payload: prep},
		{Topic: bus.TopicIAServicePrepare, AppID: bus.AppIA, CorrelationID: "c2", ReplyTo: bus.TopicIAServicePrepare, Payload: prep},
		{Topic: bus.TopicIAServicePrepare, AppID: bus.AppWIM, CorrelationID: "c3", ReplyTo: bus.TopicIAServicePrepare, Payload: prep},
		{Topic: bus.TopicIAServicePrepare, AppID: bus.AppSLM, CorrelationID: "c4", Payload: prep},
		{Topic: "infrastructure.monitoring.vnf", AppID: bus.AppSLM, CorrelationID: "c5", ReplyTo: "infrastructure.monitoring.vnf", Payload: map[string]any{}},
	} {
		h.publish(m)
	}
	h.barrier()
	for _, corr := range []string{"c1", "c2", "c3", "c4", "c5"} {
		// c2 and c3 are the forged echoes themselves.
		if n := len(h.tap.replies(corr)); n > 0 && corr != "c2" && corr != "c3" || n > 1 {
			t.Errorf("message %s answered (%d IA messages)", corr, n)
		}
	}
	if _, ok := h.emu.Service(svcA); ok {
		t.Fatal("a filtered message took effect")
	}
	if n := h.emu.Calls(bus.TopicIAServicePrepare); n != 0 {
		t.Fatalf("filtered messages counted as %d calls", n)
	}
	if !strings.Contains(logs.String(), "without app_id") {
		t.Errorf("message without app_id not logged:\n%s", logs.String())
	}
}

// Malformed requests are answered with the topic's error shape and logged
// with topic and app_id; nothing crashes and nothing changes.
func TestMalformedRequests(t *testing.T) {
	var logs syncBuffer
	h := newHarness(t, emulator.SampleInventory(), emulator.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	cases := []struct {
		name    string
		topic   string
		body    []byte
		payload any
		status  string
		message string
	}{
		{"prepare not YAML", bus.TopicIAServicePrepare, []byte("{instance_id: [unclosed"), nil, "ERROR", "Malformed request"},
		{"prepare a YAML list", bus.TopicIAServicePrepare, []byte("- a\n- b\n"), nil, "ERROR", "Malformed request"},
		{"prepare empty body", bus.TopicIAServicePrepare, nil, nil, "ERROR", "Malformed request"},
		{"prepare null", bus.TopicIAServicePrepare, []byte("~"), nil, "ERROR", "Malformed request"},
		{"prepare wrong types", bus.TopicIAServicePrepare, nil, map[string]any{"instance_id": []any{1}, "vim_list": 7}, "ERROR", "Malformed request"},
		{"deploy not YAML", bus.TopicIAFunctionDeploy, []byte("\tvnfd: : :"), nil, "ERROR", emulator.MsgDeploymentError},
		{"deploy typed payload", bus.TopicIAFunctionDeploy, nil, struct{ VNFD int }{3}, "ERROR", emulator.MsgDeploymentError},
		{"service.remove YAML", bus.TopicIAServiceRemove, []byte("instance_uuid: " + svcA + "\n"), nil, "ERROR", "Malformed request: body must be JSON"},
		{"compute.add YAML", bus.TopicIAComputeAdd, []byte("name: x\n"), nil, "ERROR", "Malformed request: body must be JSON"},
		{"wan.configure garbage", bus.TopicIAWanConfigure, []byte("]["), nil, "fail", emulator.MsgPayloadParseError},
		{"chain.configure scalar", bus.TopicIAChainConfigure, []byte("42"), nil, "ERROR", "Malformed request"},
	}
	for _, c := range cases {
		corr := "corr-" + strings.ReplaceAll(c.name, " ", "-")
		h.publish(&bus.Message{Topic: c.topic, AppID: bus.AppSLM, CorrelationID: corr, ReplyTo: c.topic, Body: c.body, Payload: c.payload})
		h.barrier()
		rs := h.tap.replies(corr)
		if len(rs) != 1 {
			t.Errorf("%s: %d replies, want 1", c.name, len(rs))
			continue
		}
		var r map[string]any
		if err := rs[0].Decode(&r); err != nil {
			t.Errorf("%s: reply does not decode: %v", c.name, err)
			continue
		}
		if r["request_status"] != c.status || !strings.HasPrefix(r["message"].(string), c.message) {
			t.Errorf("%s: %v, want %s %q", c.name, r, c.status, c.message)
		}
	}
	if s := h.emu.Snapshot(); len(s.Services) != 0 || len(s.Functions) != 0 || len(s.VIMs) != 2 {
		t.Errorf("malformed requests changed the state: %+v", s)
	}
	out := logs.String()
	if !strings.Contains(out, "topic="+bus.TopicIAFunctionDeploy) || !strings.Contains(out, "app_id="+bus.AppSLM) {
		t.Errorf("refusals not logged with topic and app_id:\n%s", out)
	}
}

// A request without correlation id is answered (so it shows in traces)
// without one, and has no effect: nobody could match its reply.
func TestMissingCorrelationID(t *testing.T) {
	h := newHarness(t, emulator.SampleInventory())
	prep := map[string]any{"instance_id": svcA, "vim_list": []any{map[string]any{"uuid": athens}}}
	h.publish(&bus.Message{Topic: bus.TopicIAServicePrepare, AppID: bus.AppSLM, ReplyTo: bus.TopicIAServicePrepare, Payload: prep})
	h.barrier()
	var found bool
	for _, m := range h.tap.fromIA() {
		if m.CorrelationID != "" {
			continue
		}
		found = true
		var r map[string]any
		if err := m.Decode(&r); err != nil || r["request_status"] != "ERROR" || r["message"] != emulator.MsgNoCorrelationID {
			t.Errorf("reply %v (%v)", r, err)
		}
	}
	if !found {
		t.Fatal("no reply to the request without correlation id")
	}
	if _, ok := h.emu.Service(svcA); ok {
		t.Fatal("request without correlation id took effect")
	}
}

// JSON bodies, as the AMQP adapter delivers them, are accepted everywhere.
func TestWireBodies(t *testing.T) {
	h := newHarness(t, emulator.SampleInventory())
	send := func(topic string, payload any) map[string]any {
		body, _, err := bus.Encode(topic, true, payload)
		if err != nil {
			t.Fatal(err)
		}
		corr := "wire-" + topic
		h.publish(&bus.Message{Topic: topic, AppID: bus.AppSLM, CorrelationID: corr, ReplyTo: topic, Body: body})
		h.barrier()
		rs := h.tap.replies(corr)
		if len(rs) != 1 {
			t.Fatalf("%s: %d replies", topic, len(rs))
		}
		var r map[string]any
		if err := rs[0].Decode(&r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	for _, step := range []struct {
		topic   string
		payload any
	}{
		{bus.TopicIAServicePrepare, map[string]any{"instance_id": svcA, "vim_list": []any{map[string]any{"uuid": athens}}}},
		{bus.TopicIAFunctionDeploy, deployRequest(t, svcA, athens, "firewall-vnfd.yml", fwID)},
		{bus.TopicIAChainDeconfigure, map[string]any{"service_instance_id": svcA}},
		{bus.TopicIAServiceRemove, map[string]any{"instance_uuid": svcA}},
	} {
		if r := send(step.topic, step.payload); r["request_status"] != "COMPLETED" {
			t.Fatalf("%s: %v", step.topic, r)
		}
	}
}
