package embedded

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/manoctl/manoctl/adapters/emulator"
	"github.com/manoctl/manoctl/reconcile/desired"
	"github.com/manoctl/manoctl/reconcile/mano"
	"github.com/manoctl/manoctl/reconcile/placement"
	"github.com/manoctl/manoctl/reconcile/plan"
	"github.com/manoctl/manoctl/reconcile/records"
)

// The embedded default keeps two things in its state directory: the MANO's
// records (reconcile/records) and, beside them, the emulated
// infrastructure as the last run left it. The infrastructure is the
// truth the records are compared with, so it is kept apart from them:
// drift between the two is real. This file is the session logic the CLI
// and the TUI share: plan against both, and run the platform on them.

// InfraFile is the emulated infrastructure's file in the state directory.
const InfraFile = "infrastructure.json"

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
// none).
func ReadInfra(dir string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(dir, InfraFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	return b, nil
}

// WriteInfra saves the emulated infrastructure atomically (temp file,
// fsync, rename, directory fsync), readable by its owner only.
func WriteInfra(dir string, data []byte) error {
	tmp, err := os.CreateTemp(dir, InfraFile+".*")
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("state: write %s: %w", InfraFile, err)
	}
	if err := os.Chmod(tmp.Name(), 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, InfraFile)); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
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
}

// StartSession brings up the embedded platform on the records of store,
// with the infrastructure as the last run left it in dir.
func StartSession(ctx context.Context, st *desired.State, store *records.Store, dir string) (*Session, error) {
	data, err := ReadInfra(dir)
	if err != nil {
		return nil, err
	}
	p, err := Start(ctx, Config{
		Inventory: Inventory(st), IAState: data,
		MANO: mano.Config{Placer: DefaultPlacer(), Records: mano.NewStore(store), Register: true},
	})
	if err != nil {
		return nil, err
	}
	return &Session{Platform: p, Store: store, Dir: dir}, nil
}

// Save writes the infrastructure and records the VIMs' use.
func (s *Session) Save() error {
	data, err := s.IA.Export()
	if err != nil {
		return err
	}
	if err := WriteInfra(s.Dir, data); err != nil {
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

// Close saves and stops the platform; the store stays open.
func (s *Session) Close() error {
	err := s.Save()
	if cerr := s.Platform.Close(); err == nil {
		err = cerr
	}
	return err
}
