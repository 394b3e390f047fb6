package check

import (
	"strings"
	"testing"

	"github.com/manoctl/manoctl/schema"
)

// FuzzRun feeds arbitrary YAML streams to Run. Every document is checked
// both as an NSD and as a VNFD, so that an NSD can resolve a VNFD of the
// same stream. Run must not panic or hang, and every finding must be
// well-formed.
func FuzzRun(f *testing.F) {
	for _, s := range []string{
		baseVNFD, baseNSD, chainNSD, cycleNSD,
		baseVNFD + "\n---\n" + baseNSD,
		baseVNFD + "\n---\n" + cycleNSD,
		"virtual_links: [{id: a, connectivity_type: E-Line, connection_points_reference: [\"x:y:z\", \" b\"]}]",
		"forwarding_graphs: [{fg_id: g, network_forwarding_paths: [{connection_points: [{connection_point_ref: a}, {position: 1}]}]}]",
		"network_functions: [{vnf_id: a, vnf_vendor: v, vnf_name: n, vnf_version: \">= 1\"}]\nvendor: v\nname: n\nversion: \"2\"\nvirtual_deployment_units: []",
		"[1, {a: [b, {c: null}]}]",
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		if len(src) > 1<<16 {
			return // yaml.v3's own cost dominates; the checks are linear
		}
		docs, ok := parseFuzz(src)
		if !ok {
			return
		}
		var all []*schema.Document
		for _, d := range docs {
			v := *d
			v.Kind, v.File = schema.KindVNFD, "vnfd.yml"
			all = append(all, d, &v)
		}
		for _, level := range []schema.Level{schema.LevelIntegrity, schema.LevelTopology} {
			for _, d := range Run(all, level, Options{}) {
				c := catalogueByCode[d.Code]
				switch {
				case c == nil:
					t.Errorf("finding with a code outside the catalogue: %s", d)
				case d.Severity != c.Severity:
					t.Errorf("finding with severity %v, default %v: %s", d.Severity, c.Severity, d)
				case d.Level != c.Level || d.Level > level:
					t.Errorf("finding of level %v in a %v run: %s", d.Level, level, d)
				case d.Message == "" || strings.Contains(d.Message, "%!"):
					t.Errorf("malformed message: %s", d)
				case d.Pointer != "" && !strings.HasPrefix(d.Pointer, "/"):
					t.Errorf("malformed pointer: %s", d)
				}
			}
		}
	})
}

// parseFuzz parses src as a YAML stream of NSDs, giving up on what yaml.v3
// rejects (or, for inputs it cannot handle, panics on: not ours to find).
func parseFuzz(src []byte) (docs []*schema.Document, ok bool) {
	defer func() {
		if recover() != nil {
			docs, ok = nil, false
		}
	}()
	docs, _ = parseDocs("nsd.yml", "", schema.KindNSD, src)
	return docs, len(docs) > 0
}
