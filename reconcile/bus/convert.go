package bus

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
)

// In-process messages carry Go values, and sender and receiver do not
// always agree on the type: a plugin publishes a typed payload struct and
// the IA emulator reads a generic tree, or the other way round. Converting
// through JSON costs tens of microseconds for a descriptor-sized payload,
// more than the rest of a request, so Decode converts directly between Go
// values, following the json struct tags exactly as encoding/json would
// (names, omitempty, "-", embedded structs). Types with their own
// MarshalJSON or UnmarshalJSON go through encoding/json.

var (
	jsonMarshalerType   = reflect.TypeOf((*json.Marshaler)(nil)).Elem()
	jsonUnmarshalerType = reflect.TypeOf((*json.Unmarshaler)(nil)).Elem()
	genericMapType      = reflect.TypeOf(map[string]any(nil))
	genericSliceType    = reflect.TypeOf([]any(nil))
)

type fieldInfo struct {
	name      string
	index     []int
	omitEmpty bool
}

var fieldCache sync.Map // reflect.Type -> []fieldInfo

func fieldsOf(t reflect.Type) []fieldInfo {
	if f, ok := fieldCache.Load(t); ok {
		return f.([]fieldInfo)
	}
	var out []fieldInfo
	var walk func(t reflect.Type, index []int)
	walk = func(t reflect.Type, index []int) {
		for i := 0; i < t.NumField(); i++ {
			sf := t.Field(i)
			tag, ok := sf.Tag.Lookup("json")
			if !ok {
				// Payload types in tests carry yaml tags only.
				tag = sf.Tag.Get("yaml")
			}
			if tag == "-" {
				continue
			}
			idx := append(append([]int(nil), index...), i)
			name, opts, _ := strings.Cut(tag, ",")
			if sf.Anonymous && name == "" && sf.Type.Kind() == reflect.Struct {
				walk(sf.Type, idx)
				continue
			}
			if !sf.IsExported() {
				continue
			}
			if name == "" {
				name = sf.Name
			}
			out = append(out, fieldInfo{name: name, index: idx, omitEmpty: strings.Contains(opts, "omitempty")})
		}
	}
	walk(t, nil)
	fieldCache.Store(t, out)
	return out
}

// toGeneric converts a Go value into the generic tree a YAML or JSON
// decoder would produce: map[string]any, []any, string, int, float64,
// bool, nil. Maps and slices of generic values are shared, not copied.
func toGeneric(v reflect.Value) (any, error) {
	if !v.IsValid() {
		return nil, nil
	}
	t := v.Type()
	if t.Implements(jsonMarshalerType) && !(v.Kind() == reflect.Pointer && v.IsNil()) {
		b, err := v.Interface().(json.Marshaler).MarshalJSON()
		if err != nil {
			return nil, err
		}
		var out any
		if err := unmarshalJSON(b, &out); err != nil {
			return nil, err
		}
		return out, nil
	}
	switch v.Kind() {
	case reflect.Interface, reflect.Pointer:
		if v.IsNil() {
			return nil, nil
		}
		return toGeneric(v.Elem())
	case reflect.Struct:
		fs := fieldsOf(t)
		m := make(map[string]any, len(fs))
		for _, f := range fs {
			fv := v.FieldByIndex(f.index)
			if f.omitEmpty && isEmptyValue(fv) {
				continue
			}
			g, err := toGeneric(fv)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f.name, err)
			}
			m[f.name] = g
		}
		return m, nil
	case reflect.Map:
		if v.IsNil() {
			return nil, nil
		}
		if t == genericMapType {
			return v.Interface(), nil
		}
		if t.Key().Kind() != reflect.String {
			return nil, fmt.Errorf("unsupported map key type %s", t.Key())
		}
		m := make(map[string]any, v.Len())
		iter := v.MapRange()
		for iter.Next() {
			g, err := toGeneric(iter.Value())
			if err != nil {
				return nil, err
			}
			m[iter.Key().String()] = g
		}
		return m, nil
	case reflect.Slice:
		if v.IsNil() {
			return nil, nil
		}
		if t == genericSliceType {
			return v.Interface(), nil
		}
		if t.Elem().Kind() == reflect.Uint8 {
			return nil, fmt.Errorf("unsupported type %s", t)
		}
		fallthrough
	case reflect.Array:
		out := make([]any, v.Len())
		for i := range out {
			g, err := toGeneric(v.Index(i))
			if err != nil {
				return nil, err
			}
			out[i] = g
		}
		return out, nil
	case reflect.String:
		return v.String(), nil
	case reflect.Bool:
		return v.Bool(), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return int(v.Int()), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return int(v.Uint()), nil
	case reflect.Float32, reflect.Float64:
		return v.Float(), nil
	}
	return nil, fmt.Errorf("unsupported type %s", t)
}

