package check

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/manoctl/manoctl/schema"
)

// TestMalformed feeds documents of the wrong shape everywhere: the checks
// must neither panic nor report what the syntax level reports (types,
// missing required keys), and must still check what they can read.
func TestMalformed(t *testing.T) {
	v, n := baseVNFD, baseNSD
	tests := []struct {
		name   string
		inputs []input
		want   []string
	}{
		{name: "root is a list", inputs: []input{vnfd("- a\n- b\n"), nsd("[1, 2]\n")}},
		{name: "root is a scalar", inputs: []input{vnfd("just text\n"), nsd("42\n")}},
		{name: "sections of the wrong type", inputs: []input{vnfd(`
vendor: eu.test
name: fw
version: "0.1"
virtual_deployment_units: {id: vdu01}
connection_points: "mgmt"
virtual_links: 7
monitoring_rules: {condition: "vdu01:x > 1"}
function_specific_managers: [1, null, {id: [a], options: {key: type}}]
`), nsd(`
vendor: eu.test
name: s
version: "0.1"
network_functions: "vnf_fw"
connection_points: {id: x}
virtual_links: [null, 3, [a, b], {id: {a: 1}, connectivity_type: [E-Line], connection_points_reference: "a"}]
forwarding_graphs: {fg_id: x}
service_specific_managers: "none"
`)},
			want: []string{
				// A link whose connection_points_reference is not a list
				// reads as having none; the sections themselves are present.
				"fw.yml integrity.sm_type /function_specific_managers/2",
			},
		},
		{name: "sections that are null", inputs: []input{vnfd(`
vendor: eu.test
name: fw
version: "0.1"
virtual_deployment_units: null
connection_points: null
virtual_links: null
`), nsd(`
vendor: eu.test
name: s
version: "0.1"
network_functions: null
connection_points: null
virtual_links: null
forwarding_graphs: null
`)}},
		{name: "items of the wrong type", inputs: []input{vnfd(`
vendor: eu.test
name: fw
version: "0.1"
virtual_deployment_units: ["vdu01", null, [1], {id: null, vm_image: x, connection_points: [{id: {a: b}}, 3, null]}]
connection_points: [null, "mgmt", {id: [x]}]
virtual_links:
  - {id: l, connectivity_type: E-Line, connection_points_reference: [null, {a: b}]}
  - null
`)},
		// Nothing is readable enough to judge; the syntax level reports
		// every one of these.
		},
		{name: "numbers where strings belong are read as text", inputs: []input{vnfd(patch(t, v, "{id: input,", "{id: 5,", `["vdu01:eth1", input]`, `["vdu01:eth1", 5]`)), nsd(patch(t, n, `"vnf_fw:input"]`, `"vnf_fw:5"]`, `connection_point_ref: "vnf_fw:input", position: 2`, `connection_point_ref: "vnf_fw:5", position: 2.0`))}},
		{name: "forwarding paths of the wrong shape", inputs: []input{vnfd(v), nsd(patch(t, n, "      - fp_id: fp01\n", `      - fp_id: 3
        connection_points: [{connection_point_ref: [1], position: "x"}, 7, {connection_point_ref: input, position: 1.5}]
      - fp_id: fp01
`))}},
		{name: "identity of the wrong type: functions are taken on trust", inputs: []input{vnfd(v), nsd(patch(t, n, "vnf_vendor: eu.test", "vnf_vendor: {a: b}"))}},
		{name: "non-string mapping keys are read", inputs: []input{vnfd(patch(t, v, "connection_points:\n  - {id: mgmt", "1: integer key\nconnection_points:\n  - {id: input, interface: ipv4, type: external}\n  - {id: mgmt"))},
			want: []string{"fw.yml evt_duplicate_cpoint /connection_points/2/id"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			docs := parseInputs(t, tt.inputs...)
			got := Run(docs, schema.LevelTopology, Options{})
			if g, w := keys(got), slices.Sorted(slices.Values(tt.want)); !slices.Equal(g, w) {
				t.Errorf("findings:\n\tgot  %q\n\twant %q%s", g, w, dump(got))
			}
		})
	}
}

