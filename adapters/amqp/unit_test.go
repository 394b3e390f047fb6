package amqp

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/manoctl/manoctl/reconcile/bus"
)

// Unit tests of the parts that need no broker.

func TestResolveDefaultsAndEnvironment(t *testing.T) {
	t.Setenv(EnvBrokerHost, "")
	t.Setenv(EnvBrokerExchange, "")
	r, err := Config{}.resolve()
	if err != nil {
		t.Fatal(err)
	}
	if r.URL != DefaultURL || r.Exchange != "son-kernel" || r.vhost != "/" || r.Prefetch != 100 {
		t.Fatalf("defaults: %+v", r)
	}
	if r.redacted != "amqp://guest:xxxxx@localhost:5672/%2F" {
		t.Fatalf("redacted %q", r.redacted)
	}

	t.Setenv(EnvBrokerHost, "amqps://u:p@broker:5671/ssm-1")
	t.Setenv(EnvBrokerExchange, "my-exchange")
	r, err = Config{}.resolve()
	if err != nil {
		t.Fatal(err)
	}
	if r.vhost != "ssm-1" || r.Exchange != "my-exchange" || r.u.Scheme != "amqps" {
		t.Fatalf("from the environment: %+v", r)
	}
	r, _ = Config{URL: "amqp://localhost", Exchange: "flag"}.resolve()
	if r.vhost != "/" || r.Exchange != "flag" {
		t.Fatalf("configuration beats the environment: %+v", r)
	}
}

func TestVhostFromURL(t *testing.T) {
	for raw, want := range map[string]string{
		"amqp://guest:guest@localhost:5672/%2F": "/",
		"amqp://guest:guest@localhost:5672/":    "/",
		"amqp://guest:guest@localhost:5672":     "/",
		"amqp://h/ssm-abc":                      "ssm-abc",
		"amqp://h/a%2Fb":                        "a/b",
	} {
		_, v, err := parseURL(raw)
		if err != nil || v != want {
			t.Errorf("%s: vhost %q, %v; want %q", raw, v, err, want)
		}
	}
	u, err := URLWithVhost("amqp://specific-management:sonata@son-broker:5672", "fsm-1")
	if err != nil || u != "amqp://specific-management:sonata@son-broker:5672/fsm-1" {
		t.Fatalf("URLWithVhost: %q %v", u, err)
	}
	u, _ = URLWithVhost("amqp://g:g@h/x", "/")
	if u != "amqp://g:g@h/%2F" {
		t.Fatalf("default vhost: %q", u)
	}
}

func TestURLErrorsHideThePassword(t *testing.T) {
	const pw = "T0p-Secret"
	for _, raw := range []string{
		"amqp://user:" + pw + "@host:99999/",
		"amqp://user:" + pw + "@ho st/",
		"ftp://user:" + pw + "@host/",
		"amqp://user:" + pw + "@[::1/",
		"amqp://user:" + pw + "@host/%zz",
	} {
		_, _, err := parseURL(raw)
		if err == nil {
			t.Errorf("%s accepted", RedactURL(raw))
			continue
		}
		if strings.Contains(err.Error(), pw) {
			t.Errorf("error shows the password: %v", err)
		}
	}
	if got := RedactURL("amqp://user:" + pw + "@[::1/"); strings.Contains(got, pw) {
		t.Fatalf("RedactURL of a malformed URL: %q", got)
	}
	u, _, _ := parseURL("amqp://user:" + pw + "@host/")
	err := scrubError(u, errors.New("dial amqp://user:"+pw+"@host/ failed"))
	if strings.Contains(err.Error(), pw) {
		t.Fatalf("scrubbed: %v", err)
	}
}

func TestPrivateQueueNames(t *testing.T) {
	n := privateQueueName("platform.management.plugin.*.heartbeat")
	if !strings.HasPrefix(n, "q.platform.management.plugin.*.heartbeat.") || len(n) != len("q.platform.management.plugin.*.heartbeat.")+36 {
		t.Fatalf("name %q", n)
	}
	if n2 := privateQueueName(strings.Repeat("x", 300)); len(n2) != 255 {
		t.Fatalf("long pattern: %d bytes", len(n2))
	}
	if SharedQueueName("slm.create") != "manoctl.slm.create" || SharedQueueName("manoctl.x") != "manoctl.x" {
		t.Fatal("shared queue prefix")
	}
}

