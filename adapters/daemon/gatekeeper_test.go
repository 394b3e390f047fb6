package daemon_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	amqp091 "github.com/rabbitmq/amqp091-go"
	"gopkg.in/yaml.v3"

	"github.com/manoctl/manoctl/adapters/amqp/amqptest"
	"github.com/manoctl/manoctl/reconcile/bus"
	"github.com/manoctl/manoctl/reconcile/bus/bustest"
)

// corpusFile is a file of the shared SONATA corpus (../shared/corpus
// beside the module root).
func corpusFile(t testing.TB, rel string) string {
	t.Helper()
	wd, _ := os.Getwd()
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			p := filepath.Join(filepath.Dir(d), "shared", "corpus", filepath.FromSlash(rel))
			if _, err := os.Stat(p); err != nil {
				t.Fatalf("the shared corpus must sit beside the module as ../shared/corpus: %v", err)
			}
			return p
		}
		if filepath.Dir(d) == d {
			t.Fatal("no go.mod above the test")
		}
	}
}

func readYAML(t testing.TB, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return m
}

// gkCreateBody is the body the 2017 gatekeeper publishes on
// service.instances.create (spec §9.2) for the official sonata-demo
// example of son-schema: the NSD and one VNFD<i> per network function,
// each with the catalogue uuid the GK adds, and empty ingresses and
// egresses, as in spec/observed-trace.md.
func gkCreateBody(t testing.TB) map[string]any {
	nsd := readYAML(t, corpusFile(t, "son-schema/service-descriptor/examples/sonata-demo.yml"))
	nsd["uuid"] = uuid.NewString()
	body := map[string]any{
		"NSD":       nsd,
		"ingresses": []any{},
		"egresses":  []any{},
	}
	for i, f := range []string{"firewall-vnfd.yml", "iperf-vnfd.yml", "tcpdump-vnfd.yml"} {
		v := readYAML(t, corpusFile(t, "son-schema/function-descriptor/examples/"+f))
		v["uuid"] = uuid.NewString()
		body["VNFD"+string(rune('0'+i))] = v
	}
	return body
}

// platform is a daemon and an emulator, each its own process, on a
// private vhost.
type platform struct {
	vhost, url, stateDir string
	daemon, emulator     *proc
}

const testVIMs = `vims:
  - {name: athens, city: Athens, endpoint: 10.100.32.200, cores: 256, memory_mb: 1048576}
  - {name: aveiro, city: Aveiro, endpoint: 10.1.10.0, cores: 256, memory_mb: 1048576}
`

// startPlatform starts an emulator (with emuArgs) and a daemon (with
// daemonArgs).
func startPlatform(t *testing.T, emuArgs []string, daemonArgs ...string) *platform {
	t.Helper()
	amqptest.Require(t)
	p := &platform{vhost: amqptest.Vhost(t)}
	p.url = amqptest.VhostURL(t, p.vhost)
	dir := t.TempDir()
	vims := filepath.Join(dir, "vims.yaml")
	if err := os.WriteFile(vims, []byte(testVIMs), 0o600); err != nil {
		t.Fatal(err)
	}
	p.stateDir = filepath.Join(dir, "state")
	p.emulator = startProc(t, "emulator", nil, append([]string{"emulator", "--broker", p.url, "--vims", vims, "--state", filepath.Join(dir, "infra.json")}, emuArgs...)...)
	p.daemon = p.startDaemon(t, daemonArgs...)
	return p
}

func (p *platform) startDaemon(t *testing.T, args ...string) *proc {
	t.Helper()
	return startProc(t, "daemon", nil, append([]string{"daemon", "--broker", p.url, "--state-dir", p.stateDir}, args...)...)
}

// tap is a queue bound to "#", as the one that recorded
// spec/observed-trace.md.
type tap struct {
	mu   sync.Mutex
	msgs []*bus.Message
	last time.Time
}

