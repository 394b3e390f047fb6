package sprest

import (
	"testing"
	"time"
)

func TestBackoffIsBounded(t *testing.T) {
	c := &Client{cfg: Config{MinBackoff: 10 * time.Millisecond, MaxBackoff: time.Second}}
	prevMax := time.Duration(0)
	for attempt := 1; attempt <= 64; attempt++ {
		for range 50 {
			d := c.backoff(attempt)
			if d > time.Second || d < 7*time.Millisecond {
				t.Fatalf("attempt %d: backoff %s outside [7.5ms, 1s]", attempt, d)
			}
			prevMax = max(prevMax, d)
		}
	}
	if prevMax < 700*time.Millisecond {
		t.Fatalf("backoff never approached the bound: %s", prevMax)
	}
	if d := c.backoff(1); d > 13*time.Millisecond {
		t.Fatalf("first backoff %s", d)
	}
}
