package bus_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/manoctl/manoctl/reconcile/bus"
	"github.com/manoctl/manoctl/reconcile/wire"
)

// fill sets every settable field of v (a pointer) to a non-zero value, so
// that omitempty fields are written too.
func fill(v reflect.Value, depth int) {
	switch v.Kind() {
	case reflect.Pointer:
		if depth > 3 {
			return
		}
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		fill(v.Elem(), depth+1)
	case reflect.Struct:
		if v.Type().PkgPath() == "time" {
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), depth+1)
			}
		}
	case reflect.String:
		v.SetString("x<&>\u2028\"y")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(7)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(7)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(0.25)
	case reflect.Slice:
		if depth > 3 {
			return
		}
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := range 2 {
			fill(s.Index(i), depth+1)
		}
		v.Set(s)
	case reflect.Map:
		if depth > 3 || v.Type().Key().Kind() != reflect.String {
			return
		}
		m := reflect.MakeMap(v.Type())
		for _, k := range []string{"b", "a<"} {
			e := reflect.New(v.Type().Elem()).Elem()
			fill(e, depth+1)
			m.SetMapIndex(reflect.ValueOf(k).Convert(v.Type().Key()), e)
		}
		v.Set(m)
	case reflect.Interface:
		v.Set(reflect.ValueOf(map[string]any{"vnfd": map[string]any{"name": "fw", "vcpus": 2, "ratio": 1.5, "on": "yes"}, "list": []any{1, "two", nil, true}}))
	}
}

// The bus encodes every wire payload, empty or full, to the bytes
// encoding/json writes.
func TestEncodeWirePayloadsLikeEncodingJSON(t *testing.T) {
	payloads := []any{
		wire.FunctionDeployRequest{}, wire.FunctionDeployReply{}, wire.FunctionEventRequest{}, wire.FunctionEventReply{},
		wire.FunctionRemoveRequest{}, wire.FunctionTerminateRequest{}, wire.IAStatusReply{}, wire.IAPrepareRequest{},
		wire.IADeployRequest{}, wire.IADeployReply{}, wire.IAChainConfigureRequest{}, wire.IAServiceRemoveRequest{},
		wire.IAWanConfigureRequest{}, wire.IAFunctionRemoveRequest{}, wire.PlaceRequest{}, wire.PlaceReply{},
		wire.RegisterRequest{}, wire.RegisterReply{}, wire.DeregisterRequest{}, wire.PMReply{}, wire.Heartbeat{},
		wire.PluginStatus{}, wire.TerminateRequest{}, wire.StatusMessage{}, wire.ScaleRequest{},
	}
	for _, p := range payloads {
		full := reflect.New(reflect.TypeOf(p))
		fill(full, 0)
		if _, ok := bus.AppendJSON(nil, full.Interface(), false); !ok {
			t.Errorf("%T takes encoding/json's slow path", p)
		}
		for _, v := range []any{p, full.Elem().Interface(), full.Interface()} {
			got, err := bus.MarshalYAML(v)
			if err != nil {
				t.Fatalf("%T: %v", v, err)
			}
			var want bytes.Buffer
			enc := json.NewEncoder(&want)
			enc.SetEscapeHTML(false)
			if err := enc.Encode(v); err != nil {
				t.Fatal(err)
			}
			if bytes.Equal(got, []byte("{}")) && bytes.Equal(want.Bytes(), []byte("{}\n")) {
				continue
			}
			if !bytes.Equal(got, want.Bytes()) {
				t.Errorf("%T:\n got %s\nwant %s", v, got, want.Bytes())
			}
			got, _, err = bus.Encode("platform.management.plugin.register", true, v) // a JSON topic
			if err != nil {
				t.Fatal(err)
			}
			if want, _ := json.Marshal(v); !bytes.Equal(got, want) {
				t.Errorf("%T as JSON:\n got %s\nwant %s", v, got, want)
			}
		}
	}
}
