package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/manoctl/manoctl/schema"
	"github.com/manoctl/manoctl/schema/validate"
)

func sampleReport() *validate.Report {
	doc := &schema.Document{File: "vnfd.yml", Kind: schema.KindVNFD, Value: map[string]any{"vendor": "v", "name": "n", "version": "1"}}
	return &validate.Report{
		Files:     2,
		Documents: []validate.DocumentResult{{Doc: doc, SyntaxValid: false, SummaryCode: "evt_vnfd_stx_invalid"}},
		Diagnostics: []schema.Diagnostic{
			{File: "vnfd.yml", Line: 4, Column: 10, Severity: schema.SeverityError, Code: "schema.type", Message: "expected a string", Pointer: "/version", Level: schema.LevelSyntax},
			{File: "p.son:META-INF/MANIFEST.MF", Line: 3, Column: 1, Severity: schema.SeverityWarning, Code: schema.CodePDInvalidMD5, Message: "md5", Level: schema.LevelIntegrity},
			{File: "x y.yml", Severity: schema.SeverityInfo, Code: "custom_check", Message: "note"},
		},
	}
}

func TestText(t *testing.T) {
	var buf bytes.Buffer
	if err := Text(&buf, sampleReport()); err != nil {
		t.Fatal(err)
	}
	want := "vnfd.yml:4:10: error schema.type: expected a string (at /version)\n" +
		"p.son:META-INF/MANIFEST.MF:3:1: warning evt_pd_itg_invalid_md5: md5\n" +
		"x y.yml: info custom_check: note\n"
	if buf.String() != want {
		t.Errorf("got\n%s\nwant\n%s", buf.String(), want)
	}
}

func TestJSON(t *testing.T) {
	var buf bytes.Buffer
	if err := JSON(&buf, sampleReport(), false); err != nil {
		t.Fatal(err)
	}
	var got struct {
		FormatVersion string `json:"format_version"`
		Valid         bool   `json:"valid"`
		Summary       struct {
			Files, Documents, Errors, Warnings, Infos int
		} `json:"summary"`
		Documents []struct {
			Kind, Syntax, Event, Vendor string
		} `json:"documents"`
		Diagnostics []struct {
			Code, Severity, Level, Pointer string
			Line, Column                   int
		} `json:"diagnostics"`
	}
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.FormatVersion != FormatVersion || got.Valid || got.Summary.Errors != 1 || got.Summary.Warnings != 1 || got.Summary.Infos != 1 || got.Summary.Files != 2 {
		t.Errorf("header: %+v", got)
	}
	if d := got.Documents[0]; d.Kind != "vnfd" || d.Syntax != "invalid" || d.Event != "evt_vnfd_stx_invalid" || d.Vendor != "v" {
		t.Errorf("document: %+v", d)
	}
	if d := got.Diagnostics[0]; d.Code != "schema.type" || d.Line != 4 || d.Column != 10 || d.Level != "syntax" || d.Pointer != "/version" {
		t.Errorf("diagnostic: %+v", d)
	}
}

func TestSARIF(t *testing.T) {
	var buf bytes.Buffer
	if err := SARIF(&buf, sampleReport(), "v1.2.3"); err != nil {
		t.Fatal(err)
	}
	var log struct {
		Version string `json:"version"`
		Runs    []struct {
			Tool struct {
				Driver struct {
					Name, Version string
					Rules         []struct {
						ID               string
						ShortDescription struct{ Text string }
					}
				}
			}
			Results []struct {
				RuleID    string
				RuleIndex int
				Level     string
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI string }
						Region           *struct{ StartLine, StartColumn int }
					}
					LogicalLocations []struct{ FullyQualifiedName string }
				}
				Properties map[string]string
			}
		}
	}
	if err := json.Unmarshal(buf.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	if log.Version != "2.1.0" || len(log.Runs) != 1 || log.Runs[0].Tool.Driver.Name != "manoctl" || log.Runs[0].Tool.Driver.Version != "v1.2.3" {
		t.Fatalf("log header: %s", buf.String())
	}
	run := log.Runs[0]
	if len(run.Tool.Driver.Rules) != 3 || len(run.Results) != 3 {
		t.Fatalf("%d rules, %d results", len(run.Tool.Driver.Rules), len(run.Results))
	}
	for _, r := range run.Results {
		if run.Tool.Driver.Rules[r.RuleIndex].ID != r.RuleID {
			t.Errorf("result %s points at rule %d", r.RuleID, r.RuleIndex)
		}
	}
	r0 := run.Results[0]
	if r0.Level != "error" || r0.Locations[0].PhysicalLocation.ArtifactLocation.URI != "vnfd.yml" ||
		r0.Locations[0].PhysicalLocation.Region.StartLine != 4 || r0.Locations[0].LogicalLocations[0].FullyQualifiedName != "/version" {
		t.Errorf("first result: %+v", r0)
	}
	r1 := run.Results[1]
	if r1.Level != "warning" || r1.Locations[0].PhysicalLocation.ArtifactLocation.URI != "p.son" || r1.Properties["packageMember"] != "META-INF/MANIFEST.MF" {
		t.Errorf("package member result: %+v", r1)
	}
	if run.Results[2].Level != "note" || run.Results[2].Locations[0].PhysicalLocation.ArtifactLocation.URI != "x%20y.yml" {
		t.Errorf("info result: %+v", run.Results[2])
	}
	if !strings.Contains(buf.String(), "Value has the wrong type (son-schema v3.0)") {
		t.Error("rule description of schema.type missing")
	}
}

func TestDescribe(t *testing.T) {
	for code, want := range map[string]string{
		"schema.required":            "Required key is missing (son-schema v3.0)",
		"schema.corrected.pattern":   "String does not match the schema's pattern (manoctl's corrected son-schema v3.0 rule)",
		schema.CodePackageUnsafePath: "Package entry escapes the package (zip slip)",
		"evt_some_check":             "evt_some_check",
	} {
		if got := Describe(code); got != want {
			t.Errorf("Describe(%s) = %q, want %q", code, got, want)
		}
	}
}