func startTap(t *testing.T, conn *amqp091.Connection) *tap {
	t.Helper()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	q, err := ch.QueueDeclare("", false, true, true, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.QueueBind(q.Name, "#", "son-kernel", false, nil); err != nil {
		t.Fatal(err)
	}
	ds, err := ch.Consume(q.Name, "", true, true, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	tp := &tap{}
	go func() {
		for d := range ds {
			m := &bus.Message{Topic: d.RoutingKey, AppID: d.AppId, CorrelationID: d.CorrelationId, ReplyTo: d.ReplyTo,
				ContentType: d.ContentType, Body: d.Body, Headers: d.Headers, Time: time.Now()}
			tp.mu.Lock()
			tp.msgs = append(tp.msgs, m)
			tp.last = time.Now()
			tp.mu.Unlock()
		}
	}()
	return tp
}

// take returns what the tap recorded once it has been quiet for a while
// (heartbeats aside).
func (tp *tap) take(t *testing.T) []*bus.Message {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		tp.mu.Lock()
		quiet := time.Since(tp.last) > 400*time.Millisecond
		tp.mu.Unlock()
		if quiet {
			break
		}
	}
	tp.mu.Lock()
	defer tp.mu.Unlock()
	out := tp.msgs
	tp.msgs = nil
	return out
}

// gatekeeper is son-gtksrv's side of the bus, written with plain amqp091:
// a queue named exactly like each topic (auto-delete), requests with
// reply_to = topic, a fresh correlation id, app_id son-gkeeper and
// text/yaml bodies; it reads every message on its topics from other
// senders, as YAML, and keeps those with a status (§9.1).
type gatekeeper struct {
	t  *testing.T
	ch *amqp091.Channel
	mu sync.Mutex
	// statuses by correlation id, in arrival order, with their bodies
	got  map[string][]map[string]any
	note chan struct{}
}

func newGatekeeper(t *testing.T, conn *amqp091.Connection) *gatekeeper {
	t.Helper()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	gk := &gatekeeper{t: t, ch: ch, got: map[string][]map[string]any{}, note: make(chan struct{}, 1)}
	if err := ch.ExchangeDeclare("son-kernel", "topic", false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	for _, topic := range []string{bus.TopicServiceCreate, bus.TopicServiceTerminate, "service.instances.update"} {
		cch, err := conn.Channel()
		if err != nil {
			t.Fatal(err)
		}
		q, err := cch.QueueDeclare(topic, false, true, false, false, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := cch.QueueBind(q.Name, topic, "son-kernel", false, nil); err != nil {
			t.Fatal(err)
		}
		ds, err := cch.Consume(q.Name, "", true, false, false, false, nil)
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			for d := range ds {
				if d.AppId == "son-gkeeper" {
					continue
				}
				var body map[string]any
				if yaml.Unmarshal(d.Body, &body) != nil || body["status"] == nil {
					continue // the GK ignores bodies without status
				}
				gk.mu.Lock()
				gk.got[d.CorrelationId] = append(gk.got[d.CorrelationId], body)
				gk.mu.Unlock()
				select {
				case gk.note <- struct{}{}:
				default:
				}
			}
		}()
	}
	return gk
}

func (gk *gatekeeper) send(topic string, body map[string]any) string {
	gk.t.Helper()
	b, err := yaml.Marshal(body)
	if err != nil {
		gk.t.Fatal(err)
	}
	corr := uuid.NewString()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := gk.ch.PublishWithContext(ctx, "son-kernel", topic, false, false, amqp091.Publishing{
		AppId: "son-gkeeper", ReplyTo: topic, CorrelationId: corr, ContentType: "text/yaml", Body: b,
	}); err != nil {
		gk.t.Fatal(err)
	}
	return corr
}

// await waits for a final status (READY or ERROR) on corr and returns
// every status body received for it.
func (gk *gatekeeper) await(corr string, timeout time.Duration) ([]map[string]any, error) {
	deadline := time.After(timeout)
	for {
		gk.mu.Lock()
		got := append([]map[string]any(nil), gk.got[corr]...)
		gk.mu.Unlock()
		if n := len(got); n > 0 {
			if s := got[n-1]["status"]; s == "READY" || s == "ERROR" {
				return got, nil
			}
		}
		select {
		case <-gk.note:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			return got, errors.New("no final status for " + corr)
		}
	}
}

func statusesOf(bodies []map[string]any) []string {
	var out []string
	for _, b := range bodies {
		s, _ := b["status"].(string)
		out = append(out, s)
	}
	return out
}

// A gatekeeper written with plain amqp091 instantiates and terminates the
// official sonata-demo service through a daemon and an emulator running
// as their own processes. A queue bound to "#" records the traffic, which
// must be the golden trace of the in-process platform (itself
// spec/observed-trace.md but for the documented differences), with the
// properties the spec requires.
func TestGatekeeperOverAMQP(t *testing.T) {
	p := startPlatform(t, nil)
	conn := amqptest.Dial(t, p.vhost)
	tp := startTap(t, conn)
	gk := newGatekeeper(t, conn)
	tp.take(t) // registration and start-up traffic

	create := gkCreateBody(t)
	corr := gk.send(bus.TopicServiceCreate, create)
	bodies, err := gk.await(corr, 60*time.Second)
	if err != nil {
		t.Fatalf("%v; statuses so far %v", err, statusesOf(bodies))
	}
	if got := strings.Join(statusesOf(bodies), ","); got != "INSTANTIATING,READY" {
		t.Fatalf("create statuses %s, want INSTANTIATING,READY (%v)", got, bodies[len(bodies)-1]["error"])
	}
	final := bodies[1]
	nsr, _ := final["nsr"].(map[string]any)
	vnfrs, _ := final["vnfrs"].([]any)
	if nsr == nil || nsr["id"] == nil || len(vnfrs) != 3 {
		t.Fatalf("READY carries nsr %v and %d vnfrs, want an nsr with an id and 3 vnfrs", nsr, len(vnfrs))
	}
	if nsr["descriptor_reference"] != create["NSD"].(map[string]any)["uuid"] {
		t.Errorf("nsr descriptor_reference %v, want the NSD's catalogue uuid", nsr["descriptor_reference"])
	}
	msgs := tp.take(t)
	checkWireProperties(t, msgs)
	bustest.CheckGolden(t, filepath.Join("..", "embedded", "testdata", "golden", "instantiate.trace"), bustest.Canonical(t, msgs))

	// The GK terminates with the create structure plus instance_id (§9.3).
	term := map[string]any{}
	for k, v := range create {
		term[k] = v
	}
	term["instance_id"] = nsr["id"]
	corr = gk.send(bus.TopicServiceTerminate, term)
	bodies, err = gk.await(corr, 60*time.Second)
	if err != nil {
		t.Fatalf("%v; statuses so far %v", err, statusesOf(bodies))
	}
	if got := strings.Join(statusesOf(bodies), ","); got != "TERMINATING,READY" {
		t.Fatalf("terminate statuses %s, want TERMINATING,READY", got)
	}
	msgs = tp.take(t)
	checkWireProperties(t, msgs)
	lines := bustest.Canonical(t, msgs)
	if len(lines) == 0 || lines[0] != "service.instance.terminate | son-gkeeper | yes | c1 | {NSD,VNFD0,VNFD1,VNFD2,egresses,ingresses,instance_id}" {
		t.Fatalf("first terminate message %q", lines)
	}
	// The golden trace's client sends instance_id alone; the rest is the
	// same.
	golden, err := os.ReadFile(filepath.Join("..", "embedded", "testdata", "golden", "terminate.trace"))
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Split(strings.TrimSuffix(string(golden), "\n"), "\n")[1:]
	if got := strings.Join(lines[1:], "\n"); got != strings.Join(want, "\n") {
		t.Errorf("terminate trace over AMQP:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}

// checkWireProperties checks the SONATA message conventions (spec §1.4,
// §1.6, §1.7, §1.8) on every SONATA message of a trace.
func checkWireProperties(t *testing.T, msgs []*bus.Message) {
	t.Helper()
	requests := map[string]string{} // correlation id -> topic
	jsonOnly := map[string]bool{"infrastructure.service.remove": true, "infrastructure.service.chain.deconfigure": true}
	for i, m := range msgs {
		if strings.HasPrefix(m.Topic, "manoctl.") || strings.HasPrefix(m.Topic, "platform.management.plugin.") {
			continue
		}
		where := fmt.Sprintf("%s (message %d)", m.Topic, i)
		if m.AppID == "" {
			t.Errorf("%s: no app_id (the IA drops such messages)", where)
		}
		if m.CorrelationID == "" && m.Topic != "mano.inter.slm" {
			t.Errorf("%s: no correlation_id", where)
		}
		var body any
		if err := m.Decode(&body); err != nil {
			t.Errorf("%s: body is not YAML: %v", where, err)
		}
		if m.ReplyTo != "" {
			if m.ReplyTo != m.Topic {
				t.Errorf("%s: reply_to %q, want the request topic", where, m.ReplyTo)
			}
			requests[m.CorrelationID] = m.Topic
			if jsonOnly[m.Topic] && !json.Valid(m.Body) {
				t.Errorf("%s: the IA reads this request as JSON, body %q", where, m.Body)
			}
			continue
		}
		if m.CorrelationID != "" && requests[m.CorrelationID] != m.Topic {
			t.Errorf("%s: reply with correlation id %s of no earlier request on this topic", where, m.CorrelationID)
		}
	}
}

// plainConsumer binds a private queue of conn to keys and delivers its
// messages.
func plainConsumer(t *testing.T, conn *amqp091.Connection, keys ...string) <-chan amqp091.Delivery {
	t.Helper()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	q, err := ch.QueueDeclare("q.test."+uuid.NewString(), false, true, true, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if err := ch.QueueBind(q.Name, k, "son-kernel", false, nil); err != nil {
			t.Fatal(err)
		}
	}
	ds, err := ch.Consume(q.Name, "", true, true, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// next returns the first delivery that match accepts.
func next(t *testing.T, ds <-chan amqp091.Delivery, what string, match func(amqp091.Delivery) bool) amqp091.Delivery {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case d := <-ds:
			if match(d) {
				return d
			}
		case <-timeout:
			t.Fatalf("no %s within 20s", what)
		}
	}
}

// A plugin written only with plain amqp091, as a third party would,
// registers with the daemon's plugin manager (JSON, call_async style),
// gets lifecycle.start after its READY heartbeat, reports RUNNING, shows
// in the daemon's plugin list, and deregisters (spec §3.2, §3.3, §3.6).
func TestThirdPartyPluginRegisters(t *testing.T) {
	p := startPlatform(t, nil, "--plugins", "pm,slm,flm,placement")
	conn := amqptest.Dial(t, p.vhost)
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	const name = "son-plugin.ThirdPartyPlugin"
	publish := func(topic, replyTo, corr string, body any) {
		t.Helper()
		b, _ := json.Marshal(body)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := ch.PublishWithContext(ctx, "son-kernel", topic, false, false, amqp091.Publishing{
			AppId: name, ReplyTo: replyTo, CorrelationId: corr, ContentType: "application/json", Body: b,
			Headers: amqp091.Table{"key": "default", "type": "request"},
		}); err != nil {
			t.Fatal(err)
		}
	}
	const register = "platform.management.plugin.register"
	replies := plainConsumer(t, conn, register)
	statuses := plainConsumer(t, conn, "platform.management.plugin.status")
	corr := uuid.NewString()
	publish(register, register, corr, map[string]any{"name": name, "version": "1.0-dev", "description": "third-party test plugin"})
	d := next(t, replies, "register reply", func(d amqp091.Delivery) bool { return d.CorrelationId == corr && d.ReplyTo == "" })
	var reg struct {
		Status, Name, Version, UUID string
		Error                       any
	}
	if err := json.Unmarshal(d.Body, &reg); err != nil {
		t.Fatalf("register reply is not JSON: %v: %s", err, d.Body)
	}
	if reg.Status != "OK" || reg.Name != name || reg.UUID == "" || reg.Error != nil || d.AppId != "son-plugin.SonPluginManager" {
		t.Fatalf("register reply from %s: %s", d.AppId, d.Body)
	}
	next(t, statuses, "status broadcast naming the plugin", func(d amqp091.Delivery) bool {
		var st struct {
			PluginDict map[string]map[string]any `json:"plugin_dict"`
		}
		return json.Unmarshal(d.Body, &st) == nil && st.PluginDict[reg.UUID]["state"] == "REGISTERED"
	})

	lifecycle := plainConsumer(t, conn, "platform.management.plugin."+reg.UUID+".lifecycle.*")
	heartbeat := "platform.management.plugin." + reg.UUID + ".heartbeat"
	publish(heartbeat, "", "", map[string]any{"uuid": reg.UUID, "state": "READY"})
	d = next(t, lifecycle, "lifecycle.start", func(d amqp091.Delivery) bool { return strings.HasSuffix(d.RoutingKey, ".lifecycle.start") })
	if strings.TrimSpace(string(d.Body)) != "{}" || d.ReplyTo != "" {
		t.Fatalf("lifecycle.start body %q reply_to %q, want {} without reply_to", d.Body, d.ReplyTo)
	}
	publish(heartbeat, "", "", map[string]any{"uuid": reg.UUID, "state": "RUNNING"})
	next(t, statuses, "status broadcast with RUNNING", func(d amqp091.Delivery) bool {
		var st struct {
			PluginDict map[string]map[string]any `json:"plugin_dict"`
		}
		return json.Unmarshal(d.Body, &st) == nil && st.PluginDict[reg.UUID]["state"] == "RUNNING"
	})
	out := runCLI(t, "get", "plugins", "--broker", p.url, "-o", "json")
	if !strings.Contains(out, reg.UUID) || !strings.Contains(out, name) {
		t.Fatalf("manoctl get plugins --broker does not list the plugin:\n%s", out)
	}

	// son-pm-cli's lifecycle-pause, through the CLI and the daemon.
	// --wait 0: this plugin never reports PAUSED; son-pm-cli only sent.
	runCLI(t, "plugins", "pause", reg.UUID, "--broker", p.url, "--wait", "0")
	d = next(t, lifecycle, "lifecycle.pause", func(d amqp091.Delivery) bool { return strings.HasSuffix(d.RoutingKey, ".lifecycle.pause") })
	if d.AppId != "son-plugin.SonPluginManager" {
		t.Errorf("lifecycle.pause from %q", d.AppId)
	}

	// Deregistration is a JSON notify.
	publish("platform.management.plugin.deregister", "", "", map[string]any{"uuid": reg.UUID})
	next(t, statuses, "status broadcast without the plugin", func(d amqp091.Delivery) bool {
		var st struct {
			PluginDict map[string]map[string]any `json:"plugin_dict"`
		}
		return json.Unmarshal(d.Body, &st) == nil && st.PluginDict[reg.UUID] == nil
	})
}
