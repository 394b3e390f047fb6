// Package desired reads the desired-state manifest (manoctl.yaml or
// manoctl.cue), validates it against its CUE schema with positioned
// errors, resolves the descriptors it names, and normalises it into the
// State that the plan compares with the records.
package desired

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/cuecontext"
	cueerrors "cuelang.org/go/cue/errors"
	"cuelang.org/go/encoding/yaml"
	yamlv3 "gopkg.in/yaml.v3"

	"github.com/manoctl/manoctl/reconcile/wire"
	"github.com/manoctl/manoctl/schema"
)

//go:embed manifest.cue
var manifestCUE string

// SchemaSource returns the manifest's CUE schema (manoctl schema show
// manifest).
func SchemaSource() string { return manifestCUE }

// MaxManifestSize is the largest manifest Load and Parse accept (16 MiB,
// the descriptor file limit). Real manifests are a few KiB. A larger one
// is refused before it is parsed, as invalid input (the CLI exits 3):
// "manifest.too_large: manifest is N bytes, over the 16 MiB limit". Load
// never reads more than this (plus one byte), whatever the file is (a
// pipe, a device).
const MaxManifestSize = 16 << 20

// CodeManifestTooLarge is the diagnostic code of a manifest over
// MaxManifestSize.
const CodeManifestTooLarge = "manifest.too_large"

func manifestTooLarge(path string, size int64, exact bool) error {
	what := fmt.Sprintf("%d bytes", size)
	if !exact {
		what = fmt.Sprintf("more than %d bytes", MaxManifestSize)
	}
	return &InvalidError{Diagnostics: []schema.Diagnostic{{File: path, Severity: schema.SeverityError, Code: CodeManifestTooLarge,
		Message: fmt.Sprintf("manifest is %s, over the %d MiB limit", what, MaxManifestSize>>20)}}}
}

// Manifest is the decoded manifest.
type Manifest struct {
	// Path is the manifest file; Dir the directory paths resolve from.
	Path string `json:"-"`
	Dir  string `json:"-"`
	// Data is the raw manifest, for its digest.
	Data []byte `json:"-"`

	Descriptors []string                `json:"descriptors"`
	VIMs        []VIM                   `json:"vims,omitempty"`
	Services    map[string]*ServiceSpec `json:"services,omitempty"`
}

// VIM is one entry of the emulator inventory.
type VIM struct {
	Name     string `json:"name"`
	City     string `json:"city,omitempty"`
	Endpoint string `json:"endpoint,omitempty"`
	Cores    int    `json:"cores"`
	MemoryMB int    `json:"memory_mb"`
	UUID     string `json:"uuid,omitempty"`
	Domain   string `json:"domain,omitempty"`
}

// ServiceSpec is one service as the manifest declares it.
type ServiceSpec struct {
	NSD       NSDRef              `json:"nsd"`
	Ingresses []wire.NAP          `json:"ingresses,omitempty"`
	Egresses  []wire.NAP          `json:"egresses,omitempty"`
	Placement *wire.PlacementSpec `json:"placement,omitempty"`
	Instances map[string]int      `json:"instances,omitempty"`
}

// NSDRef names an NSD.
type NSDRef struct {
	Vendor  string `json:"vendor"`
	Name    string `json:"name"`
	Version string `json:"version"`
}

func (r NSDRef) String() string { return r.Vendor + "." + r.Name + "." + r.Version }

// InvalidError reports an invalid manifest; the CLI exits 3.
type InvalidError struct {
	Diagnostics []schema.Diagnostic
}

func (e *InvalidError) Error() string {
	if len(e.Diagnostics) == 1 {
		return "invalid manifest: " + e.Diagnostics[0].String()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "invalid manifest (%d problems):", len(e.Diagnostics))
	for _, d := range e.Diagnostics {
		b.WriteString("\n  ")
		b.WriteString(d.String())
	}
	return b.String()
}

var (
	cueOnce   sync.Once
	cueCtx    *cue.Context
	cueSchema cue.Value
	cueErr    error
	cueMu     sync.Mutex // a cue.Context is not safe for concurrent use
)

func manifestSchema() (*cue.Context, cue.Value, error) {
	cueOnce.Do(func() {
		cueCtx = cuecontext.New()
		v := cueCtx.CompileString(manifestCUE, cue.Filename("manifest.cue"))
		if v.Err() != nil {
			cueErr = v.Err()
			return
		}
		cueSchema = v.LookupPath(cue.ParsePath("#Manifest"))
	})
	return cueCtx, cueSchema, cueErr
}

// Load reads and validates the manifest at path (YAML, JSON or CUE).
func Load(path string) (*Manifest, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() && fi.Size() > MaxManifestSize {
		return nil, manifestTooLarge(path, fi.Size(), true)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxManifestSize+1))
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	if len(data) > MaxManifestSize {
		return nil, manifestTooLarge(path, int64(len(data)), false)
	}
	return Parse(path, data)
}

