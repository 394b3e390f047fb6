package amqp_test

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/manoctl/manoctl/adapters/amqp"
	"github.com/manoctl/manoctl/adapters/amqp/amqptest"
	"github.com/manoctl/manoctl/reconcile/bus"
	"github.com/manoctl/manoctl/reconcile/bus/bustest"
)

// The exchange is declared exactly as the originals declare it (§1.2): a
// second client declaring it with the original flags gets no
// PRECONDITION_FAILED, and one declaring it durable does.
func TestExchangeDeclaredLikeTheOriginal(t *testing.T) {
	amqptest.Require(t)
	vhost := amqptest.Vhost(t)
	cfg := amqptest.Config(t, vhost)
	b := dial(t, cfg)
	if b.Exchange() != cfg.Exchange || b.Vhost() != vhost {
		t.Fatalf("exchange %q vhost %q", b.Exchange(), b.Vhost())
	}
	plain := amqptest.Dial(t, vhost)

	ch, err := plain.Channel()
	if err != nil {
		t.Fatal(err)
	}
	err = ch.ExchangeDeclarePassive(cfg.Exchange, "topic",
		false, // durable
		false, // autoDelete
		false, // internal
		false, // noWait
		nil)
	if err != nil {
		t.Fatalf("passive declare: %v", err)
	}
	// What son-mano-base (amqpstorm defaults), the gatekeeper and the IA do.
	err = ch.ExchangeDeclare(cfg.Exchange, "topic",
		false, // durable: as the originals
		false, // autoDelete: as the originals
		false, // internal
		false, // noWait
		nil)
	if err != nil {
		t.Fatalf("declare with the original flags: %v", err)
	}
	err = ch.ExchangeDeclare(cfg.Exchange, "topic",
		true,  // durable: not what manoctl declared
		false, // autoDelete
		false, // internal
		false, // noWait
		nil)
	var ae *amqp091.Error
	if !errors.As(err, &ae) || ae.Code != amqp091.PreconditionFailed {
		t.Fatalf("declaring it durable: %v, want PRECONDITION_FAILED (so it is non-durable)", err)
	}

	// The other way round: an exchange of that name declared otherwise
	// (durable here) makes Dial fail at once, with the broker's reason.
	other := amqptest.Exchange(t, vhost)
	ch, err = plain.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.ExchangeDeclare(other, "topic",
		true,  // durable: not as the originals
		false, // autoDelete
		false, // internal
		false, // noWait
		nil); err != nil {
		t.Fatal(err)
	}
	cfg.Exchange = other
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	_, err = amqp.Dial(ctx, cfg)
	if err == nil || ctx.Err() != nil || !strings.Contains(err.Error(), "PRECONDITION_FAILED") {
		t.Fatalf("dial with a mismatched exchange: %v", err)
	}
}

// Private queues are q.<topic>.<uuid>, exclusive, and deleted by
// Unsubscribe; shared queues carry the manoctl. prefix and are durable
// (§1.3, §14.1 T1, T2).
func TestQueueNamesAndFlags(t *testing.T) {
	amqptest.Require(t)
	vhost := amqptest.Vhost(t)
	b := dial(t, amqptest.Config(t, vhost))
	plain := amqptest.Dial(t, vhost)
	noop := func(context.Context, *bus.Message) {}

	private := subscribe(t, b, "service.instances.create", noop).(*amqp.Subscription)
	name := private.Queue()
	if !regexp.MustCompile(`^q\.service\.instances\.create\.[0-9a-f-]{36}$`).MatchString(name) {
		t.Fatalf("private queue name %q", name)
	}
	ch, _ := plain.Channel()
	_, err := ch.QueueDeclarePassive(name,
		false, // durable
		true,  // autoDelete
		true,  // exclusive
		false, // noWait
		nil)
	var ae *amqp091.Error
	if !errors.As(err, &ae) || ae.Code != amqp091.ResourceLocked {
		t.Fatalf("passive declare of another connection's private queue: %v, want RESOURCE_LOCKED (exclusive)", err)
	}

	shared := subscribe(t, b, "service.instances.create", noop, bus.WithQueue("slm.service.instances.create")).(*amqp.Subscription)
	if got := shared.Queue(); got != "manoctl.slm.service.instances.create" {
		t.Fatalf("shared queue name %q", got)
	}
	ch, _ = plain.Channel()
	if _, err := ch.QueueDeclare(shared.Queue(),
		true,  // durable: matches, so no error
		false, // autoDelete
		false, // exclusive
		false, // noWait
		nil); err != nil {
		t.Fatalf("declare the shared queue durable: %v", err)
	}
	if err := shared.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclarePassive(shared.Queue(),
		true,  // durable
		false, // autoDelete
		false, // exclusive
		false, // noWait
		nil); err != nil {
		t.Fatalf("shared queue gone after its last subscriber left: %v", err)
	}

	if err := private.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	ch, _ = plain.Channel()
	_, err = ch.QueueDeclarePassive(name,
		false, // durable
		true,  // autoDelete
		true,  // exclusive
		false, // noWait
		nil)
	if !errors.As(err, &ae) || ae.Code != amqp091.NotFound {
		t.Fatalf("private queue after Unsubscribe: %v, want NOT_FOUND", err)
	}

	// A pattern too long for q.<pattern>.<uuid> still gets a valid name;
	// one too long for a binding key is refused at once.
	long := strings.Repeat("w.", 124) + "#"
	s := subscribe(t, b, long, noop).(*amqp.Subscription)
	if n := len(s.Queue()); n > 255 {
		t.Fatalf("queue name of %d bytes", n)
	}
	if _, err := b.Subscribe(context.Background(), long+".toolong", noop); err == nil {
		t.Fatal("a binding key over 255 bytes was accepted")
	}
}

