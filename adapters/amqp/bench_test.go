package amqp_test

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/manoctl/manoctl/adapters/amqp"
	"github.com/manoctl/manoctl/adapters/amqp/amqptest"
	"github.com/manoctl/manoctl/reconcile/bus"
)

func benchBus(b *testing.B, cfg amqp.Config) *amqp.Bus {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	cfg.Logger = nil
	bb, err := amqp.Dial(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { bb.Close() })
	return bb
}

// Publish to deliver over the broker, one publisher waiting for each
// confirm, one consumer on another connection.
func BenchmarkPublishDeliver(b *testing.B) {
	amqptest.Require(b)
	vhost := amqptest.Vhost(b)
	cfg := amqptest.Config(b, vhost)
	pub, sub := benchBus(b, cfg), benchBus(b, cfg)
	benchPublishDeliver(b, pub, sub, 1)
}

// The same with 64 concurrent publishers, so that confirms pipeline (up to
// MaxPendingConfirms in flight).
func BenchmarkPublishDeliverParallel(b *testing.B) {
	amqptest.Require(b)
	vhost := amqptest.Vhost(b)
	cfg := amqptest.Config(b, vhost)
	pub, sub := benchBus(b, cfg), benchBus(b, cfg)
	benchPublishDeliver(b, pub, sub, 64)
}

func benchPublishDeliver(b *testing.B, pub, sub *amqp.Bus, publishers int) {
	ctx := context.Background()
	var n atomic.Int64
	done := make(chan struct{})
	var target atomic.Int64
	target.Store(-1)
	s, err := sub.Subscribe(ctx, "bench.t", func(context.Context, *bus.Message) {
		if n.Add(1) == target.Load() {
			close(done)
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Unsubscribe()
	msg := &bus.Message{Topic: "bench.t", AppID: "bench", CorrelationID: "c", Body: []byte("seq: 1\n")}
	b.ReportAllocs()
	b.ResetTimer()
	target.Store(int64(b.N))
	start := time.Now()
	if publishers == 1 {
		for range b.N {
			if err := pub.Publish(ctx, msg); err != nil {
				b.Fatal(err)
			}
		}
	} else {
		var next atomic.Int64
		errs := make(chan error, publishers)
		for range publishers {
			go func() {
				for next.Add(1) <= int64(b.N) {
					if err := pub.Publish(ctx, msg); err != nil {
						errs <- err
						return
					}
				}
				errs <- nil
			}()
		}
		for range publishers {
			if err := <-errs; err != nil {
				b.Fatal(err)
			}
		}
	}
	if n.Load() < int64(b.N) {
		<-done
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}

// Request/reply round trips through bus.Endpoint over the broker: the
// client and the server on separate connections, each request waiting for
// its reply. p50 and p99 are reported in milliseconds.
func BenchmarkRequestReply(b *testing.B) {
	amqptest.Require(b)
	vhost := amqptest.Vhost(b)
	cfg := amqptest.Config(b, vhost)
	server, client := benchBus(b, cfg), benchBus(b, cfg)
	ctx := context.Background()
	srv := bus.NewEndpoint(server, "bench.server")
	defer srv.Close()
	if _, err := srv.Handle(ctx, "bench.rr", bus.SkipOwn|bus.RequestsOnly, func(ctx context.Context, m *bus.Message) {
		if err := srv.Reply(ctx, m, map[string]any{"status": "COMPLETED"}); err != nil {
			b.Error(err)
		}
	}); err != nil {
		b.Fatal(err)
	}
	cl := bus.NewEndpoint(client, "bench.client")
	defer cl.Close()
	payload := map[string]any{"instance_uuid": "4f9b2b5a-8c3e-4f0e-9a55-0d7c2e4b1f00"}
	// The first request subscribes the client to the reply topic.
	if _, err := cl.Request(ctx, "bench.rr", payload); err != nil {
		b.Fatal(err)
	}
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		if _, err := cl.Request(ctx, "bench.rr", payload); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	reportPercentiles(b, lat)
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	q := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Nanoseconds()) / 1e6
	}
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
}

// The floor under BenchmarkRequestReply on this machine: the same round
// trip with bare amqp091 (a confirmed publish each way, a consumer on each
// side, no bus layer, no YAML, no echo of the request to the requester).
func BenchmarkRawAMQP091RoundTrip(b *testing.B) { benchRawRoundTrip(b, false) }

// The same with the topology of the SONATA protocol (wire-protocol §1.6),
// which BenchmarkRequestReply cannot avoid: the reply travels on the
// request topic, so requester and responder both bind that topic and each
// receives the request and the reply (and skips the one it does not
// want). The broker routes every message to two queues.
func BenchmarkRawAMQP091RoundTripEcho(b *testing.B) { benchRawRoundTrip(b, true) }

func benchRawRoundTrip(b *testing.B, echo bool) {
	amqptest.Require(b)
	vhost := amqptest.Vhost(b)
	const ex = "manoctl.bench.raw"
	reqKey, replyKey := "raw.req", "raw.reply"
	if echo {
		replyKey = reqKey
	}
	side := func(key string) (*amqp091.Channel, <-chan amqp091.Delivery) {
		c := amqptest.Dial(b, vhost)
		pub, err := c.Channel()
		if err != nil {
			b.Fatal(err)
		}
		if err := pub.ExchangeDeclare(ex, "topic",
			false, // durable: as son-kernel
			false, // autoDelete
			false, // internal
			false, // noWait
			nil); err != nil {
			b.Fatal(err)
		}
		if err := pub.Confirm(false); err != nil { // noWait=false
			b.Fatal(err)
		}
		sub, err := c.Channel()
		if err != nil {
			b.Fatal(err)
		}
		q, err := sub.QueueDeclare("",
			false, // durable
			true,  // autoDelete
			true,  // exclusive
			false, // noWait
			nil)
		if err != nil {
			b.Fatal(err)
		}
		if err := sub.QueueBind(q.Name, key, ex, false, nil); err != nil { // noWait=false
			b.Fatal(err)
		}
		d, err := sub.Consume(q.Name, "",
			false, // autoAck: ack after the reply, as the bus does
			false, // exclusive
			false, // noLocal
			false, // noWait
			nil)
		if err != nil {
			b.Fatal(err)
		}
		return pub, d
	}
	send := func(ch *amqp091.Channel, key string, request bool) {
		p := amqp091.Publishing{Body: []byte("status: COMPLETED\n"), DeliveryMode: amqp091.Persistent}
		if request {
			p.ReplyTo = key
		}
		dc, err := ch.PublishWithDeferredConfirm(ex, key,
			false, // mandatory
			false, // immediate
			p)
		if err != nil {
			b.Error(err)
			return
		}
		dc.Wait()
	}
	cpub, replies := side(replyKey)
	spub, requests := side(reqKey)
	go func() {
		for d := range requests {
			if d.ReplyTo != "" {
				send(spub, replyKey, false)
			}
			_ = d.Ack(false) // multiple=false
		}
	}()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		send(cpub, reqKey, true)
		for {
			d := <-replies
			_ = d.Ack(false) // multiple=false
			if d.ReplyTo == "" {
				break // the reply; with echo, the request came first
			}
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	reportPercentiles(b, lat)
}
