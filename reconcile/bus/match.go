package bus

import "strings"

// Pattern is a compiled RabbitMQ topic-exchange binding key.
type Pattern struct {
	raw   string
	words []string
	exact bool // no wildcard: compare strings
}

// CompilePattern parses a binding key. Every key is valid: words are
// separated by '.', '*' matches exactly one word, '#' zero or more words.
func CompilePattern(p string) Pattern {
	words := strings.Split(p, ".")
	exact := true
	for _, w := range words {
		if w == "*" || w == "#" {
			exact = false
			break
		}
	}
	return Pattern{raw: p, words: words, exact: exact}
}

// String returns the binding key.
func (p Pattern) String() string { return p.raw }

// Match reports whether the routing key topic matches the pattern.
func (p Pattern) Match(topic string) bool {
	if p.exact {
		return p.raw == topic
	}
	return matchWords(p.words, strings.Split(topic, "."))
}

// MatchTopic reports whether topic matches pattern; it is the uncompiled
// form of Pattern.Match.
func MatchTopic(pattern, topic string) bool {
	return CompilePattern(pattern).Match(topic)
}

func matchWords(pat, words []string) bool {
	for len(pat) > 0 {
		switch pat[0] {
		case "#":
			// Collapse consecutive '#'; then try every split point.
			rest := pat[1:]
			for len(rest) > 0 && rest[0] == "#" {
				rest = rest[1:]
			}
			if len(rest) == 0 {
				return true
			}
			for i := 0; i <= len(words); i++ {
				if matchWords(rest, words[i:]) {
					return true
				}
			}
			return false
		case "*":
			if len(words) == 0 {
				return false
			}
		default:
			if len(words) == 0 || words[0] != pat[0] {
				return false
			}
		}
		pat, words = pat[1:], words[1:]
	}
	return len(words) == 0
}
