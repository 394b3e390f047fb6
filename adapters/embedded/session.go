package embedded

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/manoctl/manoctl/adapters/emulator"
	"github.com/manoctl/manoctl/reconcile/desired"
	"github.com/manoctl/manoctl/reconcile/mano"
	"github.com/manoctl/manoctl/reconcile/placement"
	"github.com/manoctl/manoctl/reconcile/plan"
	"github.com/manoctl/manoctl/reconcile/records"
	"github.com/manoctl/manoctl/reconcile/slm"
)

// The embedded default keeps two things in its state directory: the MANO's
// records (reconcile/records) and, beside them, the emulated
// infrastructure as the last run left it. The infrastructure is the
// truth the records are compared with, so it is kept apart from them:
// drift between the two is real. This file is the session logic the CLI
// and the TUI share: plan against both, and run the platform on them.

// InfraFile is the emulated infrastructure's file in the state directory.
const InfraFile = "infrastructure.json"

// RemovedFile journals, one function id a line, the functions the
// emulated infrastructure removed since InfraFile was written.
//
// The infrastructure is saved when a session ends, not at every step: a
// process killed in the middle of an apply loses what the emulator did
// since (the infrastructure dies with the process, after all). Functions
// it deployed meanwhile are simply gone, which the next plan sees as drift
// and heals. Functions it removed must not come back, though: the records
// may already have forgotten them, and nothing would ever remove them
// again. So before the records commit a step that drops functions, the
// session appends their ids here and syncs, and ReadInfra leaves them out.
// Save writes a fresh InfraFile and empties the journal.
const RemovedFile = "infrastructure.removed"

// Inventory converts the manifest's VIMs for the emulator.
func Inventory(st *desired.State) emulator.Inventory {
	var inv emulator.Inventory
	for _, v := range st.VIMs {
		inv.VIMs = append(inv.VIMs, emulator.VIMConfig{Name: v.Name, UUID: v.UUID, City: v.City, Endpoint: v.Endpoint,
			Domain: v.Domain, Cores: v.Cores, MemoryMB: v.MemoryMB})
	}
	return inv
}

// ReadInfra reads the emulated infrastructure's saved state (nil when
// none), without the functions removed since it was saved (RemovedFile).
func ReadInfra(dir string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(dir, InfraFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	removed, err := readRemoved(dir)
	if err != nil || len(removed) == 0 {
		return b, err
	}
	b, err = filterInfra(b, func(fn, _ string) bool { return !removed[fn] }, nil)
	if err != nil {
		return nil, fmt.Errorf("state: %s: %w", InfraFile, err)
	}
	return b, nil
}

// readRemoved reads RemovedFile. A line that is not a whole record id is
// the torn tail of an append cut short by a crash, before the records
// committed anything that depends on it: it is ignored.
func readRemoved(dir string) (map[string]bool, error) {
	b, err := os.ReadFile(filepath.Join(dir, RemovedFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	out := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if id := sc.Text(); records.IsUUID(id) {
			out[id] = true
		}
	}
	return out, nil
}

// filterInfra keeps, of a saved infrastructure state (Emulator.Export),
// the functions keepFn accepts (by function and service instance id) and,
// when keepSvc is not nil, the services it accepts or that keep a
// function. Everything else in the state is carried over unchanged.
func filterInfra(data []byte, keepFn func(fn, svc string) bool, keepSvc func(svc string) bool) ([]byte, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	type head struct {
		ID      string `json:"id"`
		Service string `json:"service"`
	}
	var fns, svcs []json.RawMessage
	if raw, ok := doc["functions"]; ok {
		if err := json.Unmarshal(raw, &fns); err != nil {
			return nil, fmt.Errorf("functions: %w", err)
		}
	}
	if raw, ok := doc["services"]; ok {
		if err := json.Unmarshal(raw, &svcs); err != nil {
			return nil, fmt.Errorf("services: %w", err)
		}
	}
	keptFns := fns[:0]
	withFunctions := map[string]bool{}
	for _, raw := range fns {
		var h head
		if err := json.Unmarshal(raw, &h); err != nil {
			return nil, fmt.Errorf("function: %w", err)
		}
		if keepFn(h.ID, h.Service) {
			keptFns = append(keptFns, raw)
			withFunctions[h.Service] = true
		}
	}
	keptSvcs := svcs
	if keepSvc != nil {
		keptSvcs = svcs[:0]
		for _, raw := range svcs {
			var h head
			if err := json.Unmarshal(raw, &h); err != nil {
				return nil, fmt.Errorf("service: %w", err)
			}
			if withFunctions[h.ID] || keepSvc(h.ID) {
				keptSvcs = append(keptSvcs, raw)
			}
		}
	}
	for k, v := range map[string][]json.RawMessage{"functions": keptFns, "services": keptSvcs} {
		if _, ok := doc[k]; !ok && len(v) == 0 {
			continue
		}
		if v == nil {
			v = []json.RawMessage{}
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		doc[k] = b
	}
	return json.MarshalIndent(doc, "", " ")
}

// WriteInfra saves the emulated infrastructure atomically (temp file,
// fsync, rename, directory fsync), readable by its owner only.
func WriteInfra(dir string, data []byte) error {
	tmp, err := os.CreateTemp(dir, InfraFile+".*")
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("state: write %s: %w", InfraFile, err)
	}
	if err := os.Chmod(tmp.Name(), 0o600); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, InfraFile)); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	syncDir(dir)
	return nil
}

