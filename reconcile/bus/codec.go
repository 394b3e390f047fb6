package bus

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// Encoding is a body format.
type Encoding uint8

const (
	// YAML is what the Python plugins emit on almost every topic (PyYAML
	// yaml.dump), and what every Python reader parses.
	YAML Encoding = iota
	// JSON is required where the reader calls json.loads or org.json: the
	// plugin-manager protocol and several IA topics (wire-protocol §1.8).
	JSON
)

// Content types written on the wire. They are informational only; the
// Python library labels YAML bodies application/json, and so does manoctl
// for messages that stand in for a Python plugin.
const (
	ContentTypeJSON = "application/json"
	ContentTypeYAML = "application/x-yaml"
)

func (e Encoding) String() string {
	if e == JSON {
		return "json"
	}
	return "yaml"
}

// EncodingFor returns the body format the original components write on
// topic, for a request (reply_to set) or for a reply or notification.
func EncodingFor(topic string, request bool) Encoding {
	switch {
	case strings.HasPrefix(topic, "platform.management.plugin."):
		return JSON
	case topic == "son.monitoring":
		return JSON
	case strings.HasPrefix(topic, "manoctl."):
		// manoctl's own control protocol (reconcile/control).
		return JSON
	case strings.HasPrefix(topic, "infrastructure.management."):
		// *.add and *.remove are JSON both ways; list replies are data
		// (YAML); resourceAvailability answers YAML.
		if strings.HasSuffix(topic, ".add") || strings.HasSuffix(topic, ".remove") {
			return JSON
		}
		return YAML
	case strings.HasPrefix(topic, "infrastructure.wan."):
		if strings.HasSuffix(topic, ".list") {
			if request {
				return JSON
			}
			return YAML
		}
		return JSON
	case topic == TopicIAServiceRemove, topic == TopicIAChainDeconfigure:
		return JSON
	case topic == TopicIAFunctionDeploy:
		return YAML // the deploy reply carries the VNFR as YAML data
	case strings.HasPrefix(topic, "infrastructure."):
		// Other IA requests are YAML; their status replies are JSON.
		if request {
			return YAML
		}
		return JSON
	}
	return YAML
}

// Encode serialises payload for topic in the format the original writes,
// and returns the content type to label it with.
func Encode(topic string, request bool, payload any) ([]byte, string, error) {
	if EncodingFor(topic, request) == JSON {
		b, err := marshalJSON(payload)
		if err != nil {
			return nil, "", fmt.Errorf("bus: encode %s as json: %w", topic, err)
		}
		return b, ContentTypeJSON, nil
	}
	b, err := MarshalYAML(payload)
	if err != nil {
		return nil, "", fmt.Errorf("bus: encode %s as yaml: %w", topic, err)
	}
	return b, ContentTypeYAML, nil
}

// MarshalYAML emits v as YAML that a YAML 1.1 reader (PyYAML, Psych,
// SnakeYAML) parses back to the same values, written in YAML's JSON-
// compatible flow style: every key and string double-quoted, so nothing
// YAML 1.1 would resolve to a boolean, null or number is left bare
// (wire-protocol §14.1 T8), and receivers (manoctl's included) can parse
// it with a JSON fast path. PyYAML's yaml.dump chooses block or flow
// style per collection; readers see the same values either way, which is
// what conformance is judged by (§13). An empty mapping is written "{}",
// the SLM's compute.list body.
func MarshalYAML(v any) (b []byte, err error) {
	if isEmptyMap(v) {
		return []byte("{}"), nil
	}
	defer func() {
		// encoding/json panics on some values (a cyclic map, say); a
		// payload must never crash its sender.
		if r := recover(); r != nil {
			b, err = nil, fmt.Errorf("cannot encode %T: %v", v, r)
		}
	}()
	if b, ok := appendJSON(make([]byte, 0, 512), v, false); ok {
		return append(b, '\n'), nil // what json.Encoder.Encode writes
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func isEmptyMap(v any) bool {
	switch m := v.(type) {
	case map[string]any:
		return len(m) == 0
	case map[string]string:
		return len(m) == 0
	}
	return false
}

func marshalJSON(v any) (b []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			b, err = nil, fmt.Errorf("cannot encode %T: %v", v, r)
		}
	}()
	if b, ok := appendJSON(make([]byte, 0, 512), v, true); ok {
		return b, nil
	}
	return json.Marshal(v)
}

