// Package amqp is manoctl's RabbitMQ transport: it implements the
// reconcile/bus port (bus.Bus, bus.Connector) over rabbitmq/amqp091-go and
// speaks the wire contract of spec/wire-protocol.md §1, so that the
// original SONATA gatekeeper, infrastructure adaptor, plugins and
// specific managers can share a broker with manoctl.
//
// # Wire contract
//
//   - Exchange: topic, non-durable, not auto-delete, not internal, named by
//     Config.Exchange, then broker_exchange, then son-kernel (§1.2).
//   - Broker: Config.URL, then broker_host, then
//     amqp://guest:guest@localhost:5672/%2F; the URL path is the vhost;
//     amqps:// uses TLS (§1.1).
//   - One queue per subscription: private queues are q.<topic>.<uuid4>,
//     exclusive; shared queues (bus.WithQueue) are durable and named with
//     the manoctl. prefix, never like a topic (§1.3, §14.1 T1, T2).
//     Subscribe returns after queue.bind-ok (T3). Manual ack after the
//     handler (batched with multiple=true: in order for one worker, the
//     handled prefix of the delivery tags for concurrent workers),
//     prefetch 100, one channel per subscription.
//   - Properties both ways (§1.4, §1.5): app_id, correlation_id, reply_to,
//     content_type, content_encoding utf-8, headers; absent and empty are
//     the same. Bodies: Message.Body, else Payload encoded per topic
//     (bus.Encode); received messages carry Body and a nil Payload.
//   - Persistent messages get delivery_mode 2; every publish waits for its
//     publisher confirm; requests are published mandatory (T3, T9).
//
// # Connections
//
// A Bus is one connection to one vhost, supervised: when it drops (broker
// restart, network, a forced close) the Bus reconnects with exponential
// backoff, re-declares the exchange, restores every live subscription and
// only then resumes publishing. Publishes wait during the outage (bounded
// by their context) and a publish whose confirm was lost is sent again with
// the same correlation id; handlers must be idempotent and replies are
// first-wins (bus.Endpoint). State changes are reported as Events and
// counted in Stats; credentials never appear in either, nor in errors or
// logs.
//
// # Virtual hosts
//
// A VhostManager creates and deletes the per-instance vhosts of specific
// managers, their user and permissions (§7.1, §14.6 M1, M7), through the
// RabbitMQ management HTTP API or, when that plugin is not enabled,
// rabbitmqctl.
package amqp
