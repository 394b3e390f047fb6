package check

import (
	"math"
	"strconv"
	"strings"

	"github.com/manoctl/manoctl/schema"
)

// The checks read the generic tree (Document.Value), which may have any
// shape: syntax errors do not stop these levels. Every accessor here
// reports whether the value had the expected type, and nothing indexes or
// asserts without checking.

// object is a read-only view of a YAML mapping. Decoders give
// map[string]any, or map[any]any when a key is not a string; both are read
// without copying.
type object struct {
	s map[string]any
	a map[any]any
}

func asObject(v any) (object, bool) {
	switch m := v.(type) {
	case map[string]any:
		return object{s: m}, true
	case map[any]any:
		return object{a: m}, true
	}
	return object{}, false
}

// get returns the value of key and whether the key is present.
func (o object) get(key string) (any, bool) {
	if o.s != nil {
		v, ok := o.s[key]
		return v, ok
	}
	if o.a != nil {
		v, ok := o.a[key]
		return v, ok
	}
	return nil, false
}

func (o object) has(key string) bool {
	_, ok := o.get(key)
	return ok
}

// list returns the value of key as a sequence; ok is false when the key is
// missing or holds something else.
func (o object) list(key string) ([]any, bool) {
	v, _ := o.get(key)
	l, ok := v.([]any)
	return l, ok
}

// str returns the value of key as text (see scalar).
func (o object) str(key string) (string, bool) {
	v, ok := o.get(key)
	if !ok {
		return "", false
	}
	return scalar(v)
}

// integer returns the value of key as an integer: an int, or a float with
// no fractional part.
func (o object) integer(key string) (int, bool) {
	v, _ := o.get(key)
	switch x := v.(type) {
	case int:
		return x, true
	case int64:
		if x >= math.MinInt && x <= math.MaxInt {
			return int(x), true
		}
	case uint64:
		if x <= math.MaxInt {
			return int(x), true
		}
	case float64:
		if x == math.Trunc(x) && x >= math.MinInt && x <= math.MaxInt {
			return int(x), true
		}
	}
	return 0, false
}

// number returns the value of key as a float64.
func (o object) number(key string) (float64, bool) {
	v, _ := o.get(key)
	switch x := v.(type) {
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

// scalar returns the text of a scalar: strings as they are, numbers and
// booleans as the 2017 tools (Python, PyYAML) printed them, so that an
// unquoted version: 1.0 still reads "1.0" and matches a quoted "1.0"
// elsewhere. Null, mappings and sequences give ok == false. The type
// itself is the syntax level's concern.
func scalar(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case int:
		return strconv.Itoa(x), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case uint64:
		return strconv.FormatUint(x, 10), true
	case float64:
		return pyFloat(x), true
	case bool:
		if x {
			return "True", true
		}
		return "False", true
	}
	return "", false
}

// pyFloat formats f like Python's repr: shortest round-trip digits, a
// decimal point always, exponent form outside [1e-4, 1e16).
func pyFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	if a := math.Abs(f); a != 0 && (a < 1e-4 || a >= 1e16) {
		return strconv.FormatFloat(f, 'e', -1, 64)
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.ContainsRune(s, '.') {
		s += ".0"
	}
	return s
}

// at appends JSON-pointer tokens to base. Pointers are only built for
// findings, so the cost of formatting is paid per finding, not per value.
func at(base string, tokens ...any) string {
	return base + schema.Pointer(tokens...)
}

// idList formats up to max ids for a message ("a, b, c" or "a, b, … (5)").
func idList(ids []string, max int) string {
	if len(ids) == 0 {
		return "none"
	}
	var b strings.Builder
	for i, id := range ids {
		if i == max {
			b.WriteString(", … (")
			b.WriteString(strconv.Itoa(len(ids)))
			b.WriteString(" in all)")
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Quote(id))
	}
	return b.String()
}
