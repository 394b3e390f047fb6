package bus

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"reflect"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestEncodingFor(t *testing.T) {
	cases := []struct {
		topic   string
		request bool
		want    Encoding
	}{
		{TopicPluginRegister, true, JSON},
		{TopicPluginStatus, false, JSON},
		{PluginHeartbeatTopic("u"), false, JSON},
		{TopicServiceCreate, true, YAML},
		{TopicServiceCreate, false, YAML},
		{TopicFunctionDeploy, true, YAML},
		{TopicIAComputeList, true, YAML},
		{TopicIAComputeList, false, YAML},
		{TopicIAComputeAdd, true, JSON},
		{TopicIAServicePrepare, true, YAML},
		{TopicIAServicePrepare, false, JSON},
		{TopicIAFunctionDeploy, false, YAML},
		{TopicIAChainConfigure, true, YAML},
		{TopicIAChainConfigure, false, JSON},
		{TopicIAChainDeconfigure, true, JSON},
		{TopicIAServiceRemove, true, JSON},
		{TopicIAWanConfigure, true, YAML},
		{TopicIAWanConfigure, false, JSON},
		{TopicIAWanAdd, true, JSON},
		{TopicMonitoring, false, JSON},
	}
	for _, c := range cases {
		if got := EncodingFor(c.topic, c.request); got != c.want {
			t.Errorf("EncodingFor(%s, %v) = %v, want %v", c.topic, c.request, got, c.want)
		}
	}
}

func TestMarshalYAMLEmptyMapIsBraces(t *testing.T) {
	b, err := MarshalYAML(map[string]any{})
	if err != nil || string(b) != "{}" {
		t.Fatalf("got %q, %v; want {} (the SLM's compute.list body)", b, err)
	}
}

// Strings that a YAML 1.1 reader (PyYAML) would turn into another type
// must come back as the same strings; YAML parsers of both generations
// read the output to the same values.
func TestMarshalYAMLRoundTripsYAML11Scalars(t *testing.T) {
	in := map[string]any{"k": nil}
	for i, s := range []string{"yes", "No", "on", "OFF", "y", "n", "~", "null", "1:20", "0o12", "012", "1e3", "0x1F", ".inf", "=", "<<", "1_000", "2017-01-01", "None", "a: b", "- x", "#c", "", " pad ", "tab\tnewline\n", "ünïcödé <&>"} {
		in[fmt.Sprint("s", i)] = s
	}
	in["n"], in["f"], in["b"], in["l"] = 3, 0.5, true, []any{1, "two", nil}
	b, err := MarshalYAML(in)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := yaml.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, in) {
		t.Fatalf("yaml.v3 reads back\n%#v\nwant\n%#v", back, in)
	}
	var viaBus map[string]any
	if err := Unmarshal(b, &viaBus); err != nil || !reflect.DeepEqual(viaBus, in) {
		t.Fatalf("bus.Unmarshal reads back %#v (%v)", viaBus, err)
	}
}

// The Python peers parse bodies with PyYAML: check with the real one when
// the machine has it.
func TestMarshalYAMLReadByPyYAML(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed: PyYAML cross-check not run")
	}
	if exec.Command(py, "-c", "import yaml").Run() != nil {
		t.Skip("PyYAML not installed: cross-check not run")
	}
	in := map[string]any{"status": "yes", "error": "None", "n": 1, "f": 1.5, "list": []any{"on", "1:20", nil, false}, "t": "1e3"}
	b, err := MarshalYAML(in)
	if err != nil {
		t.Fatal(err)
	}
	// PyYAML's yaml.load (the FullLoader of 2017 code) and json.dumps
	// with sorted keys give a canonical form to compare.
	cmd := exec.Command(py, "-c", "import sys, yaml, json; print(json.dumps(yaml.load(sys.stdin.read(), Loader=yaml.FullLoader), sort_keys=True))")
	cmd.Stdin = bytes.NewReader(b)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("PyYAML: %v", err)
	}
	var got map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"status": "yes", "error": "None", "n": 1.0, "f": 1.5, "list": []any{"on", "1:20", nil, false}, "t": "1e3"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("PyYAML read %v, want %v", got, want)
	}
}

func TestMarshalNeverPanics(t *testing.T) {
	if _, err := MarshalYAML(map[string]any{"f": func() {}}); err == nil {
		t.Fatal("a func encoded")
	}
	if _, _, err := Encode(TopicPluginStatus, false, map[string]any{"c": make(chan int)}); err == nil {
		t.Fatal("a channel encoded")
	}
}

func TestUnmarshalJSONAndYAMLAgree(t *testing.T) {
	j := `{"a": 1, "b": 1.5, "c": [1, "x", null, true], "d": {"e": 2}}`
	y := "a: 1\nb: 1.5\nc: [1, x, null, true]\nd: {e: 2}\n"
	var fromJ, fromY any
	if err := Unmarshal([]byte(j), &fromJ); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal([]byte(y), &fromY); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fromJ, fromY) {
		t.Fatalf("json %#v != yaml %#v", fromJ, fromY)
	}
}

type payloadWithAny struct {
	Status string         `yaml:"status" json:"status"`
	Error  any            `yaml:"error" json:"error"`
	Extra  map[string]any `yaml:"extra" json:"extra"`
}

func TestUnmarshalJSONNumbersInTypedAnyFields(t *testing.T) {
	var p payloadWithAny
	if err := Unmarshal([]byte(`{"status":"ERROR","error":{"http_code":0},"extra":{"n":3,"f":0.5}}`), &p); err != nil {
		t.Fatal(err)
	}
	want := payloadWithAny{Status: "ERROR", Error: map[string]any{"http_code": 0}, Extra: map[string]any{"n": 3, "f": 0.5}}
	if !reflect.DeepEqual(p, want) {
		t.Fatalf("got %#v", p)
	}
}

func TestMessageDecode(t *testing.T) {
	type T struct {
		A string `yaml:"a"`
	}
	// In-process: same type assigned directly.
	m := &Message{Payload: T{A: "x"}}
	var got T
	if err := m.Decode(&got); err != nil || got.A != "x" {
		t.Fatalf("direct: %v %v", got, err)
	}
	m = &Message{Payload: &T{A: "y"}}
	if err := m.Decode(&got); err != nil || got.A != "y" {
		t.Fatalf("pointer: %v %v", got, err)
	}
	// Generic payload converted.
	m = &Message{Payload: map[string]any{"a": "z"}}
	if err := m.Decode(&got); err != nil || got.A != "z" {
		t.Fatalf("generic: %v %v", got, err)
	}
	// Wire body.
	m = &Message{Body: []byte("a: w\n")}
	if err := m.Decode(&got); err != nil || got.A != "w" {
		t.Fatalf("wire: %v %v", got, err)
	}
	// Malformed body is an error, not a panic.
	m = &Message{Topic: "t", Body: []byte("a: [")}
	if err := m.Decode(&got); err == nil {
		t.Fatal("malformed body decoded")
	}
	m = &Message{Topic: "t", Body: []byte("")}
	if err := m.Decode(&got); err == nil {
		t.Fatal("empty body decoded")
	}
}
