package syntax

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/manoctl/manoctl/schema"
)

// Finding classes; the diagnostic code is "schema." + class, or
// "schema.corrected." + class for manoctl's corrected rules.
const (
	ClassType        = "type"
	ClassRequired    = "required"
	ClassAdditional  = "additional"
	ClassEnum        = "enum"
	ClassPattern     = "pattern"
	ClassRange       = "range"
	ClassMinItems    = "min_items"
	ClassUniqueItems = "unique_items"
	ClassOneOf       = "one_of"
)

// finding is one schema violation found by the walker.
type finding struct {
	path  []string
	node  *yaml.Node // positions the finding
	class string
	msg   string
	// anchor is the pointer of the outermost choice (oneOf, anyOf,
	// disjunction) the finding was made under, or its own pointer. CUE
	// reports a failed choice at the choice; the equivalence test
	// compares anchors.
	anchor string
	defect int
}

func (f finding) pointer() string { return pointerOf(f.path) }

func pointerOf(path []string) string {
	if len(path) == 0 {
		return ""
	}
	toks := make([]any, len(path))
	for i, p := range path {
		toks[i] = p
	}
	return schema.Pointer(toks...)
}

// walker checks one YAML tree against a compiled node.
type walker struct {
	kind     string // "NSD", for messages
	path     []string
	anchor   string // "" outside choices
	defect   int
	findings []finding
}

func (w *walker) add(v *yaml.Node, class, format string, args ...any) {
	p := append([]string(nil), w.path...)
	anchor := w.anchor
	if anchor == "" {
		anchor = pointerOf(p)
	}
	w.findings = append(w.findings, finding{path: p, node: v, class: class, msg: fmt.Sprintf(format, args...), anchor: anchor, defect: w.defect})
}

func (w *walker) push(tok string) { w.path = append(w.path, tok) }
func (w *walker) pop()            { w.path = w.path[:len(w.path)-1] }

func typeOf(v *yaml.Node) typeSet {
	switch v.Kind {
	case yaml.MappingNode:
		return tStruct
	case yaml.SequenceNode:
		return tList
	case yaml.ScalarNode:
		switch v.Tag {
		case "!!int":
			return tInt
		case "!!float":
			return tFloat
		case "!!bool":
			return tBool
		case "!!null":
			return tNull
		case "!!timestamp":
			return tTimestamp
		}
		return tString
	}
	return tNull
}

func deref(v *yaml.Node) *yaml.Node {
	for i := 0; v.Kind == yaml.AliasNode && v.Alias != nil && i < 64; i++ {
		v = v.Alias
	}
	return v
}

// check validates v against n, recording findings.
func (w *walker) check(orig *yaml.Node, n *node) {
	v := deref(orig)
	t := typeOf(v)
	if t&n.types == 0 {
		w.add(orig, ClassType, "%s", typeMessage(n.types, v, t))
		return
	}
	if n.enum != nil && !inEnum(v, t, n.enum) {
		w.add(orig, ClassEnum, "%s is not one of %s%s", display(v, t), enumList(n.enum), explainSuffix(n))
		return
	}
	if t == tString {
		for _, re := range n.patterns {
			if !re.MatchString(v.Value) {
				what := ""
				if n.name != "" {
					what = " " + n.name
				}
				w.add(orig, ClassPattern, "%s does not match%s %s%s", strconv.Quote(v.Value), what, re.String(), explainSuffix(n))
				return
			}
		}
	}
	if n.min != nil && t&tNumber != 0 {
		f, _ := number(v)
		if f < n.min.v || (n.min.exclusive && f == n.min.v) {
			rel := "at least"
			if n.min.exclusive {
				rel = "greater than"
			}
			w.add(orig, ClassRange, "%s must be %s %s", v.Value, rel, strconv.FormatFloat(n.min.v, 'f', -1, 64))
			return
		}
	}
	switch t {
	case tStruct:
		if n.fields != nil {
			w.checkStruct(v, n)
		}
	case tList:
		w.checkList(v, n)
	}
	switch {
	case len(n.oneOf) > 0:
		w.choice(orig, n, n.oneOf, false)
	case len(n.anyOf) > 0:
		w.choice(orig, n, n.anyOf, true)
	case len(n.disj) > 0:
		w.choice(orig, n, n.disj, true)
	}
}

