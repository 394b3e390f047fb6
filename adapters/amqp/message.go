package amqp

import (
	"fmt"
	"math"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/manoctl/manoctl/reconcile/bus"
)

// contentEncoding is what amqpstorm adds to every Python publish (§1.4).
const contentEncoding = "utf-8"

// maxMessageSize is RabbitMQ's default max_message_size (128 MiB).
const maxMessageSize = 128 << 20

// toPublishing maps a bus.Message to the AMQP properties and body of
// wire-protocol §1.4. Empty strings stay absent on the wire, as pamqp omits
// them. When Body is nil the Payload is encoded in the topic's format
// (§1.8), and content_type names that format unless the caller set one.
func toPublishing(m *bus.Message) (amqp091.Publishing, error) {
	body, contentType := m.Body, m.ContentType
	if body == nil && m.Payload != nil {
		b, ct, err := encode(m)
		if err != nil {
			return amqp091.Publishing{}, err
		}
		body = b
		if contentType == "" {
			contentType = ct
		}
	}
	if len(body) > maxMessageSize {
		// The broker would close the publisher channel, and every
		// re-publish would do it again.
		return amqp091.Publishing{}, fmt.Errorf("amqp: %s body of %d bytes exceeds the broker's limit of %d", m.Topic, len(body), maxMessageSize)
	}
	headers, err := toTable(m.Headers)
	if err != nil {
		return amqp091.Publishing{}, fmt.Errorf("amqp: headers of %s: %w", m.Topic, err)
	}
	p := amqp091.Publishing{
		Headers:         headers,
		ContentType:     contentType,
		ContentEncoding: contentEncoding,
		CorrelationId:   m.CorrelationID,
		ReplyTo:         m.ReplyTo,
		AppId:           m.AppID,
		Body:            body,
	}
	if m.Persistent {
		p.DeliveryMode = amqp091.Persistent // delivery_mode 2 (§14.1 T9)
	}
	return p, nil
}

// encode encodes m.Payload for its topic. yaml.v3 panics on values it
// cannot represent (funcs, channels); that is the caller's bad input, not
// a reason to crash the process.
func encode(m *bus.Message) (b []byte, contentType string, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("bus: encode %s payload %T: %v", m.Topic, m.Payload, r)
		}
	}()
	return bus.Encode(m.Topic, m.IsRequest(), m.Payload)
}

// fromDelivery maps a delivery to a bus.Message. Absent and empty
// properties are the same (§1.5): both are "". Body is set, never nil, and
// Payload is nil: receivers Decode.
func fromDelivery(d *amqp091.Delivery, vhost string) *bus.Message {
	body := d.Body
	if body == nil {
		body = []byte{}
	}
	return &bus.Message{
		Topic:         d.RoutingKey,
		AppID:         d.AppId,
		CorrelationID: d.CorrelationId,
		ReplyTo:       d.ReplyTo,
		ContentType:   d.ContentType,
		Headers:       fromTable(d.Headers),
		Body:          body,
		Vhost:         vhost,
		Time:          time.Now(),
		Persistent:    d.DeliveryMode == amqp091.Persistent,
	}
}

// toTable converts header values to AMQP field values: maps become tables,
// slices field arrays, and unsigned integers int64 when they fit.
func toTable(h map[string]any) (amqp091.Table, error) {
	if len(h) == 0 {
		return nil, nil
	}
	t := make(amqp091.Table, len(h))
	for k, v := range h {
		fv, err := toField(v)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", k, err)
		}
		t[k] = fv
	}
	return t, nil
}

func toField(v any) (any, error) {
	switch x := v.(type) {
	case nil, bool, int8, int16, int32, int64, int, uint8, uint16, uint32, float32, float64, string, []byte, time.Time, amqp091.Decimal:
		return x, nil
	case uint:
		return toUint(uint64(x))
	case uint64:
		return toUint(x)
	case map[string]any:
		return toTable(x)
	case amqp091.Table:
		return toTable(x)
	case map[string]string:
		t := make(amqp091.Table, len(x))
		for k, s := range x {
			t[k] = s
		}
		return t, nil
	case []string:
		a := make([]any, len(x))
		for i, s := range x {
			a[i] = s
		}
		return a, nil
	case []any:
		a := make([]any, len(x))
		for i, e := range x {
			fv, err := toField(e)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			a[i] = fv
		}
		return a, nil
	}
	return nil, fmt.Errorf("type %T is not an AMQP field value", v)
}

func toUint(u uint64) (any, error) {
	if u > math.MaxInt64 {
		return nil, fmt.Errorf("%d does not fit an AMQP integer", u)
	}
	return int64(u), nil
}

// fromTable converts received headers to plain Go values, the same kinds a
// YAML decoder yields: integers become int, float32 float64, tables
// map[string]any. An absent or empty table is nil.
func fromTable(t amqp091.Table) map[string]any {
	if len(t) == 0 {
		return nil
	}
	m := make(map[string]any, len(t))
	for k, v := range t {
		m[k] = fromField(v)
	}
	return m
}

func fromField(v any) any {
	switch x := v.(type) {
	case int8:
		return int(x)
	case uint8:
		return int(x)
	case int16:
		return int(x)
	case uint16:
		return int(x)
	case int32:
		return int(x)
	case uint32:
		return int(x)
	case int64:
		return int(x)
	case float32:
		return float64(x)
	case amqp091.Table:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = fromField(e)
		}
		return m
	case []any:
		a := make([]any, len(x))
		for i, e := range x {
			a[i] = fromField(e)
		}
		return a
	}
	return v
}
