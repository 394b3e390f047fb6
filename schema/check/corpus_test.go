package check

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/manoctl/manoctl/schema"
)

// corpusDir locates the shared corpus at ../shared/corpus relative to the
// module root and fails the test when it is missing.
func corpusDir(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatal("corpus: no go.mod above the test directory, cannot locate ../shared/corpus")
		}
		dir = parent
	}
	corpus := filepath.Join(dir, "..", "shared", "corpus")
	if _, err := os.Stat(filepath.Join(corpus, "INDEX.md")); err != nil {
		tb.Fatalf("corpus: %s/INDEX.md not found (%v); the oracle test and the benchmark need the shared descriptor corpus next to the module (../shared/corpus)", corpus, err)
	}
	return corpus
}

// indexEntry is one row of corpus/INDEX.md.
type indexEntry struct {
	repo, path, kind string
	// integrity is the "integrity (own re-impl.)" cell: "ok", "—", or
	// event counts.
	integrity string
}

func (e indexEntry) file() string { return e.repo + "/" + e.path }

// readIndex parses the per-repository tables of INDEX.md.
func readIndex(tb testing.TB, corpus string) []indexEntry {
	tb.Helper()
	f, err := os.Open(filepath.Join(corpus, "INDEX.md"))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var (
		out  []indexEntry
		repo string
	)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if r, ok := strings.CutPrefix(line, "## "); ok {
			repo = strings.TrimSpace(r)
			continue
		}
		cells := strings.Split(line, "|")
		if repo == "" || len(cells) < 3 {
			continue
		}
		if _, err := strconv.Atoi(strings.TrimSpace(cells[1])); err != nil {
			continue // header, separator or summary table
		}
		if len(cells) != 14 {
			tb.Fatalf("INDEX.md: row %q has %d cells, want 14", line, len(cells))
		}
		out = append(out, indexEntry{
			repo:      repo,
			path:      strings.TrimSpace(cells[2]),
			kind:      strings.TrimSpace(cells[3]),
			integrity: strings.TrimSpace(cells[10]),
		})
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	if len(out) < 100 {
		tb.Fatalf("INDEX.md: only %d rows parsed; has the format changed?", len(out))
	}
	return out
}

// sonCLITestSamples groups son-cli's loose service samples with
// functions/valid, as son-cli's own tests validate them
// (--dpath samples/functions/valid): the repository holds four VNFDs per
// triple in its functions/* folders, so "anywhere in the repo folder"
// would be ambiguous for these services.
const sonCLISamples = "src/son/validate/tests/samples/"

// packageOf returns the package a corpus file belongs to, following
// INDEX.md: VNFDs resolve inside the same SDK project or package
// directory first, else among the loose files of the repository folder.
func packageOf(e indexEntry) string {
	if i := strings.Index(e.path, ".son/"); i >= 0 {
		return e.repo + "/" + e.path[:i+len(".son")]
	}
	if i := strings.Index(e.path, "/sources/"); i >= 0 {
		return e.repo + "/" + e.path[:i]
	}
	if e.repo == "son-cli" && (strings.HasPrefix(e.path, sonCLISamples+"services/") || strings.HasPrefix(e.path, sonCLISamples+"functions/valid/")) {
		return "son-cli/" + sonCLISamples + "{services,functions/valid}"
	}
	return ""
}

