package desired

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary bytes to Parse as a YAML or a JSON manifest.
// Parse must return a manifest or an error, never panic; every
// InvalidError carries diagnostics with a code and a message; a manifest
// that parses passes its own checks and can be parsed again. CUE
// manifests are programs (comprehensions can loop for as long as their
// author wants), so they are not fuzzed: their bound is MaxManifestSize
// and the author's intent. Seeds: testdata/fuzz/FuzzParse.
//
//	go test -run '^$' -fuzz FuzzParse -fuzztime 5m ./reconcile/desired
func FuzzParse(f *testing.F) {
	demo, err := os.ReadFile(filepath.Join("..", "..", "testdata", "demo", "manoctl.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		good,
		string(demo),
		`{"descriptors": ["d"], "vims": [{"name": "a", "cores": 1, "memory_mb": 1}], "services": {"x": {"nsd": {"vendor": "v", "name": "n", "version": "1"}, "instances": {"f": 3}}}}`,
		"descriptors: []\nservices:\n  x: {nsd: {vendor: v, name: n, version: 0.1}}\n",
		"descriptors: []\nvims: [{name: a, cores: 1, memory_mb: 1}, {name: a, cores: 2, memory_mb: 2}]\n",
		"descriptors: &a [*a]\n",
		"services: {x: {nsd: {vendor: v, name: n, version: \"1\"}, placement: {policy: random, affinity: [[a]]}}}\n",
		"descriptors: [\n",
		"",
	} {
		f.Add(false, []byte(s))
	}
	f.Add(true, []byte(`{"descriptors": [], "services": {"Bad Name": {}}}`))
	f.Fuzz(func(t *testing.T, asJSON bool, data []byte) {
		name := "manoctl.yaml"
		if asJSON {
			name = "manoctl.json"
		}
		m, err := Parse(name, data)
		if err != nil {
			var ie *InvalidError
			if errors.As(err, &ie) {
				if len(ie.Diagnostics) == 0 {
					t.Fatalf("InvalidError without diagnostics")
				}
				for _, d := range ie.Diagnostics {
					badVerb := strings.Contains(d.Message, "%!") && !bytes.Contains(data, []byte("%!"))
					if d.Code == "" || d.Message == "" || badVerb {
						t.Fatalf("malformed diagnostic %+v", d)
					}
				}
			}
			return
		}
		if diags := m.check(); len(diags) > 0 {
			t.Fatalf("accepted a manifest that fails its checks: %v", diags)
		}
		if _, err := Parse(name, m.Data); err != nil {
			t.Fatalf("a manifest that parsed does not parse again: %v", err)
		}
		_ = m.ServiceNames()
	})
}

// TestManifestSizeLimit: a manifest over MaxManifestSize is invalid input
// (exit 3), refused before it is parsed, whether it is a file, bytes or a
// stream that does not know its size.
func TestManifestSizeLimit(t *testing.T) {
	big := []byte("descriptors: []\n" + strings.Repeat("# padding\n", MaxManifestSize/10+1))
	check := func(what string, err error) {
		t.Helper()
		var ie *InvalidError
		if !errors.As(err, &ie) || ie.Diagnostics[0].Code != CodeManifestTooLarge {
			t.Fatalf("%s: %v, want %s", what, err, CodeManifestTooLarge)
		}
		if !strings.Contains(err.Error(), "over the 16 MiB limit") {
			t.Fatalf("%s: %v", what, err)
		}
	}
	_, err := Parse("m.yaml", big)
	check("Parse", err)
	path := filepath.Join(t.TempDir(), "manoctl.yaml")
	if err := os.WriteFile(path, big, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Load(path)
	check("Load", err)
	// A pipe has no size to check first: Load reads at most one byte
	// past the limit.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	go func() {
		defer w.Close()
		for i := 0; i < 3; i++ {
			if _, err := w.Write(big); err != nil {
				return
			}
		}
	}()
	_, err = Load("/dev/fd/" + strconv.Itoa(int(r.Fd())))
	check("Load from a pipe", err)
}

// TestParseLineBreaks: a manifest with CR (old Mac) or CRLF line breaks
// reads as the LF one does, with the same positions in errors. A lone CR
// used to crash cue's YAML decoder (index out of range; FuzzParse seed
// 5ba8476772ff06d9).
func TestParseLineBreaks(t *testing.T) {
	want, err := Parse("manoctl.yaml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	for name, sep := range map[string]string{"CR": "\r", "CRLF": "\r\n"} {
		src := strings.ReplaceAll(good, "\n", sep)
		got, err := Parse("manoctl.yaml", []byte(src))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(got.Services) != len(want.Services) || got.Services["demo-1"].NSD != want.Services["demo-1"].NSD || string(got.Data) != src {
			t.Errorf("%s: decoded %+v", name, got)
		}
		bad := strings.ReplaceAll(strings.Replace(good, `"0.1"`, `0.1`, 1), "\n", sep)
		if _, err := Parse("manoctl.yaml", []byte(bad)); err == nil || !strings.Contains(err.Error(), "manoctl.yaml:7:") {
			t.Errorf("%s: error %v, want it at line 7", name, err)
		}
	}
	if _, err := Parse("manoctl.yaml", []byte("\r\r00")); !IsInvalid(err) {
		t.Errorf("lone CRs: %v", err)
	}
}
