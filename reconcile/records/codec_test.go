package records

import (
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/manoctl/manoctl/schema/descriptor"
)

// sampleObjects returns one fully populated object per journaled table.
func sampleObjects() map[string]any {
	demo := DemoDescriptors()
	demo.NSDDigest, demo.VNFDDigests = "sha256:n", []string{"sha256:a", "sha256:b", "sha256:c"}
	svc, fns := demo.Service("demo-1", "vim-1", 7)
	svc.Egresses = []Endpoint{{Location: "Ghent", NAP: "10.9.9.9"}}
	svc.Error, svc.LastOperation = "boom", "op-1"
	now := time.Date(2026, 8, 1, 12, 0, 0, 123456789, time.UTC)
	svc.CreatedAt, svc.UpdatedAt, svc.CreateIndex, svc.ModifyIndex = now, now.Add(time.Hour), 3, 9
	fns[0].DeploymentFlavour = "gold"
	fns[0].ConnectionPoints = []ConnectionPoint{{ID: "mgmt", Type: "management", Address: "10.0.0.1"}}
	fns[0].Demand = Demand{Cores: 3, MemoryMB: 2048.5}
	fns[0].CreateIndex, fns[0].ModifyIndex = 3, 9
	nsd, _, _ := CanonicalDoc(demo.NSD)
	return map[string]any{
		TableServices:    svc,
		TableFunctions:   fns[0],
		TableDescriptors: &Descriptor{Digest: "sha256:n", Kind: KindNSD, Identity: descriptor.IdentityOf(nsd), UUID: "u", Doc: nsd, CreateIndex: 2, ModifyIndex: 2},
		TableVIMs:        &VIM{UUID: "v", Name: "athens", City: "Athens", Endpoint: "http://x", Domain: "d", CoresTotal: -1, CoresUsed: 3, MemoryTotalMB: 1 << 40, MemoryUsedMB: 0, CreateIndex: 1, ModifyIndex: 4},
		TablePlugins:     &Plugin{UUID: "p", Name: "n", Version: "0.1-dev", Description: "d", State: "RUNNING", RegisteredAt: now, CreateIndex: 1, ModifyIndex: 1},
		TableOperations: &Operation{ID: "o", ServiceID: svc.ID, ServiceName: "demo-1", Kind: OpInstantiate, CorrelationID: "c", Status: OpFailed,
			RequestedAt: now, StartedAt: now, EndedAt: now.Add(time.Minute), FailedStep: "deploy", Error: "e", Resume: "deploy",
			Steps: []Step{{Name: "deploy", Status: StepFailed, Attempt: 2, StartedAt: now, Error: "e"}}, CreateIndex: 5, ModifyIndex: 6},
	}
}

func TestCodec_RoundTrip(t *testing.T) {
	for table, obj := range sampleObjects() {
		for _, dict := range []bool{false, true} {
			e := encoder{}
			if dict {
				e.dict = map[string]uint64{}
			}
			// Twice in a row, so that dictionary references are exercised.
			for i := 0; i < 2; i++ {
				if err := encodeObject(&e, table, obj); err != nil {
					t.Fatal(err)
				}
			}
			d := newDecoder(string(e.buf), dict)
			if dict {
				d.slab = &slab{}
			}
			for i := 0; i < 2; i++ {
				got, err := decodeObject(d, table)
				if err != nil {
					t.Fatalf("%s dict=%v: %v", table, dict, err)
				}
				if !reflect.DeepEqual(got, obj) {
					t.Fatalf("%s dict=%v:\n got %#v\nwant %#v", table, dict, got, obj)
				}
			}
			if d.remaining() != 0 {
				t.Fatalf("%s: %d bytes left", table, d.remaining())
			}
			// Every truncation is an error, never a panic or a silent success.
			for cut := 0; cut < len(e.buf)/2; cut++ {
				d := newDecoder(string(e.buf[:cut]), dict)
				if _, err := decodeObject(d, table); err == nil {
					t.Fatalf("%s: decoding %d of %d bytes succeeded", table, cut, len(e.buf)/2)
				}
			}
		}
	}
}