// corpusDocs loads the NSDs and VNFDs of the corpus, grouped by
// repository folder, in INDEX order.
func corpusDocs(tb testing.TB) (byRepo map[string][]*schema.Document, repos []string, entries []indexEntry) {
	tb.Helper()
	corpus := corpusDir(tb)
	entries = readIndex(tb, corpus)
	byRepo = map[string][]*schema.Document{}
	for _, e := range entries {
		var kind schema.Kind
		switch e.kind {
		case "nsd":
			kind = schema.KindNSD
		case "vnfd":
			kind = schema.KindVNFD
		default:
			continue
		}
		src, err := os.ReadFile(filepath.Join(corpus, e.repo, filepath.FromSlash(e.path)))
		if err != nil {
			tb.Fatal(err)
		}
		docs, err := parseDocs(e.file(), packageOf(e), kind, src)
		if err != nil {
			tb.Fatal(err)
		}
		if len(docs) != 1 {
			tb.Fatalf("%s: %d documents, want 1", e.file(), len(docs))
		}
		if _, ok := byRepo[e.repo]; !ok {
			repos = append(repos, e.repo)
		}
		byRepo[e.repo] = append(byRepo[e.repo], docs...)
	}
	return byRepo, repos, entries
}

var indexCount = regexp.MustCompile(`([a-z_]+)×([0-9]+)`)

// indexCounts reads an integrity cell into expected counts per code,
// checking that each code sits on the side (errors, "warn:") of its
// default severity.
func indexCounts(t *testing.T, e indexEntry) map[string]int {
	t.Helper()
	m := map[string]int{}
	if e.integrity == "ok" {
		return m
	}
	errPart, warnPart, _ := strings.Cut(e.integrity, "warn:")
	for part, sev := range map[string]schema.Severity{errPart: schema.SeverityError, warnPart: schema.SeverityWarning} {
		for _, g := range indexCount.FindAllStringSubmatch(part, -1) {
			code := g[1]
			if code == "vdu_cp_unused" {
				code = codeVDUCPUnused
			}
			c := catalogueByCode[code]
			if c == nil {
				t.Errorf("%s: INDEX names %s, which is not in the catalogue", e.file(), g[1])
				continue
			}
			if c.Severity != sev {
				t.Errorf("%s: INDEX lists %s as %v, the catalogue's default is %v", e.file(), code, sev, c.Severity)
			}
			n, _ := strconv.Atoi(g[2])
			m[code] += n
		}
	}
	return m
}

// compared reports whether a code takes part in the comparison with the
// INDEX column: son-validate's event ids, and integrity.vdu_cp_unused, which
// the INDEX reports as vdu_cp_unused. The other integrity.* checks are ones
// son-validate never had (see manoOnly).
func compared(code string) bool {
	return strings.HasPrefix(code, "evt_") || code == codeVDUCPUnused
}

// manoOnly lists, with the reason, every manoctl check that is left out
// of the comparison because son-validate and the INDEX re-implementation
// never had it. TestCorpusOracle fails when a catalogue code is neither
// compared nor listed here.
var manoOnly = map[string]string{
	codeIDWhitespace:     "§11 whitespace in ids: son-validate compared ids exactly and reported the symptom (an undeclared reference, an unused cp)",
	codeIDInvalid:        "§11: son-validate only checked ':' in connection-point ids",
	codeDuplicateID:      "§11 id uniqueness in every scope: son-validate only checked cps and links",
	codeLinkDuplicateRef: "descriptors.md §7 #4: the schema's misplaced uniqueItems; son-validate never checked",
	codeETreeInvalid:     "§11: son-validate ignored E-Tree links entirely",
	codeVNFDAmbiguous:    "son-validate kept the first VNFD of a triple and logged without an event",
	codeVDUImageMissing:  "§7 #11: son-validate crashed on a VDU without vm_image",
	codeVNFCPUnwired:     "§11 wiring",
	codeMgmtOnDataLink:   "§11 connection-point type semantics",
	codeMonitoringParam:  "§11 monitoring rules",
	codeFGLinkCount:      "§11 forwarding-graph bookkeeping",
	codeFGVNFUndefined:   "§11 forwarding-graph bookkeeping",
	codeFGLinkUndefined:  "§11 forwarding-graph bookkeeping",
	codeScaleInOut:       "§11 scale_in_out",
	codeSizeImplausible:  "§11 unit mismatches",
	codeSMID:             "§11 SM descriptors",
	codeSMType:           "§11 SM descriptors",
	codeExternalRef:      "son-validate crashed on reference-form links and graphs (KeyError id / fg_id)",
}