// A plain amqp091 client standing in for a Python plugin: what it sees of
// manoctl's messages, and how manoctl reads its messages, properties
// absent or not (§1.4, §1.5).
func TestInteropWithPlainClient(t *testing.T) {
	amqptest.Require(t)
	vhost := amqptest.Vhost(t)
	cfg := amqptest.Config(t, vhost)
	b := dial(t, cfg)
	plain := amqptest.Dial(t, vhost)
	ch, err := plain.Channel()
	if err != nil {
		t.Fatal(err)
	}
	q, err := ch.QueueDeclare("",
		false, // durable
		true,  // autoDelete
		true,  // exclusive
		false, // noWait
		nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.QueueBind(q.Name, "#", cfg.Exchange, false /* noWait */, nil); err != nil {
		t.Fatal(err)
	}
	deliveries, err := ch.Consume(q.Name, "",
		true,  // autoAck: a tap
		false, // exclusive
		false, // noLocal
		false, // noWait
		nil)
	if err != nil {
		t.Fatal(err)
	}
	// next returns the tap's next delivery, skipping the plain client's
	// own publishes.
	next := func() amqp091.Delivery {
		t.Helper()
		for {
			select {
			case d := <-deliveries:
				if !strings.HasPrefix(d.RoutingKey, "plain.") {
					return d
				}
			case <-time.After(patience):
				t.Fatal("plain client received nothing")
			}
		}
	}

	// What manoctl puts on the wire.
	publish(t, b, &bus.Message{Topic: "service.instances.create", AppID: bus.AppSLM, CorrelationID: "c-1",
		Payload: map[string]any{"status": "READY"}})
	d := next()
	if d.AppId != bus.AppSLM || d.CorrelationId != "c-1" || d.ReplyTo != "" || d.ContentEncoding != "utf-8" ||
		d.ContentType != bus.ContentTypeYAML || d.DeliveryMode != 0 || d.Exchange != cfg.Exchange {
		t.Fatalf("notification on the wire: %+v", d)
	}
	if !yamlEquals(d.Body, map[string]any{"status": "READY"}) {
		t.Fatalf("YAML body %q", d.Body)
	}
	publish(t, b, &bus.Message{Topic: bus.TopicPluginRegister, AppID: "x", ReplyTo: bus.TopicPluginRegister, CorrelationID: "c-2",
		ContentType: bus.ContentTypeJSON, Persistent: true, Headers: map[string]any{"key": "default", "type": "request"},
		Payload: map[string]any{"name": "p", "version": "1"}})
	d = next()
	if d.ReplyTo != bus.TopicPluginRegister || d.DeliveryMode != amqp091.Persistent || d.ContentType != bus.ContentTypeJSON ||
		d.Headers["key"] != "default" || d.Headers["type"] != "request" {
		t.Fatalf("request on the wire: %+v", d)
	}
	if string(d.Body) != `{"name":"p","version":"1"}` {
		t.Fatalf("the plugin-manager protocol is JSON: %q", d.Body)
	}
	publish(t, b, &bus.Message{Topic: "raw.body", Body: []byte("a: 1\n")})
	if d = next(); string(d.Body) != "a: 1\n" || d.ContentType != "" {
		t.Fatalf("raw body: %q content type %q", d.Body, d.ContentType)
	}

	// What manoctl reads: a bare Python-style publish, no properties.
	r := bustest.NewRecorder()
	subscribe(t, b, "plain.#", r.Handle)
	pubPlain := func(key string, p amqp091.Publishing) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), patience)
		defer cancel()
		if err := ch.PublishWithContext(ctx, cfg.Exchange, key,
			false, // mandatory
			false, // immediate
			p); err != nil {
			t.Fatal(err)
		}
	}
	pubPlain("plain.bare", amqp091.Publishing{Body: []byte("seq: 1\n")})
	pubPlain("plain.empty", amqp091.Publishing{Headers: amqp091.Table{}, Body: nil})
	msgs := r.WaitN(t, 2)
	for _, m := range msgs {
		if m.AppID != "" || m.CorrelationID != "" || m.ReplyTo != "" || m.ContentType != "" || len(m.Headers) != 0 || m.Persistent {
			t.Fatalf("%s: absent properties must read empty: %+v", m.Topic, m)
		}
		if m.Payload != nil || m.Body == nil || m.Vhost != vhost {
			t.Fatalf("%s: received messages carry Body, not Payload: %+v", m.Topic, m)
		}
	}
	var v struct{ Seq int }
	if err := msgs[0].Decode(&v); err != nil || v.Seq != 1 {
		t.Fatalf("decode %q: %v %+v", msgs[0].Body, err, v)
	}
	if err := msgs[1].Decode(&v); err == nil {
		t.Fatal("an empty body decoded without error")
	}

	// A Python-style call_async to a manoctl endpoint: reply on the
	// request topic, same correlation id, no reply_to.
	srv := bus.NewEndpoint(b, bus.AppPlacement)
	defer srv.Close()
	_, err = srv.Handle(context.Background(), bus.TopicServicePlace, bus.SkipOwn|bus.RequestsOnly, func(ctx context.Context, m *bus.Message) {
		if err := srv.Reply(ctx, m, map[string]any{"mapping": nil}); err != nil {
			t.Error(err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	pubPlain(bus.TopicServicePlace, amqp091.Publishing{AppId: bus.AppSLM, ReplyTo: bus.TopicServicePlace,
		CorrelationId: "py-1", ContentType: "application/json", Body: []byte("nsd: {}\n")})
	if d = next(); d.CorrelationId != "py-1" || d.AppId != bus.AppSLM {
		t.Fatalf("tap saw %+v first, want the request", d)
	}
	d = next()
	if d.RoutingKey != bus.TopicServicePlace || d.CorrelationId != "py-1" || d.ReplyTo != "" || d.AppId != bus.AppPlacement {
		t.Fatalf("reply on the wire: %+v", d)
	}
	if d.Headers["type"] != "reply" || d.ContentType != "application/json" {
		t.Fatalf("reply headers %v content type %q", d.Headers, d.ContentType)
	}
}

// Requests are published mandatory: an unroutable one is returned and
// reported, but Publish still succeeds, as on the other transports.
func TestUnroutableRequestIsReported(t *testing.T) {
	amqptest.Require(t)
	vhost := amqptest.Vhost(t)
	cfg := amqptest.Config(t, vhost)
	events := newEventLog()
	cfg.OnEvent = events.on
	b := dial(t, cfg)
	publish(t, b, &bus.Message{Topic: "nobody.listens", ReplyTo: "nobody.listens", CorrelationID: "lost-1", AppID: "manoctl"})
	publish(t, b, &bus.Message{Topic: "nobody.listens", CorrelationID: "note-1", AppID: "manoctl"})
	events.wait(t, amqp.EventReturned, 1)
	// Returns arrive before the confirm of their message, so by now the
	// notification's fate is known too: it was not mandatory.
	for _, e := range events.events() {
		if e.Kind == amqp.EventReturned && (e.CorrelationID != "lost-1" || e.Topic != "nobody.listens" || e.AppID != "manoctl") {
			t.Fatalf("returned event %+v", e)
		}
	}
	waitStats(t, b, "one return, two confirms", func(st amqp.Stats) bool {
		return st.Returned == 1 && st.Confirmed == 2 && st.Published == 2
	})
}

// Connecting to a vhost that does not exist fails at once with
// bus.ErrNoVhost; bad credentials fail at once, and never show the
// password; a malformed URL does not quote it either.
func TestConnectErrors(t *testing.T) {
	amqptest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()

	_, err := amqp.NewConnector(amqp.Config{URL: amqptest.URL()}).Connect(ctx, "manoctl-no-such-vhost")
	if !errors.Is(err, bus.ErrNoVhost) {
		t.Fatalf("missing vhost: %v", err)
	}

	const secret = "s3cr3t-Pa55"
	wrong := strings.Replace(amqptest.URL(), "guest:guest@", "guest:"+secret+"@", 1)
	events := newEventLog()
	_, err = amqp.Dial(ctx, amqp.Config{URL: wrong, OnEvent: events.on})
	if err == nil {
		t.Fatal("dial with a wrong password succeeded")
	}
	if ctx.Err() != nil {
		t.Fatal("bad credentials were retried until the context ended")
	}
	if strings.Contains(err.Error(), secret) {
		t.Fatalf("error shows the password: %v", err)
	}
	if !strings.Contains(err.Error(), "xxxxx") {
		t.Fatalf("error should name the redacted broker URL: %v", err)
	}

	for _, bad := range []string{"amqp://guest:" + secret + "@local host:5672/", "amqp://guest:" + secret + "@localhost:99999/", "http://guest:" + secret + "@localhost/"} {
		_, err := amqp.Dial(ctx, amqp.Config{URL: bad})
		if err == nil || strings.Contains(err.Error(), secret) {
			t.Fatalf("malformed URL: %v", err)
		}
	}

	// Nothing listening: retried until the context ends, then reported
	// without the password.
	short, cancel2 := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel2()
	var logs strings.Builder
	var logMu sync.Mutex
	logger := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		logMu.Lock()
		defer logMu.Unlock()
		return logs.Write(p)
	}), nil))
	_, err = amqp.Dial(short, amqp.Config{URL: "amqp://guest:" + secret + "@127.0.0.1:1/", Logger: logger, OnEvent: events.on})
	if !errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), secret) {
		t.Fatalf("unreachable broker: %v", err)
	}
	logMu.Lock()
	defer logMu.Unlock()
	if !strings.Contains(logs.String(), "retrying") || strings.Contains(logs.String(), secret) {
		t.Fatalf("logs of the retries must name the broker without its password:\n%s", logs.String())
	}
	for _, e := range events.events() {
		if strings.Contains(e.Broker, secret) || (e.Err != nil && strings.Contains(e.Err.Error(), secret)) {
			t.Fatalf("event shows the password: %+v", e)
		}
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// amqps:// works: here through a TLS-terminating relay with a self-signed
// certificate, since the test broker has no TLS listener.
func TestTLS(t *testing.T) {
	amqptest.Require(t)
	vhost := amqptest.Vhost(t)
	cert, pool := selfSigned(t)
	p := startProxy(t, brokerAddr(t, amqptest.URL()), &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	cfg := amqptest.Config(t, vhost)
	url, err := amqp.URLWithVhost("amqps://guest:guest@"+p.addr()+"/", vhost)
	if err != nil {
		t.Fatal(err)
	}
	tlsConfig := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	cfg.URL, cfg.TLS = url, tlsConfig
	b := dial(t, cfg)
	if tlsConfig.ServerName != "" {
		t.Fatal("the caller's tls.Config was modified")
	}
	r := bustest.NewRecorder()
	subscribe(t, b, "tls.t", r.Handle)
	publish(t, b, &bus.Message{Topic: "tls.t", Payload: map[string]any{"ok": true}})
	r.WaitN(t, 1)

	// Without the CA the handshake fails: TLS is really in use.
	cfg.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := amqp.Dial(ctx, cfg); err == nil {
		t.Fatal("amqps with an untrusted certificate connected")
	}
}

// yamlEquals reports whether body parses as YAML to want: bodies are
// judged by value, not bytes (wire-protocol §13).
func yamlEquals(body []byte, want any) bool {
	var got any
	if err := yaml.Unmarshal(body, &got); err != nil {
		return false
	}
	return reflect.DeepEqual(got, want)
}