func (w *walker) checkStruct(v *yaml.Node, n *node) {
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, val := v.Content[i], v.Content[i+1]
		key := k.Value
		f := n.fields[key]
		if f == nil {
			if !n.open {
				w.push(key)
				w.add(k, ClassAdditional, "%s", w.additionalMessage(key, n))
				w.pop()
			}
			continue
		}
		w.push(key)
		saved := w.defect
		if f.defect != 0 {
			w.defect = f.defect
		}
		w.check(val, f.schema)
		w.defect = saved
		w.pop()
	}
	// Required fields are few and mappings small: a scan allocates
	// nothing, unlike a set of the present keys.
	for _, name := range n.order {
		if f := n.fields[name]; f.required && !hasKey(v, name) {
			w.push(name)
			w.add(v, ClassRequired, "missing required key %q", name)
			w.pop()
		}
	}
}

func hasKey(m *yaml.Node, key string) bool {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return true
		}
	}
	return false
}

func (w *walker) checkList(v *yaml.Node, n *node) {
	items := v.Content
	if n.empty && len(items) > 0 {
		w.add(v, ClassType, "expected an empty list, found %d items", len(items))
		return
	}
	if n.elem != nil {
		for i, it := range items {
			w.push(strconv.Itoa(i))
			w.check(it, n.elem)
			w.pop()
		}
	}
	if n.tuple != nil && len(items) > 0 {
		w.push("0")
		w.check(items[0], n.tuple)
		w.pop()
	}
	if len(items) < n.minItems {
		w.add(v, ClassMinItems, "has %d items, needs at least %d", len(items), n.minItems)
	}
	if n.unique && len(items) > 1 {
		seen := make(map[string]int, len(items))
		for i, it := range items {
			key := canonical(it)
			if j, dup := seen[key]; dup {
				w.add(v, ClassUniqueItems, "items %d and %d are equal; items must be unique", j, i)
				break
			}
			seen[key] = i
		}
	}
}

// choice evaluates oneOf (exactly one branch), anyOf and disjunctions (at
// least one). When no branch fits, it reports the findings of the branch
// that fits best, named, instead of every branch's errors: no
// disjunction noise (spec/descriptors.md §7 #14).
func (w *walker) choice(orig *yaml.Node, owner *node, branches []*node, atLeast bool) {
	const need = 1
	v := deref(orig)
	here := pointerOf(w.path)
	anchor := w.anchor
	if anchor == "" {
		anchor = here
	}
	type result struct {
		findings []finding
		score    int
	}
	results := make([]result, len(branches))
	passed := 0
	var names []string
	for i, b := range branches {
		sub := &walker{kind: w.kind, path: append([]string(nil), w.path...), anchor: anchor, defect: w.defect}
		sub.check(orig, b)
		results[i].findings = sub.findings
		for _, f := range sub.findings {
			switch {
			case f.pointer() != here:
				results[i].score++
			case f.class == ClassType:
				results[i].score += 10
			default:
				results[i].score += 3
			}
		}
		if len(sub.findings) == 0 {
			passed++
			if b.name != "" {
				names = append(names, b.name)
			}
		}
	}
	switch {
	case passed == need || (atLeast && passed >= need):
		return
	case passed > need:
		w.add(orig, ClassOneOf, "%s matches %d of the alternatives (%s); exactly one must match", display(v, typeOf(v)), passed, strings.Join(names, ", "))
		return
	}
	// Nothing fits. Branches that are plain enums combine into one enum
	// message.
	allEnum := true
	var values []any
	for _, b := range branches {
		if !isPureEnum(b) {
			allEnum = false
			break
		}
		values = append(values, b.enum...)
	}
	if allEnum {
		saved := w.anchor
		w.anchor = anchor
		w.add(orig, ClassEnum, "%s is not one of %s%s", display(v, typeOf(v)), enumList(values), explainSuffix(owner))
		w.anchor = saved
		return
	}
	best := 0
	for i := range results {
		if results[i].score < results[best].score {
			best = i
		}
	}
	var all []string
	for _, b := range branches {
		if b.name != "" {
			all = append(all, b.name)
		}
	}
	prefix := ""
	if len(all) == len(branches) && len(all) > 1 {
		prefix = fmt.Sprintf("fits none of %s; closest is %s: ", strings.Join(all, ", "), branches[best].name)
	}
	for _, f := range results[best].findings {
		f.msg = prefix + f.msg
		w.findings = append(w.findings, f)
	}
}