// deviation is a deliberate difference from the INDEX column for one file:
// manoctl reports delta more (or, negative, fewer) findings of code.
type deviation struct {
	file   string
	code   string
	delta  int
	reason string
}

// Reasons for the deviations below.
const (
	whyUndeclared   = "an unresolvable bare cp, or vnf_id:cp whose VNF lacks the cp, is evt_nsd_itg_undeclared_cpoint (descriptors.md §9.5 #10, son-validate's undeclared_connection_points); the INDEX re-implementation files every NSD reference under evt_nsd_itg_undefined_cpoint, which son-validate reserves for an unknown vnf_id (#12)"
	whyNoNFs        = "no network_functions section: son-validate's integrity fails with evt_nsd_itg_function_unavailable (§9.5 #1, §7 #11); the INDEX re-implementation ignores the missing section"
	whySections     = "a missing connection_points / virtual_links / VDU connection_points section is an integrity error in son-validate (§9.5 #3–4, §9.6 #1, #4, #5; §7 #11: it failed or crashed); the INDEX re-implementation ignores missing sections"
	whyInvalidFn    = "the NSD uses a VNFD that has errors of its own: son-validate fails the service with evt_nsd_itg_function_invalid (§9.5 #2); the INDEX re-implementation never reports it"
	whyWhitespace   = "the reference \"output   \" has trailing blanks: manoctl reports integrity.id_whitespace once and resolves the trimmed id, instead of the cascade undeclared reference + unused cp"
	whyPairs        = "the INDEX re-implementation does not walk forwarding paths pair by pair (disrupted hops) nor search the function graph for cycles; son-validate does (§9.7): path insert_cycles jumps between functions twice, and the paths form 3 cycles of 3 or more functions"
	whyDisconnected = "the INDEX re-implementation never reports a disconnected service graph; by §9.7 the E-LAN ctrl-port is not part of the VNF-internal graph, so the control E-Line (ovs1:ctrl-port, ctrl:ctrl-port) is a part of its own, and son-validate warns"
	whyNoCascade    = "a missing section (connection_points, virtual_links, network_functions) is reported once; manoctl does not also report every reference into it (undeclared, undefined, path cps) or every cp as unused, as the INDEX re-implementation does"
)

// Path prefixes of the deviation table.
const (
	sx          = "son-examples/service-projects/"
	smTest      = "son-mano-framework/plugins/son-mano-specificmanager/test/test_descriptors/"
	cliValidate = "son-cli/src/son/validate/"
)

