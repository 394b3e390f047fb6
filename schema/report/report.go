// Package report renders validation reports: the text lines of manoctl
// validate, its versioned JSON format, and SARIF 2.1.0 for code-scanning
// tools. Rendering is kept apart from validation so that every verb that
// validates input (validate, plan, apply) prints findings the same way.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/manoctl/manoctl/schema"
	"github.com/manoctl/manoctl/schema/validate"
)

// FormatVersion is the version of the JSON format. It changes only when
// a field is removed or changes meaning; new fields do not bump it.
const FormatVersion = "1.0"

// Text writes one line per finding: file:line:col: severity CODE: message
// (at /pointer).
func Text(w io.Writer, rep *validate.Report) error {
	for _, d := range rep.Diagnostics {
		if _, err := fmt.Fprintln(w, d.String()); err != nil {
			return err
		}
	}
	return nil
}

// jsonReport is the -o json document.
type jsonReport struct {
	FormatVersion string           `json:"format_version"`
	Valid         bool             `json:"valid"`
	Summary       jsonSummary      `json:"summary"`
	Documents     []jsonDocument   `json:"documents"`
	Diagnostics   []jsonDiagnostic `json:"diagnostics"`
}

type jsonSummary struct {
	Files     int `json:"files"`
	Documents int `json:"documents"`
	Errors    int `json:"errors"`
	Warnings  int `json:"warnings"`
	Infos     int `json:"infos"`
}

type jsonDocument struct {
	File    string `json:"file"`
	Index   int    `json:"index"`
	Pointer string `json:"pointer,omitempty"`
	Package string `json:"package,omitempty"`
	Kind    string `json:"kind"`
	Vendor  string `json:"vendor,omitempty"`
	Name    string `json:"name,omitempty"`
	Version string `json:"version,omitempty"`
	// Syntax is the son-schema v3.0 verdict: "valid" or "invalid".
	Syntax string `json:"syntax"`
	// Event is son-validate's per-document syntax event when invalid.
	Event string `json:"event,omitempty"`
}

type jsonDiagnostic struct {
	File     string `json:"file"`
	Line     int    `json:"line,omitempty"`
	Column   int    `json:"column,omitempty"`
	Severity string `json:"severity"`
	Code     string `json:"code"`
	Message  string `json:"message"`
	Pointer  string `json:"pointer,omitempty"`
	Level    string `json:"level"`
}