// LoadInfra builds an emulator (not started) over the manifest's VIMs with
// the infrastructure state saved in dir.
func LoadInfra(dir string, st *desired.State) (*emulator.Emulator, error) {
	data, err := ReadInfra(dir)
	if err != nil {
		return nil, err
	}
	emu, err := emulator.New(Inventory(st))
	if err != nil {
		return nil, fmt.Errorf("infrastructure: %w", err)
	}
	if len(data) > 0 {
		if _, err := emu.Import(data); err != nil {
			return nil, fmt.Errorf("infrastructure: %w", err)
		}
	}
	return emu, nil
}

// Refresh reads the emulated infrastructure as the last run left it, for
// the plan: VIM use and the functions still running.
func Refresh(dir string, st *desired.State) (*plan.Infra, error) {
	emu, err := LoadInfra(dir, st)
	if err != nil {
		return nil, err
	}
	return InfraOf(emu), nil
}

// InfraOf is the plan's view of an emulator.
func InfraOf(emu *emulator.Emulator) *plan.Infra {
	infra := &plan.Infra{Functions: map[string]bool{}}
	for _, v := range emu.VIMs() {
		infra.VIMs = append(infra.VIMs, placement.VIM{UUID: v.UUID, Name: v.Name, City: v.City, Endpoint: v.Endpoint,
			CoresTotal: v.CoreTotal, CoresUsed: v.CoreUsed, MemoryTotalMB: float64(v.MemoryTotalMB), MemoryUsedMB: v.MemoryUsedMB})
	}
	for _, f := range emu.Snapshot().Functions {
		infra.Functions[f.InstanceUUID] = true
	}
	return infra
}

// Plan diffs the desired state against the records and the emulated
// infrastructure of dir.
func Plan(st *desired.State, store *records.Store, dir string, detailed bool) (*plan.Plan, error) {
	infra, err := Refresh(dir, st)
	if err != nil {
		return nil, err
	}
	return plan.Compute(plan.Input{
		Desired: st, Records: plan.FromSnapshot(store.Snapshot(), store.Dir() == ""), Infra: infra,
		DefaultPolicy: placement.LoadBalanced, Now: time.Now().UTC(), Detailed: detailed,
	})
}

// Session is the embedded platform running on a state directory.
type Session struct {
	*Platform
	Store *records.Store
	Dir   string

	// infra orders the infrastructure's saves and removal journal with
	// the records' commits; nil for a Session built by hand, which then
	// journals nothing (and Save still drops what no record owns).
	infra *infraSync
}

// infraSync keeps the saved infrastructure from outliving the records: a
// function the records stop owning is journalled as removed before the
// records commit, and a save never runs between the two.
type infraSync struct {
	store *records.Store
	dir   string
	// commits is held shared by a records commit that drops functions,
	// from its journal append to its commit, and exclusively by Save.
	commits sync.RWMutex
	// appends serialises RemovedFile appends.
	appends sync.Mutex
}

// StartSession brings up the embedded platform on the records of store,
// with the infrastructure as the last run left it in dir.
func StartSession(ctx context.Context, st *desired.State, store *records.Store, dir string) (*Session, error) {
	return StartSessionWith(ctx, st, store, dir, nil)
}

