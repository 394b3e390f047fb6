// Package bus is the message-bus port of manoctl: the envelope every SONATA
// component exchanges, the Bus interface that transports implement (the
// in-process adapters/membus and the RabbitMQ adapters/amqp), the topic names
// and app ids of the 2017 protocol, the per-topic body codec, and the
// request/reply Endpoint that MANO plugins use.
//
// The wire contract is spec/wire-protocol.md. The rules that shape this
// package:
//
//   - A request is a message with reply_to set (always to the request topic);
//     the reply travels on that same topic with the request's correlation id
//     and no reply_to (§1.6). Every party subscribed to a topic therefore sees
//     requests and replies alike and filters them (§1.7).
//   - Absent and empty AMQP properties mean the same thing (§1.5).
//   - Bodies are parsed as YAML (JSON is accepted as the subset it is) and
//     emitted as the original emitted them on each topic (§1.8).
//
// Transports do not interpret messages: self-filtering by app_id, request
// matching and timeouts live in Endpoint, so that they behave identically on
// every transport.
package bus