func isEmptyValue(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool:
		return !v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int() == 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return v.Uint() == 0
	case reflect.Float32, reflect.Float64:
		return v.Float() == 0
	case reflect.Interface, reflect.Pointer:
		return v.IsNil()
	}
	return false
}

// fromGeneric stores a generic tree into dst (settable). Generic maps and
// slices stored into fields of type any, map[string]any or []any are
// shared, not copied.
func fromGeneric(src any, dst reflect.Value) error {
	t := dst.Type()
	if src == nil {
		dst.Set(reflect.Zero(t))
		return nil
	}
	// A generic tree built in process may hold typed values ([]string,
	// a struct): take them as they are when they fit, else through their
	// generic form.
	if sv := reflect.ValueOf(src); sv.Type().AssignableTo(t) && t.Kind() != reflect.Interface {
		dst.Set(sv)
		return nil
	}
	if !isGenericValue(src) {
		g, err := toGeneric(reflect.ValueOf(src))
		if err != nil {
			return err
		}
		if g == nil {
			dst.Set(reflect.Zero(t))
			return nil
		}
		src = g
	}
	if reflect.PointerTo(t).Implements(jsonUnmarshalerType) {
		b, err := json.Marshal(src)
		if err != nil {
			return err
		}
		return dst.Addr().Interface().(json.Unmarshaler).UnmarshalJSON(b)
	}
	switch t.Kind() {
	case reflect.Interface:
		if t.NumMethod() == 0 {
			dst.Set(reflect.ValueOf(src))
			return nil
		}
	case reflect.Pointer:
		p := reflect.New(t.Elem())
		if err := fromGeneric(src, p.Elem()); err != nil {
			return err
		}
		dst.Set(p)
		return nil
	case reflect.Struct:
		m, ok := asGenericMap(src)
		if !ok {
			return fmt.Errorf("cannot store %s in %s", kindOf(src), t)
		}
		for _, f := range fieldsOf(t) {
			x, ok := m[f.name]
			if !ok {
				// encoding/json matches keys case-insensitively as a
				// fallback; so must the conversion that replaces it.
				for k, v := range m {
					if strings.EqualFold(k, f.name) {
						x, ok = v, true
						break
					}
				}
				if !ok {
					continue
				}
			}
			if err := fromGeneric(x, fieldByIndexAlloc(dst, f.index)); err != nil {
				return fmt.Errorf("%s: %w", f.name, err)
			}
		}
		return nil
	case reflect.Map:
		m, ok := asGenericMap(src)
		if !ok {
			return fmt.Errorf("cannot store %s in %s", kindOf(src), t)
		}
		if t == genericMapType {
			dst.Set(reflect.ValueOf(m))
			return nil
		}
		if t.Key().Kind() != reflect.String {
			return fmt.Errorf("unsupported map key type %s", t.Key())
		}
		out := reflect.MakeMapWithSize(t, len(m))
		for k, x := range m {
			ev := reflect.New(t.Elem()).Elem()
			if err := fromGeneric(x, ev); err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
			out.SetMapIndex(reflect.ValueOf(k).Convert(t.Key()), ev)
		}
		dst.Set(out)
		return nil
	case reflect.Slice:
		l, ok := src.([]any)
		if !ok {
			return fmt.Errorf("cannot store %s in %s", kindOf(src), t)
		}
		if t == genericSliceType {
			dst.Set(reflect.ValueOf(l))
			return nil
		}
		out := reflect.MakeSlice(t, len(l), len(l))
		for i, x := range l {
			if err := fromGeneric(x, out.Index(i)); err != nil {
				return fmt.Errorf("%d: %w", i, err)
			}
		}
		dst.Set(out)
		return nil
	case reflect.Array:
		l, ok := src.([]any)
		if !ok || len(l) != t.Len() {
			return fmt.Errorf("cannot store %s in %s", kindOf(src), t)
		}
		for i, x := range l {
			if err := fromGeneric(x, dst.Index(i)); err != nil {
				return fmt.Errorf("%d: %w", i, err)
			}
		}
		return nil
	case reflect.String:
		if s, ok := src.(string); ok {
			dst.SetString(s)
			return nil
		}
	case reflect.Bool:
		if b, ok := src.(bool); ok {
			dst.SetBool(b)
			return nil
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		switch n := src.(type) {
		case int:
			dst.SetInt(int64(n))
			return nil
		case int64:
			dst.SetInt(n)
			return nil
		case float64:
			if n == float64(int64(n)) {
				dst.SetInt(int64(n))
				return nil
			}
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		switch n := src.(type) {
		case int:
			if n >= 0 {
				dst.SetUint(uint64(n))
				return nil
			}
		case float64:
			if n >= 0 && n == float64(uint64(n)) {
				dst.SetUint(uint64(n))
				return nil
			}
		}
	case reflect.Float32, reflect.Float64:
		switch n := src.(type) {
		case int:
			dst.SetFloat(float64(n))
			return nil
		case int64:
			dst.SetFloat(float64(n))
			return nil
		case float64:
			dst.SetFloat(n)
			return nil
		}
	}
	return fmt.Errorf("cannot store %s in %s", kindOf(src), t)
}

func fieldByIndexAlloc(v reflect.Value, index []int) reflect.Value {
	for i, x := range index {
		if i > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				v.Set(reflect.New(v.Type().Elem()))
			}
			v = v.Elem()
		}
		v = v.Field(x)
	}
	return v
}