// StartSessionWith is StartSession with tune run on the platform's
// configuration before it starts (a logger, a plugin store). The SLM's
// records port must stay the session's: it journals the functions the
// records drop (RemovedFile).
func StartSessionWith(ctx context.Context, st *desired.State, store *records.Store, dir string, tune func(*Config)) (*Session, error) {
	data, err := ReadInfra(dir)
	if err != nil {
		return nil, err
	}
	// Leftovers of a WriteInfra cut short by a crash: never renamed into
	// place, so never part of the state.
	if tmps, err := filepath.Glob(filepath.Join(dir, InfraFile+".*")); err == nil {
		for _, t := range tmps {
			os.Remove(t)
		}
	}
	is := &infraSync{store: store, dir: dir}
	cfg := Config{
		Inventory: Inventory(st), IAState: data,
		MANO: mano.Config{Placer: DefaultPlacer(), Register: true},
	}
	if tune != nil {
		tune(&cfg)
	}
	cfg.MANO.Records = &journalledRecords{Store: mano.NewStore(store), sync: is}
	p, err := Start(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return &Session{Platform: p, Store: store, Dir: dir, infra: is}, nil
}

// journalledRecords is the SLM's records port of a session: the records
// store, with the functions a service save drops journalled as removed
// from the infrastructure before the save commits.
type journalledRecords struct {
	*mano.Store
	sync *infraSync
}

var _ slm.Records = (*journalledRecords)(nil)

func (r *journalledRecords) SaveService(ctx context.Context, st *slm.ServiceState) error {
	r.sync.commits.RLock()
	defer r.sync.commits.RUnlock()
	if dropped := r.sync.dropped(st); len(dropped) > 0 {
		if err := r.sync.journal(dropped); err != nil {
			return fmt.Errorf("records: save service %s: %w", st.ID, err)
		}
	}
	return r.Store.SaveService(ctx, st)
}

// dropped lists the recorded functions of the service that saving st
// forgets: the records keep a service's functions only while it is
// prepared in the IA, and only those with a VNFR (mano.Store).
func (s *infraSync) dropped(st *slm.ServiceState) []string {
	svc, err := s.store.Reader().ServiceByID(nil, st.ID)
	if err != nil || svc == nil || len(svc.Functions) == 0 {
		return nil
	}
	keep := map[string]bool{}
	if st.Prepared {
		for _, f := range st.Functions {
			if f.VNFR != nil {
				keep[f.ID] = true
			}
		}
	}
	var out []string
	for _, id := range svc.Functions {
		if !keep[id] {
			out = append(out, id)
		}
	}
	return out
}

// journal appends ids to RemovedFile and syncs it.
func (s *infraSync) journal(ids []string) error {
	s.appends.Lock()
	defer s.appends.Unlock()
	path := filepath.Join(s.dir, RemovedFile)
	_, statErr := os.Stat(path)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	// An append a crash cut short leaves a torn last line: end it, or the
	// first id appended now would join it and be ignored with it.
	torn, err := tornTail(f)
	if err != nil {
		f.Close()
		return fmt.Errorf("state: %s: %w", RemovedFile, err)
	}
	var b bytes.Buffer
	if torn {
		b.WriteByte('\n')
	}
	for _, id := range ids {
		b.WriteString(id)
		b.WriteByte('\n')
	}
	_, err = f.Write(b.Bytes())
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("state: %s: %w", RemovedFile, err)
	}
	if errors.Is(statErr, os.ErrNotExist) {
		syncDir(s.dir)
	}
	return nil
}

// tornTail reports whether f is not empty and does not end with a
// newline.
func tornTail(f *os.File) (bool, error) {
	fi, err := f.Stat()
	if err != nil || fi.Size() == 0 {
		return false, err
	}
	last := make([]byte, 1)
	if _, err := f.ReadAt(last, fi.Size()-1); err != nil {
		return false, err
	}
	return last[0] != '\n', nil
}

// syncDir makes the creation, rename or removal of a file in dir durable.
// It is best effort: not every file system can sync a directory.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// Save writes the infrastructure and records the VIMs' use. What the
// emulator runs that no live record owns (a deployment whose records
// never committed) is left out: nothing would ever remove it.
func (s *Session) Save() error {
	if s.infra != nil {
		s.infra.commits.Lock()
	}
	err := s.saveInfra()
	if s.infra != nil {
		s.infra.commits.Unlock()
	}
	if err != nil {
		return err
	}
	_, err = s.Store.Write(func(txn *records.WriteTxn) error {
		for _, v := range s.IA.VIMs() {
			if err := s.Store.UpsertVIMTxn(txn, &records.VIM{UUID: v.UUID, Name: v.Name, City: v.City, Endpoint: v.Endpoint, Domain: v.Domain,
				CoresTotal: int64(v.CoreTotal), CoresUsed: int64(v.CoreUsed), MemoryTotalMB: int64(v.MemoryTotalMB), MemoryUsedMB: int64(v.MemoryUsedMB + 0.5)}); err != nil {
				return err
			}
		}
		return nil
	})
	return err
}

func (s *Session) saveInfra() error {
	data, err := s.IA.Export()
	if err != nil {
		return err
	}
	owned, live, err := ownership(s.Store)
	if err != nil {
		return err
	}
	if data, err = filterInfra(data, func(fn, _ string) bool { return owned[fn] }, func(svc string) bool { return live[svc] }); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	if err := WriteInfra(s.Dir, data); err != nil {
		return err
	}
	// The new file has none of the removed functions: forget them.
	if err := os.Remove(filepath.Join(s.Dir, RemovedFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("state: %w", err)
	}
	syncDir(s.Dir)
	return nil
}

// ownership returns the functions live services own and the live
// services, from the committed records.
func ownership(store *records.Store) (owned, live map[string]bool, err error) {
	it, err := store.Snapshot().Reader().Services(nil)
	if err != nil {
		return nil, nil, err
	}
	owned, live = map[string]bool{}, map[string]bool{}
	for svc := range it {
		if svc.Status == records.ServiceTerminated {
			continue
		}
		live[svc.ID] = true
		for _, f := range svc.Functions {
			owned[f] = true
		}
	}
	return owned, live, nil
}

// Close saves and stops the platform; the store stays open.
func (s *Session) Close() error {
	err := s.Save()
	if cerr := s.Platform.Close(); err == nil {
		err = cerr
	}
	return err
}
