package bus

import (
	"encoding/json"
	"reflect"
	"testing"
)

type inner struct {
	Address string `json:"address" yaml:"address"`
	Netmask string `json:"netmask,omitempty" yaml:"netmask,omitempty"`
}

type outer struct {
	Name    string            `json:"name" yaml:"name"`
	Count   int               `json:"count" yaml:"count"`
	Ratio   float64           `json:"ratio" yaml:"ratio"`
	On      bool              `json:"on" yaml:"on"`
	Err     any               `json:"error" yaml:"error"`
	Doc     map[string]any    `json:"doc,omitempty" yaml:"doc,omitempty"`
	Items   []inner           `json:"items" yaml:"items"`
	Ptr     *inner            `json:"ptr,omitempty" yaml:"ptr,omitempty"`
	Tags    map[string]string `json:"tags,omitempty" yaml:"tags,omitempty"`
	Pair    [2]string         `json:"pair" yaml:"pair"`
	Skipped string            `json:"-" yaml:"-"`
}

// The direct conversion must give what a JSON round trip gives: it
// replaces one.
func TestConvertMatchesJSONRoundTrip(t *testing.T) {
	src := outer{
		Name: "x", Count: 3, Ratio: 0.5, On: true, Err: map[string]any{"http_code": "0"},
		Doc:   map[string]any{"a": []any{1, "b"}},
		Items: []inner{{Address: "10.0.0.1"}, {Address: "10.0.0.2", Netmask: "255.0.0.0"}},
		Ptr:   &inner{Address: "p"}, Tags: map[string]string{"k": "v"}, Pair: [2]string{"a", "b"},
		Skipped: "not on the wire",
	}
	var viaConvert, viaJSON map[string]any
	if err := convert(src, &viaConvert); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(src)
	if err := unmarshalJSON(b, &viaJSON); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(viaConvert, viaJSON) {
		t.Fatalf("convert:\n%#v\njson:\n%#v", viaConvert, viaJSON)
	}
	var back outer
	if err := convert(viaConvert, &back); err != nil {
		t.Fatal(err)
	}
	src.Skipped = ""
	if !reflect.DeepEqual(back, src) {
		t.Fatalf("round trip:\n%#v\n%#v", back, src)
	}
}

func TestConvertTypeErrors(t *testing.T) {
	var o outer
	for _, bad := range []any{
		map[string]any{"count": "three"},
		map[string]any{"count": 1.5},
		map[string]any{"items": "not a list"},
		map[string]any{"items": []any{"not a map"}},
		[]any{1},
		"string",
	} {
		if err := convert(bad, &o); err == nil {
			t.Errorf("%#v converted without error", bad)
		}
	}
}

func BenchmarkConvertDeployRequest(b *testing.B) {
	vnfd := map[string]any{"name": "iperf-vnf", "vendor": "eu.sonata-nfv", "virtual_deployment_units": []any{
		map[string]any{"id": "vdu01", "resource_requirements": map[string]any{"cpu": map[string]any{"vcpus": 1}}},
	}}
	type req struct {
		VNFD   map[string]any `json:"vnfd"`
		ID     string         `json:"id"`
		VIM    string         `json:"vim_uuid"`
		ServID string         `json:"serv_id"`
	}
	p := req{VNFD: vnfd, ID: "f", VIM: "v", ServID: "s"}
	for i := 0; i < b.N; i++ {
		var m map[string]any
		if err := convert(p, &m); err != nil {
			b.Fatal(err)
		}
		var back req
		if err := convert(m, &back); err != nil {
			b.Fatal(err)
		}
	}
}

// Generic trees built in process can hold typed values.
func TestConvertTypedValuesInsideGenericTrees(t *testing.T) {
	var out struct {
		Functions []string    `json:"functions"`
		Inner     inner       `json:"inner"`
		Pairs     [][2]string `json:"pairs"`
	}
	src := map[string]any{"functions": []string{"a", "b"}, "inner": inner{Address: "x"}, "pairs": [][2]string{{"a", "b"}}}
	if err := convert(src, &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Functions) != 2 || out.Inner.Address != "x" || out.Pairs[0][1] != "b" {
		t.Fatalf("%+v", out)
	}
}
