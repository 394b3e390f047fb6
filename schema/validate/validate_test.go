package validate

import (
	"context"
	"strings"
	"testing"

	"github.com/manoctl/manoctl/schema"
	"github.com/manoctl/manoctl/schema/syntax"
)

const (
	goodVNFD = "descriptor_version: vnfd-schema-01\nvendor: v\nname: f\nversion: '1'\nvirtual_deployment_units:\n  - id: vdu01\n    resource_requirements:\n      cpu: {vcpus: 1}\n      memory: {size: 2}\n"
	badVNFD  = "descriptor_version: vnfd-schema-01\nvendor: v\nname: f\nversion: 0.3\nvirtual_deployment_units: []\n"
	vnfr     = "descriptor_version: vnfr-schema-01\nid: nope\nstatus: offline\nvirtual_deployment_units:\n  - id: vdu01\n    resource_requirements:\n      cpu: {vcpus: 1}\n      memory: {size: 2}\n"
)

func loadAll(t *testing.T, files map[string]string) ([]*schema.Document, []schema.Diagnostic) {
	t.Helper()
	var docs []*schema.Document
	var diags []schema.Diagnostic
	for name, src := range files {
		d, g := schema.LoadBytes(name, []byte(src), schema.LoadOptions{})
		docs = append(docs, d...)
		diags = append(diags, g...)
	}
	return docs, diags
}

func TestDocuments(t *testing.T) {
	tests := []struct {
		name          string
		files         map[string]string
		opts          Options
		errs, warns   int
		failed        bool
		failedStrict  bool
		summaryCodes  string
		wantCodesHave []string
	}{
		{name: "valid", files: map[string]string{"a.yml": goodVNFD}, opts: Options{Level: schema.LevelSyntax}},
		{name: "invalid", files: map[string]string{"a.yml": badVNFD, "b.yml": goodVNFD}, opts: Options{Level: schema.LevelSyntax},
			errs: 2, failed: true, failedStrict: true, summaryCodes: "evt_vnfd_stx_invalid",
			wantCodesHave: []string{"schema.type", "schema.min_items"}},
		{name: "record findings are warnings", files: map[string]string{"r.yml": vnfr}, opts: Options{Level: schema.LevelSyntax},
			warns: 1, failedStrict: true, summaryCodes: "schema.vnfr_invalid"},
		{name: "strict records", files: map[string]string{"r.yml": vnfr}, opts: Options{Level: schema.LevelSyntax, StrictRecords: true},
			errs: 1, failed: true, failedStrict: true, summaryCodes: "schema.vnfr_invalid"},
		{name: "cue engine", files: map[string]string{"a.yml": badVNFD}, opts: Options{Level: schema.LevelSyntax, Engine: syntax.EngineCUE},
			errs: 2, failed: true, failedStrict: true, summaryCodes: "evt_vnfd_stx_invalid"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			docs, diags := loadAll(t, tc.files)
			rep, err := Documents(context.Background(), docs, diags, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			errs, warns, _ := rep.Counts()
			if errs != tc.errs || warns != tc.warns {
				t.Errorf("%d errors %d warnings, want %d and %d: %v", errs, warns, tc.errs, tc.warns, rep.Diagnostics)
			}
			if rep.Failed(false) != tc.failed || rep.Failed(true) != tc.failedStrict {
				t.Errorf("Failed = %v/%v (strict), want %v/%v", rep.Failed(false), rep.Failed(true), tc.failed, tc.failedStrict)
			}
			var summaries []string
			for _, d := range rep.Documents {
				if d.SummaryCode != "" {
					summaries = append(summaries, d.SummaryCode)
				}
			}
			if got := strings.Join(summaries, ","); got != tc.summaryCodes {
				t.Errorf("summary events %q, want %q", got, tc.summaryCodes)
			}
			var all []string
			for _, d := range rep.Diagnostics {
				all = append(all, d.Code)
			}
			for _, c := range tc.wantCodesHave {
				if !strings.Contains(strings.Join(all, ","), c) {
					t.Errorf("codes %v: want %s", all, c)
				}
			}
		})
	}
}

// TestLevelFilter: loader findings of the integrity level (a package's
// missing entry service) are dropped at --level syntax.
func TestLevelFilter(t *testing.T) {
	pd := "descriptor_version: '1.0'\nvendor: p\nname: p\nversion: '1'\n"
	docs, diags := schema.LoadBytes("x.yml", []byte(pd), schema.LoadOptions{})
	diags = append(diags, schema.Diagnostic{File: "p.son", Severity: schema.SeverityError, Code: schema.CodePDMissingEntryService, Level: schema.LevelIntegrity})
	rep, err := Documents(context.Background(), docs, diags, Options{Level: schema.LevelSyntax})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Diagnostics) != 0 {
		t.Errorf("integrity finding kept at syntax level: %v", rep.Diagnostics)
	}
}

func TestSortingAndSummary(t *testing.T) {
	rep := &Report{Files: 2, Diagnostics: []schema.Diagnostic{
		{File: "b.yml", Line: 1, Code: "x"},
		{File: "a.yml", Line: 9, Code: "y", Severity: schema.SeverityWarning},
		{File: "a.yml", Line: 2, Column: 5, Code: "z"},
		{File: "a.yml", Line: 2, Column: 1, Code: "z"},
	}}
	sortDiagnostics(rep.Diagnostics)
	var got []string
	for _, d := range rep.Diagnostics {
		got = append(got, d.String())
	}
	want := "a.yml:2:1: error z: ,a.yml:2:5: error z: ,a.yml:9:0: warning y: ,b.yml:1:0: error x: "
	if strings.Join(got, ",") != want {
		t.Errorf("order\n%s\nwant\n%s", strings.Join(got, ","), want)
	}
	if s := rep.Summary(); s != "2 files, 3 errors, 1 warning" {
		t.Errorf("summary %q", s)
	}
	if (&Report{Files: 1}).Summary() != "1 file, 0 errors, 0 warnings" {
		t.Error("singular summary")
	}
}

func TestPathsUnreadable(t *testing.T) {
	rep, err := Paths(context.Background(), []string{"/nonexistent/x.yml"}, schema.LoadOptions{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Unreadable() || !rep.Failed(false) {
		t.Errorf("unreadable path: Unreadable=%v Failed=%v", rep.Unreadable(), rep.Failed(false))
	}
}
