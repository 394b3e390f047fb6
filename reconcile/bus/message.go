package bus

import (
	"fmt"
	"reflect"
	"time"
)

// Message is one message on the exchange, with the AMQP properties that the
// SONATA components read or write (wire-protocol §1.4). An empty string
// stands for an absent property.
type Message struct {
	// Topic is the routing key.
	Topic string
	// AppID names the sender; peers drop their own echoes by it (§1.7).
	AppID string
	// CorrelationID ties replies and status notifications to a request.
	CorrelationID string
	// ReplyTo is set on requests only, always to the request topic.
	ReplyTo string
	// ContentType is informational: the originals label YAML bodies
	// application/json.
	ContentType string
	// Headers is the AMQP header table; nobody reads it, the Python library
	// writes {key, type}. Like Payload it may be shared: never modify it
	// in place (Clone first).
	Headers map[string]any

	// Payload is the body as a Go value. On the in-process bus it is the
	// value the sender published (a typed payload struct, a map, ...); on
	// AMQP it is nil until the receiver decodes Body. It is shared between
	// subscribers and must not be modified after Publish.
	Payload any
	// Body is the encoded body. It is nil for in-process messages, which
	// are never serialised.
	Body []byte

	// Vhost is the virtual host the message travelled on; informational.
	Vhost string
	// Time is when the transport accepted or delivered the message.
	Time time.Time
	// Persistent asks the transport for delivery_mode 2 (§14.1 T9).
	Persistent bool
}

// IsRequest reports whether the message expects a reply (reply_to set).
func (m *Message) IsRequest() bool { return m.ReplyTo != "" }

// Decode stores the body in v, which must be a non-nil pointer.
//
// When the message carries an in-process Payload of v's element type (or a
// pointer to it), Decode assigns it without copying nested maps and slices,
// so the result is read-only like the Payload itself. Any other Payload is
// converted through the codec, and wire messages decode Body.
func (m *Message) Decode(v any) error {
	if m.Payload != nil {
		if assign(v, m.Payload) {
			return nil
		}
		if err := convert(m.Payload, v); err != nil {
			return fmt.Errorf("bus: decode %s payload %T: %w", m.Topic, m.Payload, err)
		}
		return nil
	}
	if err := Unmarshal(m.Body, v); err != nil {
		return fmt.Errorf("bus: decode %s body: %w", m.Topic, err)
	}
	return nil
}

// assign sets *v = payload when the types line up.
func assign(v, payload any) bool {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return false
	}
	dst := rv.Elem()
	pv := reflect.ValueOf(payload)
	switch {
	case pv.Type() == dst.Type():
		dst.Set(pv)
		return true
	case pv.Kind() == reflect.Pointer && !pv.IsNil() && pv.Elem().Type() == dst.Type():
		dst.Set(pv.Elem())
		return true
	}
	return false
}

// Size returns the encoded body size, encoding the Payload if needed. It is
// meant for observers (traffic views, metrics), not for the hot path.
func (m *Message) Size() int {
	if m.Body != nil {
		return len(m.Body)
	}
	if m.Payload == nil {
		return 0
	}
	b, _, err := Encode(m.Topic, m.IsRequest(), m.Payload)
	if err != nil {
		return 0
	}
	return len(b)
}

// Clone returns a shallow copy of m with its own Headers map.
func (m *Message) Clone() *Message {
	c := *m
	if m.Headers != nil {
		c.Headers = make(map[string]any, len(m.Headers))
		for k, v := range m.Headers {
			c.Headers[k] = v
		}
	}
	return &c
}
