package embedded_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/manoctl/manoctl/adapters/embedded"
	"github.com/manoctl/manoctl/reconcile/apply"
	"github.com/manoctl/manoctl/reconcile/records"
)

// TestRemovedJournal: the functions a session removes are journalled
// before the records forget them; ReadInfra leaves them out, a torn last
// line neither breaks the journal nor swallows the next append, and Save
// starts a fresh file and journal.
func TestRemovedJournal(t *testing.T) {
	d := newStateDir(t)
	const vims = "vims: [{name: athens, cores: 64, memory_mb: 262144}]\nservices:\n"
	a := "  a: {nsd: " + demo021 + "}\n"
	d.mustApply(resolveManifest(t, vims+a+"  b: {nsd: "+demo021+"}\n  c: {nsd: "+demo021+"}\n"), nil)
	journal := filepath.Join(d.dir, embedded.RemovedFile)
	if _, err := os.Stat(journal); !os.IsNotExist(err) {
		t.Fatalf("a clean session leaves no journal: %v", err)
	}
	r := d.store.Snapshot().Reader()
	b, err := r.ServiceByName(nil, "b")
	if err != nil || b == nil {
		t.Fatal(b, err)
	}
	c, err := r.ServiceByName(nil, "c")
	if err != nil || c == nil {
		t.Fatal(c, err)
	}

	// Destroy b and die before saving: b's functions are journalled,
	// still in the file, and out of what ReadInfra returns.
	onlyAC := resolveManifest(t, vims+a+"  c: {nsd: "+demo021+"}\n")
	d.crashApply(onlyAC)
	data, err := os.ReadFile(journal)
	if err != nil {
		t.Fatalf("no journal after a destroy: %v", err)
	}
	if want := len(b.Functions) * 37; len(data) != want {
		t.Errorf("journal of %d bytes, want %d (one id a line):\n%s", len(data), want, data)
	}
	emu, err := embedded.LoadInfra(d.dir, onlyAC)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(emu.Functions(b.ID)); got != 0 {
		t.Errorf("the destroyed service's %d functions came back", got)
	}
	if got := len(emu.Snapshot().Functions); got != 6 {
		t.Errorf("%d functions loaded, want a's and c's 6", got)
	}

	// A torn append (the process died writing it, before the records
	// committed anything that depends on it) is ignored, and the next
	// append starts a line of its own.
	f, err := os.OpenFile(journal, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(c.Functions[0][:4])
	f.Close()
	if _, err := embedded.ReadInfra(d.dir); err != nil {
		t.Fatalf("torn journal: %v", err)
	}
	onlyA := resolveManifest(t, vims+a)
	d.crashApply(onlyA)
	emu, err = embedded.LoadInfra(d.dir, onlyA)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(emu.Functions(c.ID)); got != 0 {
		t.Errorf("%d functions of c, destroyed after the torn append, came back", got)
	}
	if got := len(emu.Snapshot().Functions); got != 3 {
		t.Errorf("%d functions loaded, want a's 3", got)
	}
	if o := d.orphans(onlyA); len(o) > 0 {
		t.Errorf("orphans %v", o)
	}

	// The next session saves a file without them and drops the journal.
	d.mustApply(onlyA, nil)
	if _, err := os.Stat(journal); !os.IsNotExist(err) {
		t.Errorf("journal left after a save: %v", err)
	}
	d.checkConverged(onlyA)
}

// TestSaveDropsUnowned: a session saves only what the records own, so a
// function the infrastructure runs for nobody (its records never
// committed) does not outlive the session.
func TestSaveDropsUnowned(t *testing.T) {
	d := newStateDir(t)
	const vims = "vims: [{name: athens, cores: 64, memory_mb: 262144}]\nservices:\n"
	st := resolveManifest(t, vims+"  a: {nsd: "+demo021+"}\n")
	d.mustApply(st, nil)
	a, _ := d.store.Snapshot().Reader().ServiceByName(nil, "a")
	// The records forget a's functions behind the session's back, as if
	// their commit had never happened.
	c := a.Copy()
	c.Status, c.Functions = records.ServiceTerminated, nil
	if _, err := d.store.Write(func(txn *records.WriteTxn) error {
		for _, id := range a.Functions {
			if err := d.store.DeleteFunctionTxn(txn, id); err != nil {
				return err
			}
		}
		return d.store.UpsertServiceTxn(txn, c)
	}); err != nil {
		t.Fatal(err)
	}
	if o := d.orphans(st); len(o) != 3 {
		t.Fatalf("orphans before the session %v", o)
	}
	sess, err := embedded.StartSession(context.Background(), st, d.store, d.dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := apply.Run(context.Background(), sess.GK, d.plan(st), st, apply.Options{}); err != nil {
		t.Fatal(err)
	}
	if err := sess.Close(); err != nil {
		t.Fatal(err)
	}
	if o := d.orphans(st); len(o) > 0 {
		t.Errorf("orphans after the session saved: %v", o)
	}
	d.checkConverged(st)
}

// TestStartSessionRemovesTempFiles: a save cut short by a crash leaves a
// temporary file, which the next session removes.
func TestStartSessionRemovesTempFiles(t *testing.T) {
	d := newStateDir(t)
	st := resolveManifest(t, "vims: [{name: athens, cores: 64, memory_mb: 262144}]\nservices:\n  a: {nsd: "+demo021+"}\n")
	tmp := filepath.Join(d.dir, embedded.InfraFile+".123456")
	if err := os.WriteFile(tmp, []byte(`{"format": 1, "functi`), 0o600); err != nil {
		t.Fatal(err)
	}
	d.mustApply(st, nil)
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Errorf("temporary file left: %v", err)
	}
	d.checkConverged(st)
}