// deviations lists every difference from the INDEX column, file by file.
var deviations = []deviation{
	{"son-schema/service-descriptor/examples/simplest-example.yml", "evt_nsd_itg_function_unavailable", 1, whyNoNFs},
	{"son-schema/service-descriptor/examples/simplest-example.yml", "evt_nsd_itg_badsection_cpoints", 1, whySections},
	{"son-schema/service-descriptor/examples/simplest-example.yml", "evt_nsd_itg_badsection_vlinks", 1, whySections},
	{sx + "sonata-fw-service-emu/sources/nsd/nsd.yml", "evt_nsd_itg_undeclared_cpoint", 2, whyUndeclared},
	{sx + "sonata-fw-service-emu/sources/nsd/nsd.yml", "evt_nsd_itg_undefined_cpoint", -2, whyUndeclared},
	{sx + "sonata-fw-service-sp/sources/nsd/sonata-demo.yml", "evt_nsd_itg_undeclared_cpoint", 3, whyUndeclared},
	{sx + "sonata-fw-service-sp/sources/nsd/sonata-demo.yml", "evt_nsd_itg_undefined_cpoint", -3, whyUndeclared},
	{sx + "sonata-fw-service-sp/sources/nsd/sonata-demo.yml", "evt_nsd_itg_function_invalid", 1, whyInvalidFn},
	{sx + "sonata-fw-vtc-service-emu/sources/nsd/fw-vtc-nsd.yml", "evt_nsd_itg_undeclared_cpoint", 2, whyUndeclared},
	{sx + "sonata-fw-vtc-service-emu/sources/nsd/fw-vtc-nsd.yml", "evt_nsd_itg_undefined_cpoint", -2, whyUndeclared},
	{sx + "sonata-fw-vtc-service-update-sp/sources/nsd/sonata-demo.yml", "evt_nsd_itg_undeclared_cpoint", 6, whyUndeclared},
	{sx + "sonata-fw-vtc-service-update-sp/sources/nsd/sonata-demo.yml", "evt_nsd_itg_undefined_cpoint", -6, whyUndeclared},
	{sx + "sonata-fw-vtc-service-update-sp/sources/nsd/sonata-demo.yml", "evt_nsd_itg_function_invalid", 2, whyInvalidFn},
	{sx + "sonata-ovs-user-service-emu/sources/nsd/nsd.yml", "evt_nsd_top_topgraph_disconnected", 1, whyDisconnected},
	{sx + "sonata-proxy-lb-service-emu/sources/nsd/nsd.yml", "evt_nsd_itg_function_invalid", 3, whyInvalidFn},
	{sx + "sonata-proxy-lb-service-emu/sources/vnf/squid-vnf/squid-vnf-vnfd.yml", "evt_vnfd_itg_undeclared_cpoint", -1, whyWhitespace},
	{sx + "sonata-proxy-lb-service-emu/sources/vnf/squid-vnf/squid-vnf-vnfd.yml", "evt_vnfd_itg_unused_cpoint", -1, whyWhitespace},
	{sx + "sonata-stress-service-emu/sources/nsd/nsd.yml", "evt_nsd_itg_badsection_cpoints", 1, whySections},
	{sx + "sonata-stress-service-emu/sources/nsd/nsd.yml", "evt_nsd_itg_badsection_vlinks", 1, whySections},
	{sx + "sonata-stress-service-emu/sources/nsd/nsd.yml", "evt_nsd_itg_function_invalid", 3, whyInvalidFn},
	{sx + "sonata-stress-service-emu/sources/vnf/stress-vnf1/stress-vnf1-vnfd.yml", "evt_vnfd_itg_badsection_cpoints", 1, whySections},
	{sx + "sonata-stress-service-emu/sources/vnf/stress-vnf1/stress-vnf1-vnfd.yml", "evt_vnfd_itg_badsection_vlinks", 1, whySections},
	{sx + "sonata-stress-service-emu/sources/vnf/stress-vnf1/stress-vnf1-vnfd.yml", "evt_vnfd_itg_vdu_badsection_cpoints", 1, whySections},
	{sx + "sonata-stress-service-emu/sources/vnf/stress-vnf2/stress-vnf2-vnfd.yml", "evt_vnfd_itg_badsection_cpoints", 1, whySections},
	{sx + "sonata-stress-service-emu/sources/vnf/stress-vnf2/stress-vnf2-vnfd.yml", "evt_vnfd_itg_badsection_vlinks", 1, whySections},
	{sx + "sonata-stress-service-emu/sources/vnf/stress-vnf2/stress-vnf2-vnfd.yml", "evt_vnfd_itg_vdu_badsection_cpoints", 1, whySections},
	{sx + "sonata-stress-service-emu/sources/vnf/stress-vnf3/stress-vnf3-vnfd.yml", "evt_vnfd_itg_badsection_cpoints", 1, whySections},
	{sx + "sonata-stress-service-emu/sources/vnf/stress-vnf3/stress-vnf3-vnfd.yml", "evt_vnfd_itg_badsection_vlinks", 1, whySections},
	{sx + "sonata-stress-service-emu/sources/vnf/stress-vnf3/stress-vnf3-vnfd.yml", "evt_vnfd_itg_vdu_badsection_cpoints", 1, whySections},
	{smTest + "nsd.yml", "evt_nsd_itg_function_invalid", 2, whyInvalidFn},
	{smTest + "nsdt.yml", "evt_nsd_itg_function_invalid", 2, whyInvalidFn},
	{smTest + "nsdu.yml", "evt_nsd_itg_function_invalid", 2, whyInvalidFn},
	{smTest + "vnfd2.yml", "evt_vnfd_itg_badsection_cpoints", 1, whySections},
	{smTest + "vnfd2.yml", "evt_vnfd_itg_undeclared_cpoint", -2, whyNoCascade},
	{cliValidate + "tests/samples/functions/invalid_syntax/iperf-vnfd.yml", "evt_vnfd_itg_badsection_vlinks", 1, whySections},
	{cliValidate + "tests/samples/functions/invalid_syntax/iperf-vnfd.yml", "evt_vnfd_itg_vdu_badsection_cpoints", 1, whySections},
	{cliValidate + "tests/samples/functions/invalid_syntax/iperf-vnfd.yml", "evt_vnfd_itg_unused_cpoint", -3, whyNoCascade},
	{cliValidate + "tests/samples/functions/invalid_syntax/tcpdump-vnfd.yml", "evt_vnfd_itg_badsection_cpoints", 1, whySections},
	{cliValidate + "tests/samples/functions/invalid_syntax/tcpdump-vnfd.yml", "evt_vnfd_itg_undeclared_cpoint", -3, whyNoCascade},
	{cliValidate + "tests/samples/services/invalid_syntax.yml", "evt_nsd_itg_function_unavailable", 1, whyNoNFs},
	{cliValidate + "tests/samples/services/invalid_syntax.yml", "evt_nsd_itg_undefined_cpoint", -11, whyNoCascade},
	{cliValidate + "tests/samples/services/invalid_syntax.yml", "evt_nsd_top_fwgraph_cpoint_undefined", -6, whyNoCascade},
	{cliValidate + "gui/sample/projects/p-valid-complex-cycles/sources/nsd/sonata-demo.yml", "evt_nsd_top_fwpath_disrupted", 2, whyPairs},
	{cliValidate + "gui/sample/projects/p-valid-complex-cycles/sources/nsd/sonata-demo.yml", "evt_nsd_top_fwgraph_cycles", 3, whyPairs},
	{"son-cli/src/son/workspace/samples/nsd-sample.yml", "evt_nsd_itg_function_invalid", 1, whyInvalidFn},
}

