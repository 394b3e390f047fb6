package records

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/manoctl/manoctl/schema/descriptor"
)

// DigestPrefix starts every descriptor digest.
const DigestPrefix = "sha256:"

// Tags of the canonical value encoding (format version 1; part of the
// digest, so never change a tag's meaning).
const (
	tagNil    = 0
	tagFalse  = 1
	tagTrue   = 2
	tagInt    = 3 // zig-zag varint
	tagFloat  = 4 // IEEE 754 bits, little endian
	tagString = 5
	tagList   = 6 // count, items
	tagMap    = 7 // count, (key, value) pairs in ascending key order
	tagTime   = 8 // seconds, nanoseconds (UTC)
	tagUint   = 9 // uvarint; only for values above math.MaxInt64
)

// DigestDoc returns the content digest of a descriptor document:
// "sha256:" and the hex SHA-256 of its canonical encoding. The canonical
// encoding depends on content only: mapping order, YAML formatting and
// comments do not change it, while any changed value, key or type (1 vs
// 1.0) does. The planner compares these digests to detect changed
// descriptors, so the encoding is frozen (README.md, "Canonical form and digests").
func DigestDoc(doc descriptor.Doc) (string, error) {
	var e encoder
	if err := encodeValue(&e, doc, 0); err != nil {
		return "", err
	}
	sum := sha256.Sum256(e.buf)
	return DigestPrefix + hex.EncodeToString(sum[:]), nil
}

// CanonicalDoc returns a private copy of doc in canonical form, and its
// digest. In canonical form mappings are map[string]any, sequences []any,
// integers int (uint64 above MaxInt64), floats float64 and timestamps UTC
// time.Time; YAML's map[any]any keys become strings. Values of other types
// are an error, so that what is stored always round-trips through the
// journal unchanged.
func CanonicalDoc(doc descriptor.Doc) (descriptor.Doc, string, error) {
	var e encoder
	if err := encodeValue(&e, doc, 0); err != nil {
		return nil, "", err
	}
	sum := sha256.Sum256(e.buf)
	d := newDecoder(string(e.buf), false)
	v := decodeValue(d, 0)
	if d.err != nil {
		return nil, "", fmt.Errorf("records: canonical form: %w", d.err)
	}
	m, _ := v.(map[string]any)
	if m == nil {
		m = map[string]any{}
	}
	return m, DigestPrefix + hex.EncodeToString(sum[:]), nil
}

// encodeValue writes v in canonical form.
func encodeValue(e *encoder, v any, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("records: document nested deeper than %d levels", maxDepth)
	}
	switch x := v.(type) {
	case nil:
		e.byte(tagNil)
	case bool:
		if x {
			e.byte(tagTrue)
		} else {
			e.byte(tagFalse)
		}
	case int:
		e.byte(tagInt)
		e.varint(int64(x))
	case int64:
		e.byte(tagInt)
		e.varint(x)
	case int32:
		e.byte(tagInt)
		e.varint(int64(x))
	case uint64:
		if x > math.MaxInt64 {
			e.byte(tagUint)
			e.uvarint(x)
		} else {
			e.byte(tagInt)
			e.varint(int64(x))
		}
	case float64:
		e.byte(tagFloat)
		e.f64(x)
	case float32:
		e.byte(tagFloat)
		e.f64(float64(x))
	case string:
		e.byte(tagString)
		e.str(x)
	case time.Time:
		e.byte(tagTime)
		t := x.UTC()
		e.varint(t.Unix())
		e.uvarint(uint64(t.Nanosecond()))
	case []any:
		e.byte(tagList)
		e.count(len(x))
		for _, it := range x {
			if err := encodeValue(e, it, depth+1); err != nil {
				return err
			}
		}
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		e.byte(tagMap)
		e.count(len(keys))
		for _, k := range keys {
			e.str(k)
			if err := encodeValue(e, x[k], depth+1); err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
		}
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, val := range x {
			ks := fmt.Sprint(k)
			if _, dup := m[ks]; dup {
				return fmt.Errorf("records: mapping has two keys that read %q", ks)
			}
			m[ks] = val
		}
		return encodeValue(e, m, depth)
	default:
		return encodeReflect(e, v, depth)
	}
	return nil
}

// encodeReflect handles the typed slices and maps that Go callers build
// ([]string, map[string]string, ...), and the integer kinds not listed in
// encodeValue, by converting them to the generic form.
func encodeReflect(e *encoder, v any, depth int) error {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return encodeValue(e, rv.Int(), depth)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return encodeValue(e, rv.Uint(), depth)
	case reflect.Float32, reflect.Float64:
		return encodeValue(e, rv.Float(), depth)
	case reflect.String:
		return encodeValue(e, rv.String(), depth)
	case reflect.Bool:
		return encodeValue(e, rv.Bool(), depth)
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.IsNil() {
			return encodeValue(e, nil, depth)
		}
		l := make([]any, rv.Len())
		for i := range l {
			l[i] = rv.Index(i).Interface()
		}
		return encodeValue(e, l, depth)
	case reflect.Map:
		if rv.IsNil() {
			return encodeValue(e, nil, depth)
		}
		m := make(map[any]any, rv.Len())
		it := rv.MapRange()
		for it.Next() {
			m[it.Key().Interface()] = it.Value().Interface()
		}
		return encodeValue(e, m, depth)
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return encodeValue(e, nil, depth)
		}
		return encodeValue(e, rv.Elem().Interface(), depth)
	}
	return fmt.Errorf("records: cannot store a %T in a descriptor", v)
}

// decodeValue reads a value written by encodeValue.
func decodeValue(d *decoder, depth int) any {
	if depth > maxDepth {
		d.fail("document nested deeper than %d levels", maxDepth)
		return nil
	}
	switch tag := d.byte(); tag {
	case tagNil:
		return nil
	case tagFalse:
		return false
	case tagTrue:
		return true
	case tagInt:
		return d.int()
	case tagUint:
		return d.uvarint()
	case tagFloat:
		return d.f64()
	case tagString:
		return strings.Clone(d.str())
	case tagTime:
		sec := d.varint()
		nsec := d.uvarint()
		if nsec >= 1e9 {
			d.fail("nanoseconds %d out of range", nsec)
			return nil
		}
		return time.Unix(sec, int64(nsec)).UTC()
	case tagList:
		n := d.count(1)
		l := make([]any, n)
		for i := range l {
			l[i] = decodeValue(d, depth+1)
		}
		return l
	case tagMap:
		n := d.count(2)
		m := make(map[string]any, n)
		prev := ""
		for i := 0; i < n && d.err == nil; i++ {
			k := strings.Clone(d.str())
			if i > 0 && k <= prev {
				d.fail("mapping keys out of order (%q after %q)", k, prev)
				return nil
			}
			prev = k
			m[k] = decodeValue(d, depth+1)
		}
		return m
	default:
		if d.err == nil {
			d.fail("unknown value tag %d", tag)
		}
		return nil
	}
}