// JSON writes the versioned JSON report. strict says whether warnings
// count against "valid".
func JSON(w io.Writer, rep *validate.Report, strict bool) error {
	errs, warns, infos := rep.Counts()
	out := jsonReport{
		FormatVersion: FormatVersion,
		Valid:         !rep.Failed(strict),
		Summary:       jsonSummary{Files: rep.Files, Documents: len(rep.Documents), Errors: errs, Warnings: warns, Infos: infos},
		Documents:     make([]jsonDocument, 0, len(rep.Documents)),
		Diagnostics:   make([]jsonDiagnostic, 0, len(rep.Diagnostics)),
	}
	for _, r := range rep.Documents {
		if r.Doc == nil {
			continue
		}
		m, _ := r.Doc.Value.(map[string]any)
		str := func(k string) string { s, _ := m[k].(string); return s }
		jd := jsonDocument{File: r.Doc.File, Index: r.Doc.Index, Pointer: r.Doc.Base, Package: r.Doc.Package,
			Kind: string(r.Doc.Kind), Vendor: str("vendor"), Name: str("name"), Version: str("version"),
			Syntax: "valid", Event: r.SummaryCode}
		if !r.SyntaxValid {
			jd.Syntax = "invalid"
		}
		out.Documents = append(out.Documents, jd)
	}
	for _, d := range rep.Diagnostics {
		out.Diagnostics = append(out.Diagnostics, jsonDiagnostic{File: d.File, Line: d.Line, Column: d.Column,
			Severity: d.Severity.String(), Code: d.Code, Message: d.Message, Pointer: d.Pointer, Level: d.Level.String()})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// SARIF 2.1.0, the subset code-scanning tools read.
type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool    sarifTool     `json:"tool"`
	Results []sarifResult `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri"`
	Rules          []sarifRule `json:"rules"`
}

type sarifRule struct {
	ID                   string        `json:"id"`
	ShortDescription     sarifMessage  `json:"shortDescription"`
	DefaultConfiguration *sarifDefault `json:"defaultConfiguration,omitempty"`
}

type sarifDefault struct {
	Level string `json:"level"`
}

type sarifMessage struct {
	Text string `json:"text"`
}

type sarifResult struct {
	RuleID     string          `json:"ruleId"`
	RuleIndex  int             `json:"ruleIndex"`
	Level      string          `json:"level"`
	Message    sarifMessage    `json:"message"`
	Locations  []sarifLocation `json:"locations,omitempty"`
	Properties map[string]any  `json:"properties,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation *sarifPhysical `json:"physicalLocation,omitempty"`
	LogicalLocations []sarifLogical `json:"logicalLocations,omitempty"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           *sarifRegion  `json:"region,omitempty"`
}

type sarifArtifact struct {
	URI string `json:"uri"`
}

type sarifRegion struct {
	StartLine   int `json:"startLine"`
	StartColumn int `json:"startColumn,omitempty"`
}

type sarifLogical struct {
	FullyQualifiedName string `json:"fullyQualifiedName"`
	Kind               string `json:"kind"`
}

// SARIF writes a SARIF 2.1.0 log with one run. version is manoctl's.
func SARIF(w io.Writer, rep *validate.Report, version string) error {
	codes := map[string]bool{}
	for _, d := range rep.Diagnostics {
		codes[d.Code] = true
	}
	ids := make([]string, 0, len(codes))
	for c := range codes {
		ids = append(ids, c)
	}
	sort.Strings(ids)
	index := map[string]int{}
	rules := make([]sarifRule, len(ids))
	for i, id := range ids {
		index[id] = i
		rules[i] = sarifRule{ID: id, ShortDescription: sarifMessage{Text: Describe(id)}}
	}
	results := make([]sarifResult, 0, len(rep.Diagnostics))
	for _, d := range rep.Diagnostics {
		r := sarifResult{RuleID: d.Code, RuleIndex: index[d.Code], Level: sarifLevel(d.Severity), Message: sarifMessage{Text: d.Message}}
		loc := sarifLocation{}
		if d.File != "" && d.File != "-" {
			uri, member := d.File, ""
			if i := strings.Index(uri, ".son:"); i >= 0 {
				uri, member = uri[:i+4], uri[i+5:]
			}
			loc.PhysicalLocation = &sarifPhysical{ArtifactLocation: sarifArtifact{URI: toURI(uri)}}
			if member != "" {
				r.Properties = map[string]any{"packageMember": member}
			} else if d.Line > 0 {
				loc.PhysicalLocation.Region = &sarifRegion{StartLine: d.Line, StartColumn: d.Column}
			}
		}
		if d.Pointer != "" {
			loc.LogicalLocations = []sarifLogical{{FullyQualifiedName: d.Pointer, Kind: "object"}}
		}
		if loc.PhysicalLocation != nil || loc.LogicalLocations != nil {
			r.Locations = []sarifLocation{loc}
		}
		results = append(results, r)
	}
	log := sarifLog{
		Schema:  "https://json.schemastore.org/sarif-2.1.0.json",
		Version: "2.1.0",
		Runs: []sarifRun{{
			Tool: sarifTool{Driver: sarifDriver{Name: "manoctl", Version: version,
				InformationURI: "https://github.com/manoctl/manoctl", Rules: rules}},
			Results: results,
		}},
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(log)
}

func sarifLevel(s schema.Severity) string {
	switch s {
	case schema.SeverityError:
		return "error"
	case schema.SeverityWarning:
		return "warning"
	}
	return "note"
}

// toURI makes a relative URI reference of a path: forward slashes, and
// characters that would read as a scheme or query escaped.
func toURI(p string) string {
	p = strings.ReplaceAll(p, "\\", "/")
	r := strings.NewReplacer("%", "%25", " ", "%20", "#", "%23", "?", "%3F", ":", "%3A")
	return r.Replace(p)
}
