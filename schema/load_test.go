package schema

import (
	"archive/zip"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestResolve11Tag(t *testing.T) {
	tests := []struct {
		in   string
		tag  string
		want any
	}{
		{"yes", tagBool, true}, {"No", tagBool, false}, {"on", tagBool, true}, {"OFF", tagBool, false},
		{"true", tagBool, true}, {"y", tagStr, "y"}, {"n", tagStr, "n"},
		{"012", tagInt, 10}, {"0x1F", tagInt, 31}, {"0b101", tagInt, 5}, {"1_000", tagInt, 1000},
		{"1:30", tagInt, 90}, {"-42", tagInt, -42}, {"08", tagStr, "08"},
		{"1e3", tagStr, "1e3"}, {"1.0e+3", tagFloat, 1000.0}, {"0.3", tagFloat, 0.3}, {"1.", tagFloat, 1.0},
		{".5", tagFloat, 0.5}, {"-.inf", tagFloat, nil}, {"1:30.5", tagFloat, 90.5},
		{"2017-09-01", tagTimestamp, "2017-09-01"}, {"2001-12-14t21:59:43.10-05:00", tagTimestamp, "2001-12-14t21:59:43.10-05:00"},
		{"~", tagNull, nil}, {"null", tagNull, nil}, {"", tagNull, nil},
		{"0.1-beta", tagStr, "0.1-beta"}, {"<<", tagMerge, "<<"}, {"vnf_id", tagStr, "vnf_id"},
	}
	for _, tc := range tests {
		if got := resolve11Tag(tc.in); got != tc.tag {
			t.Errorf("resolve11Tag(%q) = %s, want %s", tc.in, got, tc.tag)
			continue
		}
		if tc.in == "-.inf" || tc.tag == tagMerge {
			continue
		}
		got := ScalarValue(&yaml.Node{Kind: yaml.ScalarNode, Tag: tc.tag, Value: tc.in})
		if got != tc.want {
			t.Errorf("ScalarValue(%q) = %#v, want %#v", tc.in, got, tc.want)
		}
	}
}

func TestDetectKind(t *testing.T) {
	tests := []struct {
		src  string
		want Kind
		tng  bool
	}{
		{"descriptor_version: '1.0'\nvendor: v\nname: n\nversion: '1'\n", KindNSD, false},
		{"vendor: v\nnetwork_functions: []\nlicenses: []\n", KindNSD, false},
		{"vendor: v\nvirtual_deployment_units: []\n", KindVNFD, false},
		{"descriptor_version: vnfd-schema-02\nvendor: v\n", KindVNFD, false},
		{"vendor: v\nmaintainer: m\n", KindPD, false},
		{"vendor: v\npackage_content: []\n", KindPD, false},
		{"id: x\nstatus: offline\nnetwork_functions: []\n", KindNSR, false},
		{"id: x\nstatus: offline\nvirtual_deployment_units: []\n", KindVNFR, false},
		{"descriptor_version: nsr-schema-01\n", KindNSR, false},
		{"uuid: x\nstatus: offline\nparent_ns: y\n", KindVNFR, false},
		{"descriptor_schema: https://x/vnfd-schema.yml\nvendor: v\n", KindUnknown, true},
		{"image_format: bare\n", KindUnknown, false},
		{"- a\n- b\n", KindUnknown, false},
	}
	for _, tc := range tests {
		var n yaml.Node
		if err := yaml.Unmarshal([]byte(tc.src), &n); err != nil {
			t.Fatal(err)
		}
		got, tng := DetectKind(&n)
		if got != tc.want || (tng != "") != tc.tng {
			t.Errorf("DetectKind(%q) = %q, tng %q; want %q, tng %v", tc.src, got, tng, tc.want, tc.tng)
		}
	}
}

func codes(diags []Diagnostic) string {
	var out []string
	for _, d := range diags {
		out = append(out, d.Code)
	}
	return strings.Join(out, ",")
}

func TestLoadBytes(t *testing.T) {
	vnfd := "descriptor_version: vnfd-schema-01\nvendor: v\nname: n\nversion: '1'\nvirtual_deployment_units: []\n"
	tests := []struct {
		name, file, src string
		docs            int
		codes           string
		check           func(t *testing.T, docs []*Document, diags []Diagnostic)
	}{
		{name: "multi-document", file: "x.yml", src: vnfd + "---\n" + vnfd, docs: 2,
			check: func(t *testing.T, docs []*Document, _ []Diagnostic) {
				if docs[1].Index != 1 || docs[1].Root.Content[0].Line != 7 {
					t.Errorf("second document: index %d line %d", docs[1].Index, docs[1].Root.Line)
				}
			}},
		{name: "list of records", file: "x.yml", src: "- {id: a, status: offline, virtual_deployment_units: []}\n- {id: b, status: offline, virtual_deployment_units: []}\n", docs: 2,
			check: func(t *testing.T, docs []*Document, _ []Diagnostic) {
				if docs[1].Base != "/1" || docs[1].Kind != KindVNFR {
					t.Errorf("record 1: base %q kind %s", docs[1].Base, docs[1].Kind)
				}
				if d := docs[1].Diag(LevelSyntax, SeverityError, "x", "/id", "m"); d.Pointer != "/1/id" || d.Line != 2 {
					t.Errorf("Diag on a record: %+v", d)
				}
			}},
		{name: "empty", file: "x.yml", src: "# nothing\n", codes: CodeInvalidDescriptor},
		{name: "empty documents are skipped", file: "x.yml", src: "---\n---\n" + vnfd, docs: 1},
		{name: "binary", file: "x.yml", src: "abc\x00def", codes: CodeBinary},
		{name: "invalid UTF-8", file: "x.yml", src: "a: \xff\xfe", codes: CodeBinary},
		{name: "broken YAML", file: "x.yml", src: "a: b\n  c: d\n", codes: CodeInvalidDescriptor,
			check: func(t *testing.T, _ []*Document, diags []Diagnostic) {
				if diags[0].Line == 0 {
					t.Errorf("broken YAML without a line: %s", diags[0])
				}
			}},
		{name: "alias bomb", file: "x.yml", src: "a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e,*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\nvendor: v\n",
			codes: CodeAliasLimit},
		{name: "duplicate key: last wins", file: "x.yml", src: "vendor: a\nvendor: b\nname: n\n", docs: 1, codes: CodeDuplicateKey,
			check: func(t *testing.T, docs []*Document, _ []Diagnostic) {
				if v := docs[0].Value.(map[string]any)["vendor"]; v != "b" {
					t.Errorf("vendor %v, want b", v)
				}
			}},
		{name: "merge keys", file: "x.yml", src: "base: &b {size: 2}\nvendor: v\nmemory:\n  <<: *b\n  unit: GB\n", docs: 1,
			check: func(t *testing.T, docs []*Document, _ []Diagnostic) {
				m := docs[0].Value.(map[string]any)["memory"].(map[string]any)
				if m["size"] != 2 || m["unit"] != "GB" || m["<<"] != nil {
					t.Errorf("merged %v", m)
				}
			}},
		{name: "YAML 1.1 in YAML", file: "x.yml", src: "vendor: v\nname: n\nversion: 1e3\nsealed: yes\n", docs: 1,
			check: func(t *testing.T, docs []*Document, _ []Diagnostic) {
				m := docs[0].Value.(map[string]any)
				if m["version"] != "1e3" || m["sealed"] != true {
					t.Errorf("got %#v", m)
				}
			}},
		{name: "JSON numbers in JSON", file: "x.json", src: `{"vendor": "v", "name": "n", "version": 1e3}`, docs: 1,
			check: func(t *testing.T, docs []*Document, _ []Diagnostic) {
				if v := docs[0].Value.(map[string]any)["version"]; v != 1000.0 {
					t.Errorf("version %#v, want 1000.0", v)
				}
			}},
		{name: "5GTANGO", file: "x.yml", src: "descriptor_schema: https://x\nvendor: v\n", codes: CodeTNG},
		{name: "unknown kind", file: "x.yml", src: "image_format: bare\n", codes: CodeKindUnknown},
		{name: "not a zip", file: "x.son", src: "PK\x03\x04garbage", codes: CodePackageFormat},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			docs, diags := LoadBytes(tc.file, []byte(tc.src), LoadOptions{})
			if len(docs) != tc.docs {
				t.Fatalf("%d documents, want %d (%v)", len(docs), tc.docs, diags)
			}
			if got := codes(diags); got != tc.codes {
				t.Fatalf("codes %q, want %q: %v", got, tc.codes, diags)
			}
			if tc.check != nil {
				tc.check(t, docs, diags)
			}
		})
	}
}