// MarshalJSONCompatible converts an arbitrary payload into bytes that
// Unmarshal reads back; it is the slow path of Message.Decode.
func MarshalJSONCompatible(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err == nil {
		return b, nil
	}
	return yaml.Marshal(v)
}

// MaxBodySize is the largest message body a receiver decodes (16 MiB, the
// descriptor file limit of schema.DefaultMaxFileSize). The biggest bodies
// of the protocol are create requests, an NSD plus its VNFDs: tens of KiB
// for real services. Decoding YAML costs many times the body's size in
// memory, so a larger body, which only a broken or hostile peer sends, is
// refused before it is parsed; the handler answers it as malformed
// ("body of N bytes exceeds the 16777216-byte limit"). Transports may
// carry bigger bodies (RabbitMQ's max_message_size is 128 MiB): this
// bound is the receivers'.
const MaxBodySize = 16 << 20

// ErrBodyTooLarge is wrapped by the error Unmarshal (and Message.Decode)
// return for a body over MaxBodySize.
var ErrBodyTooLarge = errors.New("message body too large")

// Unmarshal parses a body into v. Every body is YAML (wire-protocol §1.8);
// JSON bodies, which are the common case for status replies, take a
// faster JSON decoder and produce the same values a YAML decoder would.
// Bodies over MaxBodySize are refused with ErrBodyTooLarge. A decoder
// panic (yaml.v3 had several on malformed input) is returned as an
// error, so that the handler still answers the request as malformed.
func Unmarshal(body []byte, v any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the body decoder failed on this input: %v", r)
		}
	}()
	if len(body) > MaxBodySize {
		return fmt.Errorf("%w: body of %d bytes exceeds the %d-byte limit", ErrBodyTooLarge, len(body), MaxBodySize)
	}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return fmt.Errorf("empty body")
	}
	if trimmed[0] == '{' || trimmed[0] == '[' {
		// No json.Valid pass first: it would scan every body once more.
		if ok, err := unmarshalJSONOnly(trimmed, v); ok {
			return err
		}
	}
	if err := yaml.Unmarshal(body, v); err != nil {
		return err
	}
	return nil
}

// unmarshalJSONOnly decodes b (trimmed, opening with '{' or '[') as
// unmarshalJSON does when b is one JSON value and nothing else (ok), and
// reports not ok otherwise, for the YAML decoder to read b. A body that
// does not end with the closing bracket of its first byte is not one JSON
// value, and v is left untouched. A body that does, but holds more after
// its first value (`{"a": 1} # }`, rare), has been decoded into v by then:
// v is reset to its zero value for the YAML decoder.
func unmarshalJSONOnly(b []byte, v any) (ok bool, err error) {
	closer := byte('}')
	if b[0] == '[' {
		closer = ']'
	}
	if b[len(b)-1] != closer {
		return false, nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	err = dec.Decode(v)
	var se *json.SyntaxError
	if errors.As(err, &se) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		// The decoder checks the syntax of the whole value before it
		// assigns anything: v is untouched.
		return false, nil
	}
	if dec.InputOffset() != int64(len(b)) {
		// Something follows the first value: not JSON (json.Valid would
		// have said so). The first value may have been assigned, even
		// with a type error: the YAML decoder starts from a zero v.
		if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer && !rv.IsNil() {
			rv.Elem().SetZero()
		}
		return false, nil
	}
	if err != nil {
		return true, err // a JSON type error, as unmarshalJSON reports it
	}
	fixNumbers(v)
	return true, nil
}

// unmarshalJSON decodes JSON with YAML's number typing: integers become int,
// everything else float64, so generic values look the same whichever
// syntax the sender used.
func unmarshalJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	fixNumbers(v)
	return nil
}

func fixNumbers(v any) {
	switch p := v.(type) {
	case *any:
		*p = normaliseNumbers(*p)
	case *map[string]any:
		for k, x := range *p {
			(*p)[k] = normaliseNumbers(x)
		}
	case *[]any:
		for i, x := range *p {
			(*p)[i] = normaliseNumbers(x)
		}
	default:
		// Typed targets: encoding/json has already converted json.Number
		// into the field types; only `any` fields inside may still hold
		// json.Number. Walk them through reflection-free paths we know.
		normaliseStruct(v)
	}
}

func normaliseNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return int(i)
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = normaliseNumbers(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = normaliseNumbers(e)
		}
		return x
	}
	return v
}