// TestCorpusOracle runs integrity and topology over the corpus and
// compares, per file, the son-validate event ids (with counts) with the
// INDEX column, allowing only the deviations listed above.
func TestCorpusOracle(t *testing.T) {
	byRepo, repos, entries := corpusDocs(t)
	var diags []schema.Diagnostic
	for _, repo := range repos {
		diags = append(diags, Run(byRepo[repo], schema.LevelTopology, Options{})...)
	}

	for _, c := range catalogue {
		if !compared(c.Code) && manoOnly[c.Code] == "" {
			t.Errorf("check %s is neither compared with INDEX nor listed in manoOnly with a reason", c.Code)
		}
	}

	devs := map[string][]deviation{}
	for _, dv := range deviations {
		if dv.reason == "" || dv.delta == 0 {
			t.Errorf("deviation %+v: needs a reason and a non-zero delta", dv)
		}
		devs[dv.file] = append(devs[dv.file], dv)
	}
	checked := map[string]bool{}
	for _, e := range entries {
		if e.kind != "nsd" && e.kind != "vnfd" {
			continue
		}
		if e.integrity == "—" {
			t.Errorf("%s: an %s without an integrity result in INDEX", e.file(), e.kind)
			continue
		}
		checked[e.file()] = true
		want := indexCounts(t, e)
		for _, dv := range devs[e.file()] {
			want[dv.code] += dv.delta
		}
		got := map[string]int{}
		var mine []schema.Diagnostic
		for _, d := range diags {
			if d.File == e.file() {
				mine = append(mine, d)
				if compared(d.Code) {
					got[d.Code]++
				}
			}
		}
		if g, w := formatCounts(got), formatCounts(want); g != w {
			t.Errorf("%s:\n\tgot  %s\n\twant %s (INDEX %q with %d deviation(s))%s", e.file(), g, w, e.integrity, len(devs[e.file()]), dump(mine))
		}
	}
	for file := range devs {
		if !checked[file] {
			t.Errorf("deviation for %s, which is not an NSD or VNFD of the INDEX", file)
		}
	}
}

