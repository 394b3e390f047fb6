package control

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/manoctl/manoctl/reconcile/bus"
)

// A daemon with a long history had more operations than a get reply could
// carry (36 MB at 20,000): the reply now keeps the newest that fit and
// says how many it left out.
func TestFitItemsKeepsTheReplyUnderTheBodyLimit(t *testing.T) {
	pad := strings.Repeat("x", 1800)
	items := make([]map[string]any, 20000)
	for i := range items {
		items[i] = map[string]any{"n": i, "pad": pad}
	}
	kept, dropped := fitItems(items, MaxGetBytes, true)
	if dropped == 0 || dropped+len(kept) != len(items) {
		t.Fatalf("kept %d, dropped %d of %d", len(kept), dropped, len(items))
	}
	if kept[len(kept)-1]["n"] != len(items)-1 || kept[0]["n"] != dropped {
		t.Errorf("not the newest: kept %v..%v", kept[0]["n"], kept[len(kept)-1]["n"])
	}
	b, err := json.Marshal(GetReply{FormatVersion: FormatVersion, Kind: "operations", Items: kept, Truncated: dropped})
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > bus.MaxBodySize {
		t.Errorf("reply of %d bytes, over the %d-byte body limit", len(b), bus.MaxBodySize)
	}

	// Other kinds keep the head of the listing.
	kept, dropped = fitItems(items, MaxGetBytes, false)
	if dropped == 0 || kept[0]["n"] != 0 {
		t.Errorf("from the start: kept from %v, dropped %d", kept[0]["n"], dropped)
	}
	// What fits is left alone.
	if kept, dropped := fitItems(items[:10], MaxGetBytes, true); dropped != 0 || len(kept) != 10 {
		t.Errorf("small reply: kept %d, dropped %d", len(kept), dropped)
	}
}
