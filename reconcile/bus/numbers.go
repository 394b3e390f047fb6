package bus

import (
	"encoding/json"
	"reflect"
)

var jsonNumberType = reflect.TypeOf(json.Number(""))

// normaliseStruct replaces json.Number values held in interface-typed places
// of a typed decode target (fields of type any, map[string]any, []any, at
// any depth) by int or float64.
func normaliseStruct(v any) {
	walkNumbers(reflect.ValueOf(v))
}

func walkNumbers(rv reflect.Value) {
	switch rv.Kind() {
	case reflect.Pointer:
		if !rv.IsNil() {
			walkNumbers(rv.Elem())
		}
	case reflect.Struct:
		for i := 0; i < rv.NumField(); i++ {
			f := rv.Field(i)
			if f.CanSet() || f.Kind() == reflect.Map || f.Kind() == reflect.Slice || f.Kind() == reflect.Pointer || f.Kind() == reflect.Struct {
				walkNumbers(f)
			}
		}
	case reflect.Interface:
		if rv.IsNil() {
			return
		}
		e := rv.Elem()
		if e.Type() == jsonNumberType {
			if rv.CanSet() {
				rv.Set(reflect.ValueOf(normaliseNumbers(e.Interface())))
			}
			return
		}
		if e.Kind() == reflect.Map || e.Kind() == reflect.Slice {
			normaliseNumbers(e.Interface())
		}
	case reflect.Map:
		if rv.IsNil() || rv.Type().Elem().Kind() != reflect.Interface {
			if !rv.IsNil() && (rv.Type().Elem().Kind() == reflect.Struct || rv.Type().Elem().Kind() == reflect.Pointer) {
				iter := rv.MapRange()
				for iter.Next() {
					val := iter.Value()
					if val.Kind() == reflect.Pointer {
						walkNumbers(val)
					}
				}
			}
			return
		}
		iter := rv.MapRange()
		for iter.Next() {
			val := iter.Value()
			if val.IsNil() {
				continue
			}
			rv.SetMapIndex(iter.Key(), reflect.ValueOf(normaliseNumbers(val.Interface())))
		}
	case reflect.Slice:
		for i := 0; i < rv.Len(); i++ {
			walkNumbers(rv.Index(i))
		}
	}
}
