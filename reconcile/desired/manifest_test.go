package desired

import (
	"strings"
	"testing"
)

const good = `
descriptors: [./descriptors]
vims:
  - {name: athens, city: Athens, cores: 32, memory_mb: 65536}
services:
  demo-1:
    nsd: {vendor: eu.sonata-nfv, name: sonata-demo, version: "0.1"}
    ingresses: [{location: athens, nap: 10.0.0.1}]
    egresses: []
    placement: {policy: load-balanced, allowed_vims: [athens]}
`

func TestParseGood(t *testing.T) {
	m, err := Parse("manoctl.yaml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	s := m.Services["demo-1"]
	if s == nil || s.NSD.Version != "0.1" || s.Placement.Policy != "load-balanced" || m.VIMs[0].MemoryMB != 65536 {
		t.Fatalf("decoded %+v", m)
	}
}

func TestParseErrorsArePositioned(t *testing.T) {
	cases := []struct {
		name, src, want string
	}{
		{"unquoted version", strings.Replace(good, `"0.1"`, `0.1`, 1), `manoctl.yaml:7:`},
		{"unknown field", good + "    bogus: 1\n", `unknown field "bogus"`},
		{"bad policy", strings.Replace(good, "load-balanced", "random", 1), "manoctl.yaml:10:"},
		{"missing nsd", "descriptors: []\nservices:\n  x: {ingresses: []}\n", `missing required field "nsd"`},
		{"bad name", strings.Replace(good, "demo-1:", "Demo_1:", 1), "manoctl.yaml:"},
		{"not yaml", "descriptors: [\n", "manoctl.yaml:"},
		{"duplicate vim", strings.Replace(good, "vims:\n", "vims:\n  - {name: athens, cores: 1, memory_mb: 1}\n", 1), `VIM "athens" is declared twice`},
	}
	for _, c := range cases {
		_, err := Parse("manoctl.yaml", []byte(c.src))
		if err == nil {
			t.Errorf("%s: accepted", c.name)
			continue
		}
		if !IsInvalid(err) {
			t.Errorf("%s: error %v is not an InvalidError", c.name, err)
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q does not contain %q", c.name, err, c.want)
		}
	}
}

func TestUnquotedVersionNamedAsPitfall(t *testing.T) {
	_, err := Parse("m.yaml", []byte(strings.Replace(good, `"0.1"`, `0.1`, 1)))
	if err == nil || !strings.Contains(err.Error(), "quote it") {
		t.Fatalf("got %v", err)
	}
}

func TestParseCUE(t *testing.T) {
	src := `
manifest: {
	descriptors: ["./d"]
	vims: [{name: "athens", cores: 8, memory_mb: 8192}]
	services: {
		for i in [1, 2, 3] {
			"demo-\(i)": nsd: {vendor: "eu.sonata-nfv", name: "sonata-demo", version: "0.1"}
		}
	}
}
`
	m, err := Parse("manoctl.cue", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Services) != 3 || m.Services["demo-2"] == nil {
		t.Fatalf("services %v", m.ServiceNames())
	}
}
