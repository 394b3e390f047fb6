package bus

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// referenceJSON is what encoding/json writes for v.
func referenceJSON(v any, escapeHTML bool) ([]byte, error) {
	if escapeHTML {
		return json.Marshal(v)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// checkJSON compares appendJSON with encoding/json on v, and reports
// whether appendJSON took v.
func checkJSON(t *testing.T, name string, v any) bool {
	t.Helper()
	took := true
	for _, html := range []bool{true, false} {
		got, ok := appendJSON(nil, v, html)
		if !ok {
			took = false
			continue
		}
		want, err := referenceJSON(v, html)
		if err != nil {
			t.Errorf("%s: appendJSON took a value encoding/json refuses (%v): %s", name, err, got)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s (escapeHTML=%v):\n got %s\nwant %s", name, html, got, want)
		}
	}
	return took
}

// trickyStrings exercise every escape of encoding/json.
var trickyStrings = []string{
	"", "plain", `quote " and \ backslash`, "<script>&amp;</script>", "tab\tnl\nret\rbs\bff\f",
	"\x00\x01\x1f\x7f", "bad utf8 \xff\xfe end", "line\u2028para\u2029", "émoji 🎉 ünïcode",
	"yes", "no", "on", "off", "~", "null", "1e3", "0x1F", "2017-08-01",
}

// trickyNumbers exercise the float formatting.
var trickyNumbers = []any{
	0, -1, 42, int64(math.MaxInt64), int64(math.MinInt64), uint64(math.MaxUint64), int32(-7),
	0.0, math.Copysign(0, -1), 1.5, -2.25, 1e20, 1e21, 1e-6, 1e-7, 123456789.125, 3.4e38,
	float32(1.1), float32(1e-7), float32(3e21), math.SmallestNonzeroFloat64, math.MaxFloat64, 1.0, 100.0,
}

// randomTree builds a generic document of the shapes YAML and JSON
// decoders produce.
func randomTree(r *rand.Rand, depth int) any {
	if depth <= 0 {
		switch r.IntN(5) {
		case 0:
			return trickyStrings[r.IntN(len(trickyStrings))]
		case 1:
			return trickyNumbers[r.IntN(len(trickyNumbers))]
		case 2:
			return r.IntN(2) == 0
		case 3:
			return nil
		default:
			return r.Float64() * math.Pow(10, float64(r.IntN(40)-20))
		}
	}
	switch r.IntN(4) {
	case 0:
		n := r.IntN(6)
		a := make([]any, n)
		for i := range a {
			a[i] = randomTree(r, depth-1)
		}
		return a
	case 1:
		return randomTree(r, 0)
	default:
		m := map[string]any{}
		for range r.IntN(7) {
			m[trickyStrings[r.IntN(len(trickyStrings))]+string(rune('a'+r.IntN(26)))] = randomTree(r, depth-1)
		}
		return m
	}
}

func TestAppendJSONMatchesEncodingJSONOnGenericTrees(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		v := randomTree(r, 1+i%6)
		if !checkJSON(t, "random tree", v) {
			t.Fatalf("appendJSON refused a generic tree: %#v", v)
		}
	}
	for _, s := range trickyStrings {
		checkJSON(t, "string", s)
	}
	for _, n := range trickyNumbers {
		if !checkJSON(t, "number", n) {
			t.Errorf("appendJSON refused %T %v", n, n)
		}
	}
	checkJSON(t, "nil map", map[string]any(nil))
	checkJSON(t, "nil slice", []any(nil))
	checkJSON(t, "strings", []string{"a", "<b>"})
	checkJSON(t, "string map", map[string]string{"b": "1", "a": "&"})
	checkJSON(t, "maps", []map[string]any{{"x": 1}, nil})
}

// Descriptors as the SLM sends them: parsed from the test fixtures.
func TestAppendJSONMatchesEncodingJSONOnDescriptors(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "adapters", "embedded", "testdata", "*", "*.yml"))
	if len(files) == 0 {
		t.Fatal("no descriptor fixtures found")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := yaml.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
		if !checkJSON(t, f, doc) {
			t.Errorf("%s: appendJSON refused a descriptor", f)
		}
		// And the same after a JSON round trip (json.Number-free ints).
		var back map[string]any
		if err := Unmarshal(mustJSON(t, doc), &back); err != nil {
			t.Fatal(err)
		}
		checkJSON(t, f+" (decoded)", back)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type plainInner struct {
	Name  string         `json:"name"`
	Count int            `json:"count,omitempty"`
	Doc   map[string]any `json:"doc,omitempty"`
}

type plainPayload struct {
	ID        string            `json:"id"`
	VNFD      map[string]any    `json:"vnfd"`
	VNFDs     []map[string]any  `json:"vnfds"`
	Error     any               `json:"error"`
	Status    string            `json:"status,omitempty"`
	Ratio     float64           `json:"ratio,omitempty"`
	Neg       float32           `json:"neg,omitempty"`
	Ptr       *plainInner       `json:"ptr,omitempty"`
	Inner     plainInner        `json:"inner"`
	Inners    []plainInner      `json:"inners"`
	Labels    map[string]string `json:"labels,omitempty"`
	Untagged  string
	Skipped   string `json:"-"`
	NamedStr  kind   `json:"kind"`
	private   string
	AnyMap    map[kind]any `json:"any_map,omitempty"`
	Interface any          `json:"iface,omitempty"`

	//lint:ignore SA5008 the name "-" is what this field tests
	Dash string `json:"-,"`
}

type kind string

type withTime struct {
	At time.Time `json:"at"`
}

type withEmbedded struct {
	plainInner
	X int `json:"x"`
}

type withString struct {
	N int `json:"n,string"`
}

type withOmitZero struct {
	N int `json:"n,omitzero"`
}

type marshals struct{ A int }

func (marshals) MarshalJSON() ([]byte, error) { return []byte(`"custom"`), nil }

type ptrMarshals struct{ A int }

func (*ptrMarshals) MarshalJSON() ([]byte, error) { return []byte(`"custom"`), nil }

func TestAppendJSONMatchesEncodingJSONOnStructs(t *testing.T) {
	doc := map[string]any{"name": "firewall-vnf", "vendor": "eu.sonata-nfv", "virtual_deployment_units": []any{map[string]any{"id": "vdu01", "resource_requirements": map[string]any{"cpu": map[string]any{"vcpus": 1}}}}}
	full := plainPayload{
		ID: "x<y>", VNFD: doc, VNFDs: []map[string]any{doc, nil}, Error: nil, Status: "COMPLETED", Ratio: 0.25,
		Neg: -1.5, Ptr: &plainInner{Name: "p"}, Inner: plainInner{Name: "i", Count: 3, Doc: doc},
		Inners: []plainInner{{Name: "a"}, {}}, Labels: map[string]string{"z": "1", "a": "2"}, Untagged: "u",
		Skipped: "no", Dash: "dash", NamedStr: "nsd", private: "p", AnyMap: map[kind]any{"k": 1, "a": []any{}},
		Interface: plainInner{Name: "in an interface"},
	}
	for name, v := range map[string]any{
		"full":          full,
		"full pointer":  &full,
		"zero":          plainPayload{},
		"nil pointer":   (*plainPayload)(nil),
		"in a map":      map[string]any{"payload": full, "list": []any{full, &full}},
		"negative zero": plainPayload{Ratio: math.Copysign(0, -1)},
	} {
		if !checkJSON(t, name, v) {
			t.Errorf("%s: appendJSON refused a plain struct", name)
		}
	}
	// Values appendJSON leaves to encoding/json.
	for name, v := range map[string]any{
		"time":         withTime{At: time.Unix(1500000000, 0)},
		"json.Number":  map[string]any{"n": json.Number("12")},
		"raw message":  map[string]any{"r": json.RawMessage(`{"a":1}`)},
		"bytes":        map[string]any{"b": []byte("hi")},
		"embedded":     withEmbedded{X: 1},
		"string opt":   withString{N: 1},
		"omitzero":     withOmitZero{},
		"marshaler":    map[string]any{"m": marshals{}},
		"ptr marshals": &ptrMarshals{},
		"array":        [2]int{1, 2},
		"int keys":     map[int]string{1: "a"},
		"NaN":          map[string]any{"f": math.NaN()},
		"infinity":     []any{math.Inf(1)},
	} {
		if checkJSON(t, name, v) {
			t.Errorf("%s: appendJSON took %T, which encoding/json encodes its own way", name, v)
		}
	}
	deep := any("leaf")
	for range maxJSONDepth + 10 {
		deep = []any{deep}
	}
	if checkJSON(t, "deep", deep) {
		t.Error("appendJSON followed nesting past maxJSONDepth")
	}
}

// MarshalYAML and the JSON topics write what encoding/json writes, through
// either path.
func TestEncodeSameBytesAsEncodingJSON(t *testing.T) {
	for _, v := range []any{
		map[string]any{"status": "COMPLETED", "error": nil, "html": "<&>"},
		withTime{At: time.Unix(1500000000, 0).UTC()},
		plainPayload{ID: "a&b"},
	} {
		got, err := MarshalYAML(v)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := referenceJSON(v, false)
		if string(got) != string(want)+"\n" {
			t.Errorf("MarshalYAML(%T) = %s, want %s", v, got, want)
		}
		got, err = marshalJSON(v)
		if err != nil {
			t.Fatal(err)
		}
		if want, _ := json.Marshal(v); !bytes.Equal(got, want) {
			t.Errorf("marshalJSON(%T) = %s, want %s", v, got, want)
		}
	}
	if _, err := MarshalYAML(map[string]any{"f": math.Inf(-1)}); err == nil || !strings.Contains(err.Error(), "unsupported value") {
		t.Errorf("MarshalYAML of an infinity: %v", err)
	}
}

func BenchmarkMarshalYAMLDescriptor(b *testing.B) {
	f := filepath.Join("..", "..", "adapters", "embedded", "testdata", "sonata-demo", "firewall-vnfd.yml")
	raw, err := os.ReadFile(f)
	if err != nil {
		b.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		b.Fatal(err)
	}
	payload := struct {
		VNFD  map[string]any `json:"vnfd"`
		ID    string         `json:"id"`
		VIMID string         `json:"vim_uuid"`
	}{doc, "4f9b2b5a-8c3e-4f0e-9a55-0d7c2e4b1f00", "athens"}
	b.Run("appendJSON", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := MarshalYAML(payload); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := referenceJSON(payload, false); err != nil {
				b.Fatal(err)
			}
		}
	})
}