// TestCorpusManoFindings pins findings of manoctl's own checks on real
// descriptors, among them the ones descriptors.md §11 cites.
func TestCorpusManoFindings(t *testing.T) {
	byRepo, repos, _ := corpusDocs(t)
	var diags []schema.Diagnostic
	for _, repo := range repos {
		diags = append(diags, Run(byRepo[repo], schema.LevelTopology, Options{})...)
	}
	tests := []struct{ file, code, pointer, msg string }{
		// The official v3.0 examples define vm_mem_pers but monitor vm_mem_perc.
		{"son-schema/function-descriptor/examples/firewall-vnfd.yml", codeMonitoringParam, "/monitoring_rules/1/condition", `defines no monitoring parameter "vm_mem_perc"`},
		{"son-schema/function-descriptor/examples/vtc-vnfd.yml", codeMonitoringParam, "/monitoring_rules/1/condition", `defines no monitoring parameter "vm_mem_perc"`},
		// Every official sonata-demo example: 4 declared, 5 listed.
		{"son-schema/service-descriptor/examples/sonata-demo.yml", codeFGLinkCount, "/forwarding_graphs/0/number_of_virtual_links", "number_of_virtual_links 4 but lists 5"},
		{sx + "sonata-proxy-lb-service-emu/sources/vnf/squid-vnf/squid-vnf-vnfd.yml", codeIDWhitespace, "/virtual_links/2/connection_points_reference/1", "3 × U+0020 SPACE at the end"},
		{cliValidate + "gui/sample/projects/p-valid-complex-cycles/sources/nsd/sonata-demo.yml", codeFGLinkUndefined, "/forwarding_graphs/0/constituent_virtual_links/4", `"tcpdump-2-output"`},
		{"son-cli/src/son/workspace/samples/nsd-sample.yml", codeFGVNFUndefined, "/forwarding_graphs/0/constituent_vnfs/0", `"vnf_sample"`},
		{smTest + "nsdt.yml", codeDuplicateID, "/service_specific_managers/2/id", `"sonssmservice1placement1"`},
		{smTest + "nsd.yml", codeVNFDAmbiguous, "/network_functions/1", "provided by 5 input documents"},
		{sx + "sonata-ovs-user-service-emu/sources/nsd/nsd.yml", codeMgmtOnDataLink, "/virtual_links/1/connection_points_reference/0", `"ovs1:ctrl-port"`},
	}
	for _, tt := range tests {
		found := false
		for _, d := range diags {
			if d.File == tt.file && d.Code == tt.code && d.Pointer == tt.pointer && strings.Contains(d.Message, tt.msg) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("%s: no %s at %s mentioning %q", tt.file, tt.code, tt.pointer, tt.msg)
		}
	}
}

// BenchmarkRunCorpus runs integrity and topology over the corpus NSDs and
// VNFDs, one Run per repository folder as in TestCorpusOracle, and
// reports the cost per document (the pipeline targets at least 2,000
// documents/s per core at syntax+integrity). The cost includes the ~370
// findings the corpus produces.
func BenchmarkRunCorpus(b *testing.B) {
	byRepo, repos, _ := corpusDocs(b)
	n := 0
	for _, repo := range repos {
		n += len(byRepo[repo])
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, repo := range repos {
			Run(byRepo[repo], schema.LevelTopology, Options{})
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/doc")
	b.ReportMetric(float64(n), "docs")
}