// Parse validates a manifest given as bytes; path names it in errors and
// selects CUE syntax for a .cue extension. Data over MaxManifestSize is
// refused unparsed. Whatever the bytes, Parse returns a manifest or an
// error: a panic of the parsers underneath is reported as invalid input.
func Parse(path string, data []byte) (m *Manifest, err error) {
	if len(data) > MaxManifestSize {
		return nil, manifestTooLarge(path, int64(len(data)), true)
	}
	defer func() {
		// Runs after cueMu is released. cue v0.17.1's YAML decoder, for
		// one, indexes out of range on line breaks it counts differently
		// from yaml.v3 (FuzzParse seed 5ba8476772ff06d9).
		if r := recover(); r != nil {
			m, err = nil, &InvalidError{Diagnostics: []schema.Diagnostic{{File: path, Severity: schema.SeverityError,
				Code: "manifest.syntax", Message: fmt.Sprintf("the manifest parser failed on this input: %v", r)}}}
		}
	}()
	ctx, sch, err := manifestSchema()
	if err != nil {
		return nil, fmt.Errorf("manifest: schema: %w", err)
	}
	cueMu.Lock()
	defer cueMu.Unlock()
	var v cue.Value
	if strings.HasSuffix(path, ".cue") {
		v = ctx.CompileBytes(data, cue.Filename(path))
	} else {
		// YAML (and JSON, its subset) breaks lines at CR, LF and CRLF;
		// cue's decoder maps yaml.v3's positions back to bytes by LF
		// only, so a lone CR made it index past its line table.
		data := unifyLineBreaks(data)
		f, err := yaml.Extract(path, data)
		if err != nil {
			return nil, &InvalidError{Diagnostics: cueDiagnostics(path, data, err)}
		}
		v = ctx.BuildFile(f)
	}
	if err := v.Err(); err != nil {
		return nil, &InvalidError{Diagnostics: cueDiagnostics(path, data, err)}
	}
	if strings.HasSuffix(path, ".cue") {
		// A CUE manifest may define helpers; the manifest is its top
		// level minus definitions and hidden fields.
		if m := v.LookupPath(cue.ParsePath("manifest")); m.Exists() {
			v = m
		}
	}
	u := sch.Unify(v)
	if err := u.Validate(cue.Concrete(true)); err != nil {
		return nil, &InvalidError{Diagnostics: cueDiagnostics(path, data, err)}
	}
	m = &Manifest{Path: path, Dir: filepath.Dir(path), Data: data}
	if err := u.Decode(m); err != nil {
		return nil, &InvalidError{Diagnostics: cueDiagnostics(path, data, err)}
	}
	m.Path, m.Dir, m.Data = path, filepath.Dir(path), data
	if diags := m.check(); len(diags) > 0 {
		return nil, &InvalidError{Diagnostics: diags}
	}
	return m, nil
}

// unifyLineBreaks turns CRLF and lone CR line breaks into LF, which YAML
// reads the same way; positions (line, column) do not move.
func unifyLineBreaks(data []byte) []byte {
	if bytes.IndexByte(data, '\r') < 0 {
		return data
	}
	out := bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n"))
	return bytes.ReplaceAll(out, []byte("\r"), []byte("\n"))
}

// check adds the rules the schema cannot express.
func (m *Manifest) check() []schema.Diagnostic {
	var diags []schema.Diagnostic
	seen := map[string]bool{}
	for i, v := range m.VIMs {
		if seen[v.Name] {
			diags = append(diags, schema.Diagnostic{File: m.Path, Severity: schema.SeverityError, Code: "manifest.duplicate",
				Message: fmt.Sprintf("VIM %q is declared twice", v.Name), Pointer: schema.Pointer("vims", i, "name")})
		}
		seen[v.Name] = true
	}
	return diags
}

