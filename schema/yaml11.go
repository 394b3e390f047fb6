package schema

import (
	"math"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// YAML 1.1 scalar resolution, as PyYAML's SafeLoader does it.
//
// The 2017 tools read descriptors with PyYAML, which implements YAML 1.1:
// unquoted yes/no/on/off are booleans, 012 is octal, 1:30 is the
// sexagesimal integer 90, 1e3 is a string (a float needs a dot) and
// 2017-09-01 is a date. yaml.v3 implements YAML 1.2 and would give other
// types, hence other verdicts than son-validate's. resolve11 re-tags
// every plain scalar of a node tree with the tag PyYAML would give it;
// the Value tree and the syntax check both read those tags.
//
// The patterns are PyYAML's resolver.py, verbatim but for Go syntax.
var (
	re11Bool  = regexp.MustCompile(`^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$`)
	re11Float = regexp.MustCompile(`^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$`)
	re11Int   = regexp.MustCompile(`^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$`)
	re11Null  = regexp.MustCompile(`^(?:~|null|Null|NULL|)$`)
	re11Time  = regexp.MustCompile(`^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$`)
)

// YAML tags after resolution.
const (
	tagStr       = "!!str"
	tagInt       = "!!int"
	tagFloat     = "!!float"
	tagBool      = "!!bool"
	tagNull      = "!!null"
	tagTimestamp = "!!timestamp"
	tagMerge     = "!!merge"
)

// resolve11Tag returns PyYAML's implicit tag for a plain scalar.
func resolve11Tag(s string) string {
	if s == "" {
		return tagNull
	}
	// PyYAML dispatches on the first character before trying patterns;
	// checking a cheap first-character class first keeps the common case
	// (a word) off the regexp engine.
	switch c := s[0]; {
	case c == '<' && s == "<<":
		return tagMerge
	case c == '~' || c == 'n' || c == 'N':
		if re11Null.MatchString(s) {
			return tagNull
		}
		if re11Bool.MatchString(s) {
			return tagBool
		}
		return tagStr
	case c == 'y' || c == 'Y' || c == 't' || c == 'T' || c == 'f' || c == 'F' || c == 'o' || c == 'O':
		if re11Bool.MatchString(s) {
			return tagBool
		}
		return tagStr
	case c == '-' || c == '+' || c == '.' || (c >= '0' && c <= '9'):
		if re11Int.MatchString(s) {
			return tagInt
		}
		if re11Float.MatchString(s) {
			return tagFloat
		}
		if re11Time.MatchString(s) {
			return tagTimestamp
		}
	}
	return tagStr
}

// isPlain reports whether a scalar was written without quotes, block
// style or an explicit tag, the only case where implicit resolution
// applies.
func isPlain(n *yaml.Node) bool {
	return n.Style&(yaml.TaggedStyle|yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) == 0
}

// parseInt11 reads a YAML 1.1 integer (PyYAML's construct_yaml_int).
// Integers beyond int64 become float64, as large as Python's are exact.
func parseInt11(s string) (any, bool) {
	v := strings.ReplaceAll(s, "_", "")
	sign := int64(1)
	if v != "" && (v[0] == '-' || v[0] == '+') {
		if v[0] == '-' {
			sign = -1
		}
		v = v[1:]
	}
	var (
		n   int64
		err error
	)
	switch {
	case v == "0":
		return 0, true
	case strings.HasPrefix(v, "0b"):
		n, err = strconv.ParseInt(v[2:], 2, 64)
	case strings.HasPrefix(v, "0x"):
		n, err = strconv.ParseInt(v[2:], 16, 64)
	case v[0] == '0':
		n, err = strconv.ParseInt(v[1:], 8, 64)
	case strings.Contains(v, ":"):
		for _, part := range strings.Split(v, ":") {
			d, perr := strconv.ParseInt(part, 10, 64)
			if perr != nil {
				return nil, false
			}
			n = n*60 + d
		}
	default:
		n, err = strconv.ParseInt(v, 10, 64)
		if err != nil {
			f, ferr := strconv.ParseFloat(v, 64)
			if ferr != nil {
				return nil, false
			}
			return float64(sign) * f, true
		}
	}
	if err != nil {
		return nil, false
	}
	return int(sign * n), true
}

// parseFloat11 reads a YAML 1.1 float (PyYAML's construct_yaml_float).
func parseFloat11(s string) (float64, bool) {
	v := strings.ToLower(strings.ReplaceAll(s, "_", ""))
	sign := 1.0
	if v != "" && (v[0] == '-' || v[0] == '+') {
		if v[0] == '-' {
			sign = -1
		}
		v = v[1:]
	}
	switch {
	case v == ".inf":
		return sign * math.Inf(1), true
	case v == ".nan":
		return math.NaN(), true
	case strings.Contains(v, ":"):
		parts := strings.Split(v, ":")
		var f float64
		for i, part := range parts {
			d, err := strconv.ParseFloat(part, 64)
			if err != nil || (i < len(parts)-1 && strings.Contains(part, ".")) {
				return 0, false
			}
			f = f*60 + d
		}
		return sign * f, true
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return 0, false
	}
	return sign * f, true
}

// parseBool11 reads a YAML 1.1 boolean.
func parseBool11(s string) bool {
	switch strings.ToLower(s) {
	case "yes", "true", "on":
		return true
	}
	return false
}