func TestToPublishing(t *testing.T) {
	p, err := toPublishing(&bus.Message{Topic: bus.TopicPluginRegister, ReplyTo: bus.TopicPluginRegister, Payload: map[string]any{"a": 1}, Persistent: true})
	if err != nil {
		t.Fatal(err)
	}
	if string(p.Body) != `{"a":1}` || p.ContentType != bus.ContentTypeJSON || p.DeliveryMode != 2 || p.ContentEncoding != "utf-8" || p.ReplyTo != bus.TopicPluginRegister {
		t.Fatalf("JSON topic: %+v", p)
	}
	p, _ = toPublishing(&bus.Message{Topic: "service.instances.create", ContentType: bus.ContentTypeJSON, Payload: map[string]any{"a": 1}})
	if !yamlEquals(p.Body, map[string]any{"a": 1}) || p.ContentType != bus.ContentTypeJSON || p.DeliveryMode != 0 {
		t.Fatalf("YAML labelled JSON like the originals: %+v %q", p, p.Body)
	}
	p, _ = toPublishing(&bus.Message{Topic: "x", Body: []byte("raw"), Payload: map[string]any{"ignored": true}})
	if string(p.Body) != "raw" || p.ContentType != "" {
		t.Fatalf("Body wins: %+v", p)
	}
	p, _ = toPublishing(&bus.Message{Topic: "x"})
	if len(p.Body) != 0 || p.Headers != nil {
		t.Fatalf("empty message: %+v", p)
	}
	_, err = toPublishing(&bus.Message{Topic: "x", Headers: map[string]any{"bad": struct{}{}}})
	if err == nil {
		t.Fatal("unsupported header type accepted")
	}
	_, err = toPublishing(&bus.Message{Topic: "x", Payload: func() {}})
	if err == nil {
		t.Fatal("unencodable payload accepted")
	}
}

func TestHeaderConversion(t *testing.T) {
	in := map[string]any{
		"s": "x", "i": 1, "u": uint64(2), "f": 1.5, "b": true, "nil": nil,
		"m": map[string]any{"k": []any{1, "two"}}, "ms": map[string]string{"a": "b"}, "ss": []string{"p", "q"},
	}
	table, err := toTable(in)
	if err != nil {
		t.Fatal(err)
	}
	if err := table.Validate(); err != nil {
		t.Fatal(err)
	}
	// What the reader gets back from amqp091's wire types.
	wire := amqp091.Table{
		"s": "x", "i": int64(1), "u": int64(2), "f": 1.5, "b": true, "nil": nil, "i32": int32(3), "f32": float32(0.5),
		"m": amqp091.Table{"k": []any{int16(1), "two"}}, "ms": amqp091.Table{"a": "b"}, "ss": []any{"p", "q"},
	}
	want := map[string]any{
		"s": "x", "i": 1, "u": 2, "f": 1.5, "b": true, "nil": nil, "i32": 3, "f32": 0.5,
		"m": map[string]any{"k": []any{1, "two"}}, "ms": map[string]any{"a": "b"}, "ss": []any{"p", "q"},
	}
	if got := fromTable(wire); !reflect.DeepEqual(got, want) {
		t.Fatalf("fromTable: %#v", got)
	}
	if fromTable(amqp091.Table{}) != nil || fromTable(nil) != nil {
		t.Fatal("absent and empty headers must both read as nil")
	}
}

func TestFromDelivery(t *testing.T) {
	m := fromDelivery(&amqp091.Delivery{RoutingKey: "t", AppId: "a", DeliveryMode: 2}, "v")
	if m.Body == nil || m.Payload != nil || !m.Persistent || m.Vhost != "v" || m.Time.IsZero() || m.Headers != nil {
		t.Fatalf("%+v", m)
	}
}

func TestBackoffBounds(t *testing.T) {
	b := &Bus{cfg: &resolved{Config: Config{ReconnectMin: 100 * time.Millisecond, ReconnectMax: 2 * time.Second}}}
	for n := 1; n < 40; n++ {
		d := b.backoff(n)
		if d < 80*time.Millisecond || d > 2400*time.Millisecond {
			t.Fatalf("attempt %d: %v outside [min-20%%, max+20%%]", n, d)
		}
	}
	if b.backoff(30) < 1600*time.Millisecond {
		t.Fatal("backoff does not grow to the maximum")
	}
}

func TestEventKindStrings(t *testing.T) {
	for k := EventConnected; k <= EventClosed; k++ {
		if s := k.String(); s == "unknown" || s == "" {
			t.Fatalf("kind %d has no name", k)
		}
	}
}

// yamlEquals reports whether body parses as YAML (what every SONATA peer
// does with it) to want: bodies are judged by value, not bytes
// (wire-protocol §13).
func yamlEquals(body []byte, want any) bool {
	var got any
	if err := yaml.Unmarshal(body, &got); err != nil {
		return false
	}
	return reflect.DeepEqual(got, want)
}
