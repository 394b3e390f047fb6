package bus

import (
	"encoding"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// appendJSON appends the JSON encoding of v to dst, byte for byte what
// encoding/json writes (json.Marshal when escapeHTML, an Encoder with
// SetEscapeHTML(false) otherwise, without its newline), and reports true.
// It covers what bus payloads are made of: generic documents (maps,
// slices, strings, numbers, booleans), and plain structs, pointers, maps
// and slices of them. It reports false, with dst's contents undefined,
// for anything else: a type with its own MarshalJSON or MarshalText
// (time.Time, json.Number, json.RawMessage), []byte, arrays, embedded
// struct fields, the string and omitzero tag options, non-string map
// keys, NaN and infinities, nesting past maxJSONDepth. The caller then
// encodes the whole value with encoding/json, which writes the same bytes
// or the same error.
//
// Bus traffic is mostly descriptors and records inside small structs;
// encoding/json spends most of its time on reflection over their
// map[string]any trees, which this encoder walks with a type switch.
func appendJSON(dst []byte, v any, escapeHTML bool) ([]byte, bool) {
	e := jsonEncoder{buf: dst, html: escapeHTML}
	ok := e.value(v, 0)
	return e.buf, ok
}

// maxJSONDepth bounds the nesting appendJSON follows; encoding/json
// handles deeper values (and detects cycles).
const maxJSONDepth = 500

type jsonEncoder struct {
	buf  []byte
	html bool
}

func (e *jsonEncoder) value(v any, depth int) bool {
	if depth > maxJSONDepth {
		return false
	}
	switch x := v.(type) {
	case nil:
		e.buf = append(e.buf, "null"...)
	case string:
		e.buf = appendJSONString(e.buf, x, e.html)
	case bool:
		e.buf = strconv.AppendBool(e.buf, x)
	case int:
		e.buf = strconv.AppendInt(e.buf, int64(x), 10)
	case int64:
		e.buf = strconv.AppendInt(e.buf, x, 10)
	case int32:
		e.buf = strconv.AppendInt(e.buf, int64(x), 10)
	case uint64:
		e.buf = strconv.AppendUint(e.buf, x, 10)
	case float64:
		return e.float(x, 64)
	case map[string]any:
		return e.mapAny(x, depth)
	case []any:
		return jsonList(e, x, depth, e.value)
	case []map[string]any:
		return jsonList(e, x, depth, e.mapAny)
	case []string:
		return jsonList(e, x, depth, e.str)
	case map[string]string:
		return jsonMap(e, x, depth, e.str)
	default:
		return e.reflect(reflect.ValueOf(v), depth)
	}
	return true
}

func (e *jsonEncoder) mapAny(m map[string]any, depth int) bool {
	return jsonMap(e, m, depth, e.value)
}

func (e *jsonEncoder) str(s string, _ int) bool {
	e.buf = appendJSONString(e.buf, s, e.html)
	return true
}

// jsonList writes xs as an array (null when nil), each element with el at
// depth+1.
func jsonList[T any](e *jsonEncoder, xs []T, depth int, el func(T, int) bool) bool {
	if xs == nil {
		e.buf = append(e.buf, "null"...)
		return true
	}
	e.buf = append(e.buf, '[')
	for i, x := range xs {
		if i > 0 {
			e.buf = append(e.buf, ',')
		}
		if !el(x, depth+1) {
			return false
		}
	}
	e.buf = append(e.buf, ']')
	return true
}

// jsonMap writes m as an object with sorted keys (null when nil), each
// value with el at depth+1.
func jsonMap[V any](e *jsonEncoder, m map[string]V, depth int, el func(V, int) bool) bool {
	if m == nil {
		e.buf = append(e.buf, "null"...)
		return true
	}
	e.buf = append(e.buf, '{')
	for i, k := range sortedKeys(m) {
		if i > 0 {
			e.buf = append(e.buf, ',')
		}
		e.buf = appendJSONString(e.buf, k, e.html)
		e.buf = append(e.buf, ':')
		if !el(m[k], depth+1) {
			return false
		}
	}
	e.buf = append(e.buf, '}')
	return true
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// float writes f as encoding/json does (ES6 number formatting).
func (e *jsonEncoder) float(f float64, bits int) bool {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return false
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 {
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	b := strconv.AppendFloat(e.buf, f, format, -1, bits)
	if format == 'e' {
		// e-09 becomes e-9
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	e.buf = b
	return true
}

// reflect encodes the values the type switch of value does not know.
func (e *jsonEncoder) reflect(rv reflect.Value, depth int) bool {
	if depth > maxJSONDepth {
		return false
	}
	if !rv.IsValid() {
		e.buf = append(e.buf, "null"...)
		return true
	}
	t := rv.Type()
	if t.Name() != "" && (t == jsonNumberType || hasOwnEncoding(t)) {
		return false // json.Number is written unquoted, after a syntax check
	}
	switch rv.Kind() {
	case reflect.String:
		e.buf = appendJSONString(e.buf, rv.String(), e.html)
	case reflect.Bool:
		e.buf = strconv.AppendBool(e.buf, rv.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		e.buf = strconv.AppendInt(e.buf, rv.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		e.buf = strconv.AppendUint(e.buf, rv.Uint(), 10)
	case reflect.Float32:
		return e.float(rv.Float(), 32)
	case reflect.Float64:
		return e.float(rv.Float(), 64)
	case reflect.Interface:
		if rv.IsNil() {
			e.buf = append(e.buf, "null"...)
			return true
		}
		return e.value(rv.Elem().Interface(), depth+1)
	case reflect.Pointer:
		if rv.IsNil() {
			e.buf = append(e.buf, "null"...)
			return true
		}
		return e.reflect(rv.Elem(), depth+1)
	case reflect.Map:
		if t.Key().Kind() != reflect.String || hasOwnEncoding(t.Key()) {
			return false
		}
		if rv.IsNil() {
			e.buf = append(e.buf, "null"...)
			return true
		}
		type kv struct {
			k string
			v reflect.Value
		}
		kvs := make([]kv, 0, rv.Len())
		for it := rv.MapRange(); it.Next(); {
			kvs = append(kvs, kv{it.Key().String(), it.Value()})
		}
		slices.SortFunc(kvs, func(a, b kv) int { return strings.Compare(a.k, b.k) })
		e.buf = append(e.buf, '{')
		for i, x := range kvs {
			if i > 0 {
				e.buf = append(e.buf, ',')
			}
			e.buf = appendJSONString(e.buf, x.k, e.html)
			e.buf = append(e.buf, ':')
			if !e.reflect(x.v, depth+1) {
				return false
			}
		}
		e.buf = append(e.buf, '}')
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return false // []byte is base64
		}
		if rv.IsNil() {
			e.buf = append(e.buf, "null"...)
			return true
		}
		e.buf = append(e.buf, '[')
		for i := range rv.Len() {
			if i > 0 {
				e.buf = append(e.buf, ',')
			}
			if !e.reflect(rv.Index(i), depth+1) {
				return false
			}
		}
		e.buf = append(e.buf, ']')
	case reflect.Struct:
		p := structPlanOf(t)
		if p == nil {
			return false
		}
		e.buf = append(e.buf, '{')
		first := true
		for _, f := range p.fields {
			fv := rv.Field(f.index)
			if f.omitEmpty && isEmptyJSONValue(fv) {
				continue
			}
			if !first {
				e.buf = append(e.buf, ',')
			}
			first = false
			e.buf = appendJSONString(e.buf, f.name, e.html)
			e.buf = append(e.buf, ':')
			if !e.reflect(fv, depth+1) {
				return false
			}
		}
		e.buf = append(e.buf, '}')
	default:
		return false // arrays, channels, functions, complex numbers
	}
	return true
}

// isEmptyJSONValue is encoding/json's test for omitempty.
func isEmptyJSONValue(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64,
		reflect.Interface, reflect.Pointer:
		return v.IsZero()
	}
	return false
}

var (
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
	ownEncoding       sync.Map // reflect.Type -> bool (jsonMarshalerType is convert.go's, jsonNumberType numbers.go's)
)

// hasOwnEncoding reports whether t (or *t) marshals itself.
func hasOwnEncoding(t reflect.Type) bool {
	if v, ok := ownEncoding.Load(t); ok {
		return v.(bool)
	}
	pt := reflect.PointerTo(t)
	own := t.Implements(jsonMarshalerType) || t.Implements(textMarshalerType) ||
		pt.Implements(jsonMarshalerType) || pt.Implements(textMarshalerType)
	ownEncoding.Store(t, own)
	return own
}

// structPlan lists the fields a plain struct encodes, in order.
type structPlan struct {
	fields []structField
}

type structField struct {
	index     int
	name      string
	omitEmpty bool
}

var structPlans sync.Map // reflect.Type -> *structPlan (nil: not plain)

// structPlanOf returns the plan of struct type t, or nil when t is not
// plain: an embedded field, a tag option other than omitempty, a tag
// name encoding/json would not take, or two fields with one name.
func structPlanOf(t reflect.Type) *structPlan {
	if v, ok := structPlans.Load(t); ok {
		return v.(*structPlan)
	}
	p := &structPlan{}
	seen := map[string]bool{}
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous {
			p = nil
			break
		}
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		omit := false
		for opts != "" {
			var o string
			o, opts, _ = strings.Cut(opts, ",")
			switch o {
			case "omitempty":
				omit = true
			case "":
			default:
				p = nil // string, omitzero, or an option of a later Go
			}
		}
		if p == nil {
			break
		}
		if name == "" {
			name = f.Name
		} else if !validJSONTag(name) {
			p = nil
			break
		}
		if seen[name] {
			p = nil
			break
		}
		seen[name] = true
		p.fields = append(p.fields, structField{index: i, name: name, omitEmpty: omit})
	}
	v, _ := structPlans.LoadOrStore(t, p)
	return v.(*structPlan)
}

// validJSONTag is encoding/json's isValidTag.
func validJSONTag(s string) bool {
	for _, c := range s {
		switch {
		case strings.ContainsRune("!#$%&()*+-./:;<=>?@[]^_{|}~ ", c):
		case !unicode.IsLetter(c) && !unicode.IsDigit(c):
			return false
		}
	}
	return s != ""
}

const hexDigits = "0123456789abcdef"

// appendJSONString is encoding/json's appendString.
func appendJSONString(dst []byte, s string, escapeHTML bool) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' && (!escapeHTML || (b != '<' && b != '>' && b != '&')) {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