type member struct{ name, body string }

func zipOf(t *testing.T, members ...member) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, m := range members {
		w, err := zw.Create(m.name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(m.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestLoadPackage(t *testing.T) {
	manifest := "descriptor_version: '1.0'\nvendor: p\nname: p\nversion: '1'\nentry_service_template: /service_descriptors/nsd.yml\npackage_content:\n" +
		"  - {name: /service_descriptors/nsd.yml, content-type: application/sonata.service_descriptor, md5: '00000000000000000000000000000000'}\n" +
		"  - {name: /function_descriptors/vnfd.yml, content-type: application/sonata.function_descriptor}\n"
	nsd := "descriptor_version: '1.0'\nvendor: v\nname: s\nversion: '1'\nnetwork_functions: []\n"
	vnfd := "descriptor_version: vnfd-schema-01\nvendor: v\nname: f\nversion: '1'\nvirtual_deployment_units: []\n"
	tests := []struct {
		name    string
		members []member
		limits  PackageLimits
		docs    int
		codes   string
	}{
		{"complete", []member{{"META-INF/MANIFEST.MF", manifest}, {"service_descriptors/nsd.yml", nsd}, {"function_descriptors/vnfd.yml", vnfd}},
			PackageLimits{}, 3, CodePDInvalidMD5},
		{"missing descriptor", []member{{"META-INF/MANIFEST.MF", manifest}, {"service_descriptors/nsd.yml", nsd}},
			PackageLimits{}, 2, CodePDInvalidReference + "," + CodePDInvalidMD5},
		{"no manifest", []member{{"service_descriptors/nsd.yml", nsd}}, PackageLimits{}, 1, CodePackageStruct},
		{"extra META-INF entry", []member{{"META-INF/MANIFEST.MF", manifest}, {"META-INF/x", "x"}, {"service_descriptors/nsd.yml", nsd}, {"function_descriptors/vnfd.yml", vnfd}},
			PackageLimits{}, 3, CodePackageStruct + "," + CodePDInvalidMD5},
		{"empty descriptor directory", []member{{"META-INF/MANIFEST.MF", manifest}, {"service_descriptors/nsd.yml", nsd}, {"function_descriptors/vnfd.yml", vnfd}, {"docker_files/", ""}, {"function_descriptors/", ""}},
			PackageLimits{}, 3, CodePDInvalidMD5},
		{"zip slip", []member{{"META-INF/MANIFEST.MF", manifest}, {"../../etc/x.yml", nsd}}, PackageLimits{}, 0, CodePackageUnsafePath},
		{"absolute name", []member{{"/etc/x.yml", nsd}}, PackageLimits{}, 0, CodePackageUnsafePath},
		{"backslash name", []member{{`..\x.yml`, nsd}}, PackageLimits{}, 0, CodePackageUnsafePath},
		{"too many members", []member{{"a", "1"}, {"b", "2"}, {"c", "3"}}, PackageLimits{MaxMembers: 2}, 0, CodePackageLimits},
		{"member inflates too much", []member{{"META-INF/MANIFEST.MF", strings.Repeat("#", 5000)}}, PackageLimits{MaxMemberSize: 1000}, 0, CodePackageLimits},
		{"total inflates too much", []member{{"a", strings.Repeat("#", 600)}, {"b", strings.Repeat("#", 600)}}, PackageLimits{MaxTotalSize: 1000}, 0, CodePackageLimits},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			docs, diags := LoadBytes("p.son", zipOf(t, tc.members...), LoadOptions{Limits: tc.limits})
			if len(docs) != tc.docs {
				t.Fatalf("%d documents, want %d (%v)", len(docs), tc.docs, diags)
			}
			if got := codes(diags); got != tc.codes {
				t.Fatalf("codes %q, want %q: %v", got, tc.codes, diags)
			}
			for _, d := range docs {
				if d.Package != "p.son" || !strings.HasPrefix(d.File, "p.son:") {
					t.Errorf("member %s: package %q", d.File, d.Package)
				}
			}
		})
	}
}

func TestLoadPaths(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	vnfd := "descriptor_version: vnfd-schema-01\nvendor: v\nname: f\nversion: '1'\nvirtual_deployment_units: []\n"
	write("b/vnfd.yml", vnfd)
	write("a/vnfd.yaml", vnfd)
	write("a/notes.txt", "not yaml")
	write(".git/x.yml", "broken: [")
	write("a/compose.yml", "services: {}\n")
	write("pkg.son/META-INF/MANIFEST.MF", "descriptor_version: '1.0'\nvendor: p\nname: p\nversion: '1'\n")
	write("pkg.son/function_descriptors/vnfd.yml", vnfd)

	docs, diags := LoadPaths(context.Background(), []string{dir, filepath.Join(dir, "missing.yml"), "-"},
		LoadOptions{Stdin: strings.NewReader(vnfd), Workers: 3})
	var files []string
	for _, d := range docs {
		if d.File == "-" {
			files = append(files, "-="+string(d.Kind))
			continue
		}
		rel, _ := filepath.Rel(dir, d.File)
		files = append(files, filepath.ToSlash(rel)+"="+string(d.Kind))
	}
	want := "a/vnfd.yaml=vnfd,b/vnfd.yml=vnfd,pkg.son/META-INF/MANIFEST.MF=pd,pkg.son/function_descriptors/vnfd.yml=vnfd,-=vnfd"
	if got := strings.Join(files, ","); got != want {
		t.Errorf("documents\n%s, want\n%s", got, want)
	}
	// The unpacked package has no entry service and lists no content, so
	// its descriptors come from the descriptor directories.
	if docs[2].Package == "" {
		t.Errorf("package member without Package")
	}
	c := codes(diags)
	for _, wantCode := range []string{CodeKindUnknown, CodeUnreadable, CodePDMissingEntryService} {
		if !strings.Contains(c, wantCode) {
			t.Errorf("codes %s: want %s", c, wantCode)
		}
	}
	for _, d := range diags {
		if d.Code == CodeKindUnknown && d.Severity != SeverityInfo {
			t.Errorf("a walked non-descriptor should be info, got %s", d)
		}
	}
}

func TestLoadFileLimits(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.yml")
	if err := os.WriteFile(big, bytes.Repeat([]byte("# x\n"), 300), 0o644); err != nil {
		t.Fatal(err)
	}
	_, diags := LoadPaths(context.Background(), []string{big}, LoadOptions{MaxFileSize: 1000})
	if codes(diags) != CodeTooLarge {
		t.Errorf("codes %s, want %s", codes(diags), CodeTooLarge)
	}
	_, diags = LoadBytes("-", bytes.Repeat([]byte("# x\n"), 300), LoadOptions{MaxFileSize: 1000})
	if codes(diags) != CodeTooLarge {
		t.Errorf("stdin: codes %s, want %s", codes(diags), CodeTooLarge)
	}
}

func TestLoadCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dir := t.TempDir()
	for i := range 4 {
		if err := os.WriteFile(filepath.Join(dir, string(rune('a'+i))+".yml"), []byte("vendor: v\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, diags := LoadPaths(ctx, []string{dir}, LoadOptions{Workers: 1})
	if !strings.Contains(codes(diags), CodeUnreadable) {
		t.Errorf("a cancelled load must say so: %v", diags)
	}
}
