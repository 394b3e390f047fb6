package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/manoctl/manoctl/adapters/embedded"
	"github.com/manoctl/manoctl/adapters/emulator"
	"github.com/manoctl/manoctl/reconcile/desired"
	"github.com/manoctl/manoctl/reconcile/mano"
	"github.com/manoctl/manoctl/reconcile/placement"
	"github.com/manoctl/manoctl/reconcile/plan"
	"github.com/manoctl/manoctl/reconcile/records"
)

func init() {
	exitMappers = append(exitMappers, func(err error) (int, bool) {
		var le *records.LockedError
		var se *plan.StaleError
		switch {
		case errors.As(err, &le), errors.As(err, &se):
			return exitStale, true
		case desired.IsInvalid(err):
			return exitInvalid, true
		}
		return 0, false
	})
}

// infraFile is where the embedded platform keeps the emulated
// infrastructure between invocations, beside the records.
const infraFile = "infrastructure.json"

// stateFlags are the flags of every verb that reads or writes the state.
type stateFlags struct {
	dir      string
	manifest string
}

func (s *stateFlags) addState(cmd *cobra.Command) {
	cmd.Flags().StringVar(&s.dir, "state-dir", records.DefaultStateDir, "state directory (records and the embedded infrastructure)")
}

func (s *stateFlags) addManifest(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&s.manifest, "file", "f", "manoctl.yaml", "desired-state manifest (YAML, JSON or CUE)")
}

// openRecords opens the state directory; a writer takes its lock.
func openRecords(dir string, readOnly bool) (*records.Store, error) {
	if readOnly {
		if _, err := os.Stat(filepath.Join(dir, "state.json")); errors.Is(err, os.ErrNotExist) {
			// Nothing applied yet: an empty store answers reads.
			return records.NewMemStore(), nil
		}
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	s, err := records.Open(dir, records.Options{ReadOnly: readOnly})
	if err != nil {
		return nil, fmt.Errorf("state %s: %w", dir, err)
	}
	return s, nil
}

// loadDesired reads and resolves the manifest; invalid input is reported
// on stderr with its positions and maps to exit 3.
func loadDesired(ctx context.Context, f *factory, path string) (*desired.State, error) {
	m, err := desired.Load(path)
	if err != nil {
		return nil, reportInvalid(f, err)
	}
	st, err := desired.Resolve(ctx, m)
	if err != nil {
		return nil, reportInvalid(f, err)
	}
	return st, nil
}

// reportInvalid prints an InvalidError's diagnostics one per line and
// returns an error that exits 3 without printing them again.
func reportInvalid(f *factory, err error) error {
	var ie *desired.InvalidError
	if !errors.As(err, &ie) {
		return err
	}
	for _, d := range ie.Diagnostics {
		fmt.Fprintln(f.io.ErrOut, d.String())
	}
	return &codedError{code: exitInvalid, err: fmt.Errorf("%d problem(s) in the manifest or its descriptors", len(ie.Diagnostics)), silent: false}
}

// inventory converts the manifest's VIMs for the emulator.
func inventory(st *desired.State) emulator.Inventory {
	var inv emulator.Inventory
	for _, v := range st.VIMs {
		inv.VIMs = append(inv.VIMs, emulator.VIMConfig{Name: v.Name, UUID: v.UUID, City: v.City, Endpoint: v.Endpoint,
			Domain: v.Domain, Cores: v.Cores, MemoryMB: v.MemoryMB})
	}
	return inv
}

// readInfra reads the embedded infrastructure's saved state ("" when none).
func readInfra(dir string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(dir, infraFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	return b, nil
}

// writeInfra saves the embedded infrastructure atomically.
func writeInfra(dir string, data []byte) error {
	tmp, err := os.CreateTemp(dir, infraFile+".*")
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
		return fmt.Errorf("state: write %s: %w", infraFile, err)
	}
	if err := os.Chmod(tmp.Name(), 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, infraFile)); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// refreshEmbedded reads the embedded infrastructure as the last run left
// it, for the plan: VIM use and the functions still running.
func refreshEmbedded(dir string, st *desired.State) (*plan.Infra, error) {
	data, err := readInfra(dir)
	if err != nil {
		return nil, err
	}
	emu, err := emulator.New(inventory(st))
	if err != nil {
		return nil, fmt.Errorf("infrastructure: %w", err)
	}
	if len(data) > 0 {
		if _, err := emu.Import(data); err != nil {
			return nil, fmt.Errorf("infrastructure: %w", err)
		}
	}
	snap := emu.Snapshot()
	infra := &plan.Infra{Functions: map[string]bool{}}
	for _, v := range emu.VIMs() {
		infra.VIMs = append(infra.VIMs, placement.VIM{UUID: v.UUID, Name: v.Name, City: v.City, Endpoint: v.Endpoint,
			CoresTotal: v.CoreTotal, CoresUsed: v.CoreUsed, MemoryTotalMB: float64(v.MemoryTotalMB), MemoryUsedMB: v.MemoryUsedMB})
	}
	for _, f := range snap.Functions {
		infra.Functions[f.InstanceUUID] = true
	}
	return infra, nil
}

// computePlan diffs the desired state against the records and the
// embedded infrastructure.
func computePlan(st *desired.State, store *records.Store, stateDir string, detailed bool) (*plan.Plan, error) {
	infra, err := refreshEmbedded(stateDir, st)
	if err != nil {
		return nil, err
	}
	return plan.Compute(plan.Input{
		Desired: st, Records: plan.FromSnapshot(store.Snapshot(), store.Dir() == ""), Infra: infra,
		DefaultPolicy: placement.LoadBalanced, Now: timeNow(), Detailed: detailed,
	})
}

// platform is the embedded MANO platform of one apply.
type platform struct {
	*embedded.Platform
	dir string
}

// startPlatform brings up the embedded platform on the records, with the
// infrastructure as the last run left it.
func startPlatform(ctx context.Context, st *desired.State, store *records.Store, dir string) (*platform, error) {
	data, err := readInfra(dir)
	if err != nil {
		return nil, err
	}
	p, err := embedded.Start(ctx, embedded.Config{
		Inventory: inventory(st), IAState: data,
		MANO: mano.Config{Placer: embedded.DefaultPlacer(), Records: mano.NewStore(store), Register: true},
	})
	if err != nil {
		return nil, err
	}
	return &platform{Platform: p, dir: dir}, nil
}

// save records the infrastructure and the VIMs' use.
func (p *platform) save(store *records.Store) error {
	data, err := p.IA.Export()
	if err != nil {
		return err
	}
	if err := writeInfra(p.dir, data); err != nil {
		return err
	}
	_, err = store.Write(func(txn *records.WriteTxn) error {
		for _, v := range p.IA.VIMs() {
			if err := store.UpsertVIMTxn(txn, &records.VIM{UUID: v.UUID, Name: v.Name, City: v.City, Endpoint: v.Endpoint, Domain: v.Domain,
				CoresTotal: int64(v.CoreTotal), CoresUsed: int64(v.CoreUsed), MemoryTotalMB: int64(v.MemoryTotalMB), MemoryUsedMB: int64(v.MemoryUsedMB + 0.5)}); err != nil {
				return err
			}
		}
		return nil
	})
	return err
}

func (p *platform) close(store *records.Store) error {
	err := p.save(store)
	if cerr := p.Platform.Close(); err == nil {
		err = cerr
	}
	return err
}