// denseRing builds an NSD whose forwarding graph joins every pair of k
// functions in both directions: a graph with a huge number of simple
// cycles, which the search must cut short. It has no virtual_links, so
// the pairs are not judged for adjacency.
func denseRing(k int) string {
	var b strings.Builder
	b.WriteString("vendor: eu.test\nname: dense\nversion: \"0.1\"\nnetwork_functions:\n")
	for i := 0; i < k; i++ {
		fmt.Fprintf(&b, "  - {vnf_id: f%d, vnf_vendor: eu.test, vnf_name: fw, vnf_version: \"0.1\"}\n", i)
	}
	b.WriteString("forwarding_graphs:\n  - fg_id: dense\n    network_forwarding_paths:\n      - fp_id: all\n        connection_points:\n")
	pos := 0
	for i := 0; i < k; i++ {
		for j := 0; j < k; j++ {
			if i == j {
				continue
			}
			pos += 2
			fmt.Fprintf(&b, "          - {connection_point_ref: \"f%d:output\", position: %d}\n", i, pos-1)
			fmt.Fprintf(&b, "          - {connection_point_ref: \"f%d:input\", position: %d}\n", j, pos)
		}
	}
	return b.String()
}

// TestDenseRingIsCut checks the bound of the cycle search: the dense ring
// has far more cycles than maxCycles, so exactly maxCycles are reported
// and the last one says the search was cut short.
func TestDenseRingIsCut(t *testing.T) {
	docs := parseInputs(t, vnfd(baseVNFD), nsd(denseRing(12)))
	opts := Options{Levels: map[string]schema.Severity{codeFPDisrupted: SeverityNone, codeNSDBadCPs: SeverityNone, codeNSDBadLinks: SeverityNone}}
	got := Run(docs, schema.LevelTopology, opts)
	var cycles []schema.Diagnostic
	for _, d := range got {
		if d.Code == codeFGCycles {
			cycles = append(cycles, d)
		}
	}
	if len(cycles) != maxCycles {
		t.Fatalf("%d cycle findings, want %d%s", len(cycles), maxCycles, dump(got))
	}
	if !strings.Contains(cycles[len(cycles)-1].Message, "cut short") {
		t.Errorf("last cycle finding does not say the search was cut short: %s", cycles[len(cycles)-1])
	}
}

func TestRunLevelsAndKinds(t *testing.T) {
	docs := parseInputs(t, vnfd(patch(t, baseVNFD, `"vdu01:eth2"`, `"vdu02:eth2"`)), nsd(patch(t, baseNSD, "connection_point_ref: output,", "connection_point_ref: nosuch,")))
	if got := Run(docs, schema.LevelSyntax, Options{}); got != nil {
		t.Errorf("syntax level: got %d findings, want none", len(got))
	}
	if got := Run(nil, schema.LevelTopology, Options{}); got != nil {
		t.Errorf("no documents: got %d findings", len(got))
	}
	// Other kinds and nil documents are ignored.
	record := &schema.Document{File: "r.yml", Kind: schema.KindVNFR, Value: docs[0].Value}
	withOthers := append([]*schema.Document{nil, record}, docs...)
	a, b := Run(docs, schema.LevelTopology, Options{}), Run(withOthers, schema.LevelTopology, Options{})
	if !reflect.DeepEqual(a, b) {
		t.Errorf("records and nil documents changed the result:%s\nvs%s", dump(a), dump(b))
	}
	for _, d := range Run(docs, schema.LevelIntegrity, Options{}) {
		if d.Level != schema.LevelIntegrity {
			t.Errorf("integrity run produced a %v finding: %s", d.Level, d)
		}
	}
	var top int
	for _, d := range a {
		if d.Level == schema.LevelTopology {
			top++
		}
	}
	if top == 0 {
		t.Errorf("topology run produced no topology finding:%s", dump(a))
	}
}

func TestLevelsOverride(t *testing.T) {
	docs := parseInputs(t, vnfd(patch(t, baseVNFD, "connection_points:\n  - {id: mgmt,", "connection_points:\n  - {id: spare, interface: ipv4, type: external}\n  - {id: mgmt,")))
	tests := []struct {
		level schema.Severity
		want  []schema.Severity
	}{
		{schema.SeverityError, []schema.Severity{schema.SeverityError}},
		{schema.SeverityInfo, []schema.Severity{schema.SeverityInfo}},
		{SeverityNone, nil},
	}
	for _, tt := range tests {
		got := Run(docs, schema.LevelTopology, Options{Levels: map[string]schema.Severity{codeVNFDUnusedCP: tt.level, "evt_no_such_code": SeverityNone}})
		var sevs []schema.Severity
		for _, d := range got {
			sevs = append(sevs, d.Severity)
		}
		if !slices.Equal(sevs, tt.want) {
			t.Errorf("level %v: severities %v, want %v%s", tt.level, sevs, tt.want, dump(got))
		}
	}
}

