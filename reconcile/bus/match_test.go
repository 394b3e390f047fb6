package bus

import "testing"

func TestMatchTopic(t *testing.T) {
	cases := []struct {
		pattern, topic string
		want           bool
	}{
		{"a.b.c", "a.b.c", true},
		{"a.b.c", "a.b", false},
		{"a.*.c", "a.b.c", true},
		{"a.*.c", "a.c", false},
		{"a.*", "a.b.c", false},
		{"#", "a.b.c", true},
		{"#", "", true},
		{"a.#", "a", true},
		{"a.#", "a.b.c", true},
		{"#.c", "a.b.c", true},
		{"#.c", "c", true},
		{"a.#.c", "a.c", true},
		{"a.#.c", "a.x.y.c", true},
		{"a.#.c", "a.x.y.d", false},
		{"a.#.#.c", "a.c", true},
		{"*.#", "a", true},
		{"infrastructure.#", "infrastructure.service.prepare", true},
		{"infrastructure.#.wan.#", "infrastructure.service.wan.configure", true},
		{"infrastructure.#.wan.#", "infrastructure.wan.add", true},
		{"infrastructure.#.wan.#", "infrastructure.function.deploy", false},
		{"platform.management.plugin.*.heartbeat", "platform.management.plugin.1234.heartbeat", true},
		{"platform.management.plugin.*.heartbeat", "platform.management.plugin.register", false},
	}
	for _, c := range cases {
		if got := MatchTopic(c.pattern, c.topic); got != c.want {
			t.Errorf("MatchTopic(%q, %q) = %v, want %v", c.pattern, c.topic, got, c.want)
		}
	}
}
