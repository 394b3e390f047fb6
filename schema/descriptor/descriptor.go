// Package descriptor gives typed, read-only views of SONATA descriptors
// (NSD, VNFD) for the MANO plugins, over the generic trees that travel on
// the bus.
//
// Descriptors cross the bus whole: the gatekeeper sends the NSD and VNFDs,
// the SLM forwards them to the FLM, the FLM to the IA (with instance_uuid
// added). Keys manoctl does not know must survive that trip, so the generic
// Doc is the payload and the typed views are parsed from it when a plugin
// needs a field. Parsing is tolerant: it reads what is there and reports
// type errors; schema validation is the schema package's job.
package descriptor

import (
	"fmt"
	"strconv"
	"strings"
)

// Doc is a descriptor or record as a generic YAML/JSON tree.
type Doc = map[string]any

// Identity is the vendor/name/version triple that identifies NSDs, VNFDs
// and packages (descriptors.md §1.1).
type Identity struct {
	Vendor  string `json:"vendor" yaml:"vendor"`
	Name    string `json:"name" yaml:"name"`
	Version string `json:"version" yaml:"version"`
}

// String is son-validate's look-up key, vendor.name.version.
func (i Identity) String() string { return i.Vendor + "." + i.Name + "." + i.Version }

// IsZero reports whether no field is set.
func (i Identity) IsZero() bool { return i == Identity{} }

// IdentityOf reads the triple of doc.
func IdentityOf(doc Doc) Identity {
	return Identity{Vendor: Str(doc, "vendor"), Name: Str(doc, "name"), Version: Str(doc, "version")}
}

// Str returns doc[key] as a string: strings as they are, numbers and
// booleans formatted (an unquoted version: 0.3 arrives as a float), and ""
// for missing or null values.
func Str(doc map[string]any, key string) string {
	return ToString(doc[key])
}

// ToString formats a scalar; nil and compound values give "".
func ToString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	}
	return ""
}

// Map returns doc[key] as a mapping, or nil.
func Map(doc map[string]any, key string) map[string]any {
	return AsMap(doc[key])
}

// AsMap converts a generic mapping (including YAML's map[any]any) to
// map[string]any; other values give nil.
func AsMap(v any) map[string]any {
	switch m := v.(type) {
	case map[string]any:
		return m
	case map[any]any:
		out := make(map[string]any, len(m))
		for k, v := range m {
			out[fmt.Sprint(k)] = v
		}
		return out
	}
	return nil
}

// List returns doc[key] as a sequence, or nil.
func List(doc map[string]any, key string) []any {
	l, _ := doc[key].([]any)
	return l
}

// Maps returns the mapping elements of doc[key], skipping others.
func Maps(doc map[string]any, key string) []map[string]any {
	var out []map[string]any
	for _, e := range List(doc, key) {
		if m := AsMap(e); m != nil {
			out = append(out, m)
		}
	}
	return out
}

// Number returns doc[key] as a float64 and whether it is a number.
func Number(doc map[string]any, key string) (float64, bool) {
	switch x := doc[key].(type) {
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

// Int returns doc[key] as an int (0 if absent or not integral).
func Int(doc map[string]any, key string) int {
	f, _ := Number(doc, key)
	return int(f)
}

// Copy returns a shallow copy of doc, for adding keys (uuid,
// instance_uuid) to a descriptor that other readers share.
func Copy(doc Doc) Doc {
	out := make(Doc, len(doc)+2)
	for k, v := range doc {
		out[k] = v
	}
	return out
}

// SplitRef splits a connection-point reference "vnf_id:cp" (or
// "vdu_id:cp"); a bare "cp" gives an empty prefix.
func SplitRef(ref string) (prefix, cp string) {
	if i := strings.IndexByte(ref, ':'); i >= 0 {
		return ref[:i], ref[i+1:]
	}
	return "", ref
}