func asGenericMap(src any) (map[string]any, bool) {
	switch m := src.(type) {
	case map[string]any:
		return m, true
	case map[any]any:
		out := make(map[string]any, len(m))
		for k, v := range m {
			out[fmt.Sprint(k)] = v
		}
		return out, true
	}
	return nil, false
}

func kindOf(v any) string {
	switch v.(type) {
	case map[string]any, map[any]any:
		return "a mapping"
	case []any:
		return "a sequence"
	case string:
		return fmt.Sprintf("the string %q", v)
	case int, int64:
		return fmt.Sprintf("the integer %v", v)
	case float64:
		return fmt.Sprintf("the number %v", v)
	case bool:
		return fmt.Sprintf("the boolean %v", v)
	}
	return fmt.Sprintf("a %T", v)
}

// convert stores payload into v (a non-nil pointer) through the generic
// form.
func convert(payload any, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("decode target must be a non-nil pointer, got %T", v)
	}
	g, err := toGeneric(reflect.ValueOf(payload))
	if err != nil {
		return err
	}
	return fromGeneric(g, rv.Elem())
}

// isGenericValue reports whether v is a value a YAML or JSON decoder
// produces.
func isGenericValue(v any) bool {
	switch v.(type) {
	case map[string]any, map[any]any, []any, string, bool, int, int64, float64:
		return true
	}
	return false
}
