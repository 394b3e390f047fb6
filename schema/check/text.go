package check

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// isInvisible reports whether r is whitespace or a character that renders
// as nothing: Unicode spaces, controls and format characters (zero-width
// spaces and joiners, direction marks, the byte-order mark), plus the
// replacement for invalid UTF-8.
func isInvisible(r rune) bool {
	return unicode.IsSpace(r) || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) ||
		r == utf8.RuneError || r == '\u3164' || r == '\u2800'
}

// hasInvisible is the allocation-free test run on every id: printable
// ASCII other than the space is never invisible.
func hasInvisible(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f {
			return strings.IndexFunc(s, isInvisible) >= 0
		}
	}
	return false
}

// trimInvisible removes leading and trailing invisible characters.
func trimInvisible(s string) string { return strings.TrimFunc(s, isInvisible) }

var runeNames = map[rune]string{
	'\t':     "CHARACTER TABULATION",
	'\n':     "LINE FEED",
	'\v':     "LINE TABULATION",
	'\f':     "FORM FEED",
	'\r':     "CARRIAGE RETURN",
	' ':      "SPACE",
	'\u0085': "NEXT LINE",
	'\u00a0': "NO-BREAK SPACE",
	'\u00ad': "SOFT HYPHEN",
	'\u1680': "OGHAM SPACE MARK",
	'\u180e': "MONGOLIAN VOWEL SEPARATOR",
	'\u2000': "EN QUAD",
	'\u2001': "EM QUAD",
	'\u2002': "EN SPACE",
	'\u2003': "EM SPACE",
	'\u2004': "THREE-PER-EM SPACE",
	'\u2005': "FOUR-PER-EM SPACE",
	'\u2006': "SIX-PER-EM SPACE",
	'\u2007': "FIGURE SPACE",
	'\u2008': "PUNCTUATION SPACE",
	'\u2009': "THIN SPACE",
	'\u200a': "HAIR SPACE",
	'\u200b': "ZERO WIDTH SPACE",
	'\u200c': "ZERO WIDTH NON-JOINER",
	'\u200d': "ZERO WIDTH JOINER",
	'\u200e': "LEFT-TO-RIGHT MARK",
	'\u200f': "RIGHT-TO-LEFT MARK",
	'\u2028': "LINE SEPARATOR",
	'\u2029': "PARAGRAPH SEPARATOR",
	'\u202f': "NARROW NO-BREAK SPACE",
	'\u205f': "MEDIUM MATHEMATICAL SPACE",
	'\u2060': "WORD JOINER",
	'\u2800': "BRAILLE PATTERN BLANK",
	'\u3000': "IDEOGRAPHIC SPACE",
	'\u3164': "HANGUL FILLER",
	'\ufeff': "ZERO WIDTH NO-BREAK SPACE",
}

func runeName(r rune) string {
	if r == utf8.RuneError {
		return "an invalid UTF-8 byte"
	}
	if n, ok := runeNames[r]; ok {
		return fmt.Sprintf("U+%04X %s", r, n)
	}
	switch {
	case unicode.IsControl(r):
		return fmt.Sprintf("U+%04X (control character)", r)
	case unicode.Is(unicode.Cf, r):
		return fmt.Sprintf("U+%04X (format character)", r)
	}
	return fmt.Sprintf("U+%04X (space character)", r)
}

// describeInvisible names the invisible characters of s by where they are:
// `3 × U+0020 SPACE at the end`, `U+200B ZERO WIDTH SPACE inside`.
func describeInvisible(s string) string {
	type run struct {
		r rune
		n int
	}
	var lead, inner, trail []run
	add := func(rs []run, r rune) []run {
		if k := len(rs) - 1; k >= 0 && rs[k].r == r {
			rs[k].n++
			return rs
		}
		return append(rs, run{r, 1})
	}
	start := len(s) - len(strings.TrimLeftFunc(s, isInvisible))
	end := len(strings.TrimRightFunc(s, isInvisible))
	if end < start { // all invisible
		end = start
	}
	for i, r := range s {
		if !isInvisible(r) {
			continue
		}
		switch {
		case i < start:
			lead = add(lead, r)
		case i >= end:
			trail = add(trail, r)
		default:
			inner = add(inner, r)
		}
	}
	var parts []string
	describe := func(rs []run, where string) {
		if len(rs) == 0 {
			return
		}
		var b strings.Builder
		for i, x := range rs {
			if i > 0 {
				b.WriteString(", ")
			}
			if x.n > 1 {
				b.WriteString(strconv.Itoa(x.n))
				b.WriteString(" × ")
			}
			b.WriteString(runeName(x.r))
		}
		b.WriteString(" ")
		b.WriteString(where)
		parts = append(parts, b.String())
	}
	if start == len(s) {
		describe(lead, "(nothing else)")
	} else {
		describe(lead, "at the start")
		describe(inner, "inside")
		describe(trail, "at the end")
	}
	return strings.Join(parts, "; ")
}

// colons counts ':' in s.
func colons(s string) int { return strings.Count(s, ":") }

// versionOp splits a vnf_version constraint into its operator ("==",
// ">=", "<=", "!=" or "" for a plain version) and the version.
func versionOp(v string) (op, version string) {
	t := strings.TrimSpace(v)
	for _, o := range [...]string{"==", ">=", "<=", "!="} {
		if strings.HasPrefix(t, o) {
			return o, strings.TrimSpace(t[len(o):])
		}
	}
	return "", v
}

// compareVersions orders versions made of digits and '.', '-', '_'
// separators component by component, numerically where both components
// are numbers ("0.10" > "0.9"), as text otherwise.
func compareVersions(a, b string) int {
	sep := func(r rune) bool { return r == '.' || r == '-' || r == '_' }
	as, bs := strings.FieldsFunc(a, sep), strings.FieldsFunc(b, sep)
	for i := 0; i < len(as) || i < len(bs); i++ {
		var x, y string
		if i < len(as) {
			x = as[i]
		}
		if i < len(bs) {
			y = bs[i]
		}
		xn, xerr := strconv.ParseUint(x, 10, 64)
		yn, yerr := strconv.ParseUint(y, 10, 64)
		if x == "" {
			xn, xerr = 0, nil
		}
		if y == "" {
			yn, yerr = 0, nil
		}
		if xerr == nil && yerr == nil {
			if xn != yn {
				if xn < yn {
					return -1
				}
				return 1
			}
			continue
		}
		if c := strings.Compare(x, y); c != 0 {
			return c
		}
	}
	return 0
}

// satisfies reports whether version meets op want.
func satisfies(version, op, want string) bool {
	c := compareVersions(version, want)
	switch op {
	case ">=":
		return c >= 0
	case "<=":
		return c <= 0
	case "!=":
		return c != 0
	}
	return version == want
}