// ServiceNames returns the service names in order.
func (m *Manifest) ServiceNames() []string {
	out := make([]string, 0, len(m.Services))
	for n := range m.Services {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// cueDiagnostics turns CUE errors into positioned diagnostics, one per
// problem: CUE reports a failed disjunction as one error per alternative,
// which become a single "want one of" line. A problem CUE cannot position
// (a missing field) is placed at the nearest existing node of the data.
func cueDiagnostics(path string, data []byte, err error) []schema.Diagnostic {
	type group struct {
		d     schema.Diagnostic
		msgs  []string
		wants []string
		got   string
	}
	var order []string
	groups := map[string]*group{}
	doc := yamlDoc(path, data)
	for _, e := range cueerrors.Errors(err) {
		d := schema.Diagnostic{File: path, Severity: schema.SeverityError, Code: "manifest.invalid"}
		for _, p := range cueerrors.Positions(e) {
			if p.Filename() == "manifest.cue" || p.Line() == 0 {
				continue // a schema position; we want the data's
			}
			d.Line, d.Column = p.Line(), p.Column()
			break
		}
		format, args := e.Msg()
		msg := strings.TrimSpace(fmt.Sprintf(format, args...))
		if msg == "" {
			msg = strings.TrimSpace(e.Error())
		}
		if m := yamlLineRE.FindStringSubmatch(msg); m != nil && d.Line == 0 {
			d.Line, _ = strconv.Atoi(m[1])
			d.Column = 1
			d.Code = "manifest.syntax"
			msg = m[2]
		}
		p := cleanPath(e.Path())
		if len(p) > 0 {
			d.Pointer = schema.Pointer(toAny(p)...)
		}
		if d.Line == 0 && doc != nil {
			if n := doc.Lookup(d.Pointer); n != nil {
				d.Line, d.Column = n.Line, n.Column
			}
		}
		key := d.Pointer
		g := groups[key]
		if g == nil {
			g = &group{d: d}
			groups[key] = g
			order = append(order, key)
		} else if g.d.Line == 0 {
			g.d.Line, g.d.Column = d.Line, d.Column
		}
		if m := conflictRE.FindStringSubmatch(msg); m != nil {
			g.wants = append(g.wants, m[1])
			g.got = m[2]
		}
		switch {
		case strings.Contains(msg, "field is required but not present"):
			g.d.Code = "manifest.required"
			msg = fmt.Sprintf("missing required field %q", lastOf(p))
		case strings.Contains(msg, "not allowed") && len(p) == 2 && p[0] == "services":
			g.d.Code = "manifest.name"
			msg = fmt.Sprintf("service name %q is not valid: use lowercase letters, digits, '.', '_' and '-', starting and ending with a letter or digit", p[1])
		case strings.Contains(msg, "not allowed"):
			g.d.Code = "manifest.unknown"
			msg = fmt.Sprintf("unknown field %q", lastOf(p))
		case lastOf(p) == "version" && (strings.Contains(msg, "mismatched types") || strings.Contains(msg, "conflicting values")) && strings.Contains(msg, "string"):
			g.d.Code = "manifest.type"
			msg = "version is a YAML number; quote it (\"0.1\", not 0.1)"
		case strings.Contains(msg, "mismatched types") || strings.Contains(msg, "conflicting values"):
			g.d.Code = "manifest.type"
		}
		g.msgs = append(g.msgs, msg)
	}
	var out []schema.Diagnostic
	for _, key := range order {
		g := groups[key]
		switch {
		case len(g.wants) > 1:
			g.d.Code = "manifest.enum"
			g.d.Message = fmt.Sprintf("%s is not allowed here; want one of %s", g.got, strings.Join(g.wants, ", "))
		default:
			g.d.Message = firstUseful(g.msgs)
		}
		out = append(out, g.d)
	}
	if len(out) == 0 {
		out = append(out, schema.Diagnostic{File: path, Severity: schema.SeverityError, Code: "manifest.invalid", Message: err.Error()})
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Line != out[j].Line {
			return out[i].Line < out[j].Line
		}
		return out[i].Column < out[j].Column
	})
	return out
}

var yamlLineRE = regexp.MustCompile(`^[^:]*:(\d+): (.*)$`)

var conflictRE = regexp.MustCompile(`conflicting values (\S+) and (\S+)`)

// firstUseful skips CUE's disjunction summaries in favour of a concrete
// message.
func firstUseful(msgs []string) string {
	for _, m := range msgs {
		if !strings.Contains(m, "empty disjunction") {
			return m
		}
	}
	return msgs[0]
}

// cleanPath drops the definition prefix and the quotes CUE puts around
// selectors that are not identifiers.
func cleanPath(p []string) []string {
	if len(p) > 0 && strings.HasPrefix(p[0], "#") {
		p = p[1:]
	}
	out := make([]string, len(p))
	for i, s := range p {
		if uq, err := strconv.Unquote(s); err == nil && strings.HasPrefix(s, `"`) {
			s = uq
		}
		out[i] = s
	}
	return out
}

// yamlDoc parses data for positions; nil when it is not YAML.
func yamlDoc(path string, data []byte) *schema.Document {
	var n yamlv3.Node
	if err := yamlv3.Unmarshal(data, &n); err != nil {
		return nil
	}
	return &schema.Document{File: path, Root: &n}
}

func toAny(p []string) []any {
	out := make([]any, len(p))
	for i, s := range p {
		out[i] = s
	}
	return out
}

func lastOf(p []string) string {
	if len(p) == 0 {
		return ""
	}
	return p[len(p)-1]
}

// IsInvalid reports whether err is an invalid-manifest error.
func IsInvalid(err error) bool {
	var ie *InvalidError
	return errors.As(err, &ie)
}