func TestParseSeverity(t *testing.T) {
	tests := []struct {
		in      string
		want    schema.Severity
		wantErr bool
	}{
		{"error", schema.SeverityError, false},
		{"Warning", schema.SeverityWarning, false},
		{"warn", schema.SeverityWarning, false},
		{"info", schema.SeverityInfo, false},
		{" none ", SeverityNone, false},
		{"off", SeverityNone, false},
		{"fatal", 0, true},
		{"", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseSeverity(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseSeverity(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

// TestCatalogue checks the catalogue's invariants: unique codes, the evt_
// prefix only for son-validate's ids and integrity.* for manoctl's own, and
// son-validate's default levels (descriptors.md §9.8).
func TestCatalogue(t *testing.T) {
	warnings := map[string]bool{ // §9.8, the ones at integrity/topology level
		"evt_nsd_itg_unused_cpoint": true, "evt_vnfd_itg_unused_cpoint": true, "evt_nsd_top_topgraph_disconnected": true,
		"evt_nsd_top_fwgraph_position_duplicate": true, "evt_nsd_top_fwgraph_cpoints_odd": true, "evt_nsd_top_fwgraph_cycles": true,
	}
	seen := map[string]bool{}
	for _, c := range Checks() {
		if seen[c.Code] {
			t.Errorf("duplicate code %s", c.Code)
		}
		seen[c.Code] = true
		if c.Summary == "" || c.Level < schema.LevelIntegrity || c.Level > schema.LevelTopology {
			t.Errorf("%s: incomplete entry %+v", c.Code, c)
		}
		switch {
		case strings.HasPrefix(c.Code, "evt_"):
			want := schema.SeverityError
			if warnings[c.Code] {
				want = schema.SeverityWarning
			}
			if c.Code == codeFGUnavailable {
				want = SeverityNone
			}
			if c.Severity != want {
				t.Errorf("%s: default %v, son-validate's is %v", c.Code, c.Severity, want)
			}
		case strings.HasPrefix(c.Code, "integrity."):
		default:
			t.Errorf("%s: neither evt_ nor integrity.", c.Code)
		}
	}
	c := Checks()
	c[0].Code = "changed"
	if Checks()[0].Code == "changed" {
		t.Error("Checks returns the catalogue itself, not a copy")
	}
}

// TestDeterministic runs the corpus several times: map iteration order
// must not leak into the result.
func TestDeterministic(t *testing.T) {
	byRepo, repos, _ := corpusDocs(t)
	var first []schema.Diagnostic
	for i := 0; i < 5; i++ {
		var all []schema.Diagnostic
		for _, repo := range repos {
			all = append(all, Run(byRepo[repo], schema.LevelTopology, Options{})...)
		}
		if i == 0 {
			first = all
			continue
		}
		if !reflect.DeepEqual(all, first) {
			t.Fatalf("run %d differs from the first", i)
		}
	}
}

func TestDescribeInvisible(t *testing.T) {
	tests := []struct{ in, want string }{
		{"output   ", "3 × U+0020 SPACE at the end"},
		{"\tx", "U+0009 CHARACTER TABULATION at the start"},
		{"a\u00a0b\u200b", "U+00A0 NO-BREAK SPACE inside; U+200B ZERO WIDTH SPACE at the end"},
		{"\ufeffid", "U+FEFF ZERO WIDTH NO-BREAK SPACE at the start"},
		{"  ", "2 × U+0020 SPACE (nothing else)"},
		{"a\xffb", "an invalid UTF-8 byte inside"},
	}
	for _, tt := range tests {
		if !hasInvisible(tt.in) {
			t.Errorf("hasInvisible(%q) = false", tt.in)
		}
		if got := describeInvisible(tt.in); got != tt.want {
			t.Errorf("describeInvisible(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	for _, s := range []string{"", "vdu01:eth0", "a-b_c.d", "ünïcödé"} {
		if hasInvisible(s) {
			t.Errorf("hasInvisible(%q) = true", s)
		}
	}
}

func TestVersions(t *testing.T) {
	tests := []struct {
		version, constraint string
		want                bool
	}{
		{"0.1", "0.1", true},
		{"0.1", "0.10", false},
		{"0.10", ">= 0.9", true},
		{"0.9", ">= 0.10", false},
		{"1.0", "<= 1", true},
		{"1.0.1", "<= 1", false},
		{"0.3", "!= 0.3", false},
		{"0.3", "== 0.3", true},
		{"0.3.0", "== 0.3", false}, // == compares exactly, like a plain version
		{"1-2", ">= 1_1", true},
	}
	for _, tt := range tests {
		op, want := versionOp(tt.constraint)
		if op == "" {
			want = tt.constraint
		}
		if got := satisfies(tt.version, op, want); got != tt.want {
			t.Errorf("%q satisfies %q = %v, want %v", tt.version, tt.constraint, got, tt.want)
		}
	}
}

func TestScalarText(t *testing.T) {
	tests := []struct {
		in   any
		want string
		ok   bool
	}{
		{"x", "x", true},
		{1, "1", true},
		{1.0, "1.0", true},
		{0.3, "0.3", true},
		{1e20, "1e+20", true},
		{true, "True", true},
		{nil, "", false},
		{[]any{"a"}, "", false},
		{map[string]any{}, "", false},
	}
	for _, tt := range tests {
		got, ok := scalar(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("scalar(%#v) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// TestLargeScopes covers the map-backed look-ups that long lists switch
// to (scopeMapMin): connection points, link references, path positions.
func TestLargeScopes(t *testing.T) {
	var cps, refs, path strings.Builder
	for i := 0; i < 2*scopeMapMin; i++ {
		fmt.Fprintf(&cps, "  - {id: p%d, interface: ipv4, type: internal}\n", i)
		fmt.Fprintf(&refs, ", p%d", i)
	}
	cps.WriteString("  - {id: p3, interface: ipv4, type: internal}\n")
	// A path that goes back and forth through the function four times:
	// every pair is a link and every hop starts where the last one ended.
	loop := []string{"input", `"vnf_fw:input"`, `"vnf_fw:output"`, "output", "output", `"vnf_fw:output"`, `"vnf_fw:input"`, "input"}
	for i := 0; i < 4*len(loop); i++ {
		fmt.Fprintf(&path, "          - {connection_point_ref: %s, position: %d}\n", loop[i%len(loop)], i+1)
	}
	path.WriteString("          - {connection_point_ref: \"vnf_fw:input\", position: 7}\n")
	v := patch(t, baseVNFD,
		"connection_points:\n  - {id: mgmt", "connection_points:\n"+cps.String()+"  - {id: mgmt",
		"virtual_links:\n", "virtual_links:\n  - {id: bus, connectivity_type: E-LAN, connection_points_reference: [\"vdu01:eth0\""+refs.String()+", p5]}\n")
	base := baseNSD[strings.Index(baseNSD, "          - {connection_point_ref: input, position: 1}"):strings.Index(baseNSD, "service_specific_managers:")]
	n := patch(t, baseNSD, base, path.String())
	// Downgraded, the VNFD's findings leave it valid, so that the NSD's
	// long path is judged against the service graph too.
	opts := Options{Levels: map[string]schema.Severity{codeDuplicateCP: schema.SeverityWarning, codeLinkDuplicateRef: schema.SeverityWarning}}
	got := Run(parseInputs(t, vnfd(v), nsd(n)), schema.LevelTopology, opts)
	want := []string{
		"fw.yml evt_duplicate_cpoint /connection_points/32/id",
		"fw.yml integrity.vlink_duplicate_ref /virtual_links/0/connection_points_reference/33",
		"nsd.yml evt_nsd_top_fwgraph_position_duplicate /forwarding_graphs/0/network_forwarding_paths/0/connection_points/32/position",
	}
	if g := keys(got); !slices.Equal(g, want) {
		t.Errorf("findings:\n\tgot  %q\n\twant %q%s", g, want, dump(got))
	}
}