func TestDigest_CanonicalForm(t *testing.T) {
	parse := func(s string) descriptor.Doc {
		var doc map[string]any
		if err := yaml.Unmarshal([]byte(s), &doc); err != nil {
			t.Fatal(err)
		}
		return doc
	}
	a := parse("name: x\nversion: '0.1'\nvdus:\n  - {id: a, cpu: 1}\n")
	b := parse("# a comment\nvdus: [{cpu: 1, id: a}]\nversion: \"0.1\"\nname: x\n")
	da, _ := DigestDoc(a)
	db, _ := DigestDoc(b)
	if da != db || !strings.HasPrefix(da, DigestPrefix) || len(da) != len(DigestPrefix)+64 {
		t.Fatalf("formatting changed the digest: %s vs %s", da, db)
	}
	for name, other := range map[string]descriptor.Doc{
		"float vs int": parse("name: x\nversion: '0.1'\nvdus:\n  - {id: a, cpu: 1.0}\n"),
		"number":       parse("name: x\nversion: 0.1\nvdus:\n  - {id: a, cpu: 1}\n"),
		"list content": parse("name: x\nversion: '0.1'\nvdus:\n  - {cpu: 1, id: a}\n  - null\n"),
	} {
		if d, _ := DigestDoc(other); d == da {
			t.Errorf("%s: same digest", name)
		}
	}
	// Go-built trees canonicalise to the generic form with the same digest.
	goTree := descriptor.Doc{"name": "x", "version": "0.1", "vdus": []map[string]any{{"id": "a", "cpu": int64(1)}}}
	if d, _ := DigestDoc(goTree); d != da {
		t.Error("typed slices/int64 change the digest")
	}
	c, dc, err := CanonicalDoc(descriptor.Doc{
		"a": map[any]any{1: "one"}, "b": []string{"x"}, "c": float32(1.5), "d": uint64(math.MaxUint64),
		"e": time.Date(2017, 9, 8, 1, 2, 3, 4, time.FixedZone("X", 3600)), "f": int8(-3), "g": map[string]string{"k": "v"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := descriptor.Doc{"a": map[string]any{"1": "one"}, "b": []any{"x"}, "c": 1.5, "d": uint64(math.MaxUint64),
		"e": time.Date(2017, 9, 8, 0, 2, 3, 4, time.UTC), "f": -3, "g": map[string]any{"k": "v"}}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("canonical\n got %#v\nwant %#v", c, want)
	}
	if d2, _ := DigestDoc(c); d2 != dc {
		t.Error("canonical form has another digest")
	}
	for name, bad := range map[string]descriptor.Doc{
		"func":         {"f": func() {}},
		"struct":       {"s": struct{ A int }{1}},
		"key clash":    {"m": map[any]any{1: "a", "1": "b"}},
		"deep nesting": deepDoc(maxDepth + 5),
	} {
		if _, _, err := CanonicalDoc(bad); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func deepDoc(n int) descriptor.Doc {
	var v any = "leaf"
	for i := 0; i < n; i++ {
		v = []any{v}
	}
	return descriptor.Doc{"x": v}
}

// FuzzDecodeTxnRecord: journal payloads from a damaged or hostile file are
// rejected with an error, never a panic or an unbounded allocation.
func FuzzDecodeTxnRecord(f *testing.F) {
	var ops []journalOp
	for table, obj := range sampleObjects() {
		ops = append(ops, journalOp{kind: opUpsert, table: table, obj: obj})
	}
	ops = append(ops, journalOp{kind: opDelete, table: TableVIMs, key: "v"})
	frame, err := encodeTxnRecord(42, time.Unix(1, 0), ops)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(frame[frameHeaderSize:])
	f.Add([]byte{recTxn, 1, 0, 1, opUpsert, 99})
	f.Add([]byte{recTxn, 1, 0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, payload []byte) {
		rec, err := decodeTxnRecord(payload)
		if err == nil {
			// Whatever decodes must encode again.
			if _, err := encodeTxnRecord(rec.index, time.Unix(0, rec.at), rec.ops); err != nil {
				t.Fatalf("decoded record does not re-encode: %v", err)
			}
		}
	})
}

// FuzzDecodeSnapshotFrame does the same for snapshot frames.
func FuzzDecodeSnapshotFrame(f *testing.F) {
	for table, obj := range sampleObjects() {
		e := encoder{dict: map[string]uint64{}}
		encodeObject(&e, table, obj)
		encodeObject(&e, table, obj)
		f.Add(append([]byte{snapChunk, tableIDs[table], 2}, e.buf...))
	}
	f.Add([]byte{snapEnd, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 5})
	f.Add([]byte{snapTableIndex, 1, 8, 's', 'e', 'r', 'v', 'i', 'c', 'e', 's', 3})
	f.Fuzz(func(t *testing.T, payload []byte) {
		if len(payload) == 0 {
			return // the reader never hands over empty frames
		}
		decodeSnapshotFrame(0, string(payload))
	})
}