// additionalMessage names the key, the spelling this kind expects when
// the key is a known variant (defects #8, #9), and a near miss.
func (w *walker) additionalMessage(key string, n *node) string {
	msg := fmt.Sprintf("key %q is not allowed here", key)
	if want, ok := n.aliases[key]; ok {
		return msg + fmt.Sprintf("; the %s schema spells it %q", w.kind, want)
	}
	if len(w.path) == 1 && catalogueKeys[key] {
		return msg + " (a catalogue or platform field: son-schema v3.0 closes the root of every descriptor and record)"
	}
	if near := nearest(key, n.order); near != "" {
		return msg + fmt.Sprintf("; did you mean %q?", near)
	}
	return msg
}

var catalogueKeys = map[string]bool{"uuid": true, "created_at": true, "updated_at": true, "instance_uuid": true,
	"intance_uuid": true, "status": true, "$schema": true, "descriptor_schema": true}

// nearest returns the field name within edit distance 2 of key (or equal
// ignoring case), "" when there is none or the match is ambiguous.
func nearest(key string, names []string) string {
	best, bestD, ties := "", 3, 0
	for _, n := range names {
		d := editDistance(strings.ToLower(key), strings.ToLower(n))
		if d == 0 && n != key {
			return n
		}
		switch {
		case d < bestD:
			best, bestD, ties = n, d, 0
		case d == bestD:
			ties++
		}
	}
	if ties > 0 || bestD > 2 || len(key) < 4 {
		return ""
	}
	return best
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func explainSuffix(n *node) string {
	if n.explain == "" {
		return ""
	}
	return " (" + n.explain + ")"
}

func number(v *yaml.Node) (float64, bool) {
	switch x := schema.ScalarValue(v).(type) {
	case int:
		return float64(x), true
	case float64:
		return x, true
	}
	return math.NaN(), false
}

// inEnum compares a scalar with literal values; numbers compare by value
// (1 and 1.0 are equal, as in CUE and Python).
func inEnum(v *yaml.Node, t typeSet, enum []any) bool {
	var val any
	switch t {
	case tString:
		val = v.Value
	case tInt, tFloat:
		val, _ = number(v)
	case tBool, tNull:
		val = schema.ScalarValue(v)
	default:
		return false
	}
	for _, e := range enum {
		if e == val {
			return true
		}
	}
	return false
}

func enumList(values []any) string {
	parts := make([]string, len(values))
	for i, v := range values {
		switch x := v.(type) {
		case string:
			parts[i] = strconv.Quote(x)
		case nil:
			parts[i] = "null"
		default:
			parts[i] = fmt.Sprint(x)
		}
	}
	return strings.Join(parts, ", ")
}

// display shows a value as the user wrote it.
func display(v *yaml.Node, t typeSet) string {
	switch t {
	case tString:
		return strconv.Quote(v.Value)
	case tStruct:
		return "the mapping"
	case tList:
		return "the list"
	}
	return v.Value
}

var typeNames = []struct {
	t    typeSet
	name string
}{
	{tString, "a string"}, {tNumber, "a number"}, {tInt, "an integer"}, {tFloat, "a float"}, {tBool, "a boolean"},
	{tNull, "null"}, {tStruct, "a mapping"}, {tList, "a list"},
}

func expectedTypes(want typeSet) string {
	if want == tAny {
		return "any value"
	}
	var parts []string
	rest := want
	for _, tn := range typeNames {
		if rest&tn.t == tn.t {
			parts = append(parts, tn.name)
			rest &^= tn.t
		}
	}
	return strings.Join(parts, " or ")
}

// typeMessage names what was expected and what YAML made of the value,
// with the fix for the classic pitfalls (descriptors.md §1.1).
func typeMessage(want typeSet, v *yaml.Node, got typeSet) string {
	exp := expectedTypes(want)
	quoteFix := want&tString != 0
	switch got {
	case tString:
		msg := fmt.Sprintf("expected %s, found the string %s", exp, strconv.Quote(v.Value))
		if want&tNumber != 0 {
			if _, err := strconv.ParseFloat(strings.TrimSpace(v.Value), 64); err == nil {
				msg += "; write the number without quotes"
			}
		}
		if want&tBool != 0 {
			if _, err := strconv.ParseBool(v.Value); err == nil {
				msg += "; write the boolean without quotes"
			}
		}
		return msg
	case tInt, tFloat:
		what := "integer"
		if got == tFloat {
			what = "float"
		}
		msg := fmt.Sprintf("expected %s, found a YAML %s %s", exp, what, v.Value)
		if quoteFix {
			msg += fmt.Sprintf("; quote it: %s", strconv.Quote(v.Value))
		}
		return msg
	case tBool:
		msg := fmt.Sprintf("expected %s, found a YAML boolean %s", exp, v.Value)
		switch strings.ToLower(v.Value) {
		case "true", "false":
		default:
			msg += " (YAML 1.1, as PyYAML reads it: unquoted yes/no/on/off are booleans)"
		}
		if quoteFix {
			msg += fmt.Sprintf("; quote it: %s", strconv.Quote(v.Value))
		}
		return msg
	case tTimestamp:
		msg := fmt.Sprintf("expected %s, found a YAML timestamp %s (PyYAML reads unquoted dates as dates)", exp, v.Value)
		if quoteFix {
			msg += fmt.Sprintf("; quote it: %s", strconv.Quote(v.Value))
		}
		return msg
	case tNull:
		return fmt.Sprintf("expected %s, found null (an empty value)", exp)
	case tStruct:
		return fmt.Sprintf("expected %s, found a mapping", exp)
	case tList:
		return fmt.Sprintf("expected %s, found a list", exp)
	}
	return fmt.Sprintf("expected %s", exp)
}

// canonical renders a value so that equal values (in the JSON sense,
// key order aside) render equally, for uniqueItems.
func canonical(v *yaml.Node) string {
	var b strings.Builder
	writeCanonical(&b, v, 0)
	return b.String()
}

func writeCanonical(b *strings.Builder, v *yaml.Node, depth int) {
	v = deref(v)
	if depth > 256 {
		b.WriteString("…")
		return
	}
	switch v.Kind {
	case yaml.MappingNode:
		type kv struct{ k, v string }
		pairs := make([]kv, 0, len(v.Content)/2)
		for i := 0; i+1 < len(v.Content); i += 2 {
			var sb strings.Builder
			writeCanonical(&sb, v.Content[i+1], depth+1)
			pairs = append(pairs, kv{v.Content[i].Value, sb.String()})
		}
		sort.Slice(pairs, func(i, j int) bool { return pairs[i].k < pairs[j].k })
		b.WriteByte('{')
		for _, p := range pairs {
			b.WriteString(strconv.Quote(p.k))
			b.WriteByte(':')
			b.WriteString(p.v)
			b.WriteByte(',')
		}
		b.WriteByte('}')
	case yaml.SequenceNode:
		b.WriteByte('[')
		for _, c := range v.Content {
			writeCanonical(b, c, depth+1)
			b.WriteByte(',')
		}
		b.WriteByte(']')
	default:
		switch x := schema.ScalarValue(v).(type) {
		case string:
			b.WriteString(strconv.Quote(x))
		case int:
			b.WriteString(strconv.FormatFloat(float64(x), 'g', -1, 64))
		case float64:
			b.WriteString(strconv.FormatFloat(x, 'g', -1, 64))
		case bool:
			b.WriteString(strconv.FormatBool(x))
		case nil:
			b.WriteString("null")
		}
	}
}
