// Package embedded assembles manoctl's default platform in one process:
// the in-process bus, the infrastructure-adaptor emulator and the MANO
// plugins, plus a gatekeeper-style client to drive them. manoctl apply,
// the tests and the benchmarks run the lifecycle through it.
package embedded

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/manoctl/manoctl/adapters/emulator"
	"github.com/manoctl/manoctl/adapters/membus"
	"github.com/manoctl/manoctl/reconcile/bus"
	"github.com/manoctl/manoctl/reconcile/flm"
	"github.com/manoctl/manoctl/reconcile/gk"
	"github.com/manoctl/manoctl/reconcile/mano"
	"github.com/manoctl/manoctl/reconcile/placement"
	"github.com/manoctl/manoctl/reconcile/placeplugin"
	"github.com/manoctl/manoctl/reconcile/pm"
	"github.com/manoctl/manoctl/reconcile/records"
	"github.com/manoctl/manoctl/reconcile/slm"
)

// Config tunes the embedded platform.
type Config struct {
	// Inventory is the emulator's VIMs.
	Inventory emulator.Inventory
	// EmulatorOptions tune the emulator (seed, concurrency).
	EmulatorOptions []emulator.Option
	// IAState is what Platform.ExportIA wrote at the end of an earlier
	// run: the infrastructure as that run left it.
	IAState []byte
	// MANO configures the plugins; its Placer is required.
	MANO mano.Config
	// ClientAppID is the app id the gatekeeper client publishes with.
	ClientAppID string
	// PluginTable, when set, is the plugin manager's store: the plugin
	// table kept in a state directory's records, whose paused and
	// stopped plugins the platform honours (PluginTable). It replaces
	// MANO.PluginStore.
	PluginTable *PluginTable
	Logger      *slog.Logger
}

// Platform is a running embedded platform.
type Platform struct {
	Broker *membus.Broker
	IA     *emulator.Emulator
	MANO   *mano.Platform
	GK     *gk.Client

	plugins *PluginTable
}

// DefaultTimeouts are the request timeouts against the instant emulator:
// a tenth of the 2017 defaults, still generous for an in-process peer.
var DefaultTimeouts = bus.ScaledTimeouts(0.1)

// Start brings the platform up.
func Start(ctx context.Context, cfg Config) (*Platform, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MANO.Logger == nil {
		cfg.MANO.Logger = cfg.Logger
	}
	if cfg.MANO.Timeouts == nil {
		cfg.MANO.Timeouts = DefaultTimeouts
	}
	if cfg.ClientAppID == "" {
		cfg.ClientAppID = bus.AppManoctl
	}
	p := &Platform{Broker: membus.New(membus.WithLogger(cfg.Logger))}
	ia, err := emulator.New(cfg.Inventory, append([]emulator.Option{emulator.WithLogger(cfg.Logger)}, cfg.EmulatorOptions...)...)
	if err != nil {
		p.Broker.Close()
		return nil, fmt.Errorf("embedded: emulator: %w", err)
	}
	p.IA = ia
	if len(cfg.IAState) > 0 {
		dropped, err := ia.Import(cfg.IAState)
		if err != nil {
			p.Broker.Close()
			return nil, fmt.Errorf("embedded: restore infrastructure state: %w", err)
		}
		if len(dropped) > 0 {
			cfg.Logger.Warn("functions on VIMs no longer in the inventory are gone", "functions", dropped)
		}
	}
	if err := ia.Start(ctx, p.Broker.Default()); err != nil {
		p.Broker.Close()
		return nil, fmt.Errorf("embedded: start emulator: %w", err)
	}
	if t := cfg.PluginTable; t != nil {
		cfg.MANO.PluginStore = t
		cfg.MANO.Plugins = t.running(cfg.MANO)
		p.plugins = t
	}
	p.MANO, err = mano.Start(ctx, p.Broker.Default(), cfg.MANO)
	if err != nil {
		ia.Close()
		p.Broker.Close()
		return nil, err
	}
	p.GK = gk.New(p.Broker.Default(), cfg.ClientAppID)
	if p.plugins != nil {
		if err := p.honourPlugins(ctx); err != nil {
			p.Close()
			return nil, err
		}
	}
	return p, nil
}

// Close stops everything: client, plugins, emulator, bus. With a
// PluginTable, the plugins' rows stay in the records with the state they
// had, running ones as PluginIdle.
func (p *Platform) Close() error {
	p.GK.Close()
	if p.plugins != nil {
		p.plugins.beginClose()
	}
	err := p.MANO.Close()
	if p.plugins != nil {
		if ferr := p.plugins.flush(); err == nil {
			err = ferr
		}
	}
	p.IA.Close()
	p.Broker.Close()
	return err
}

// WaitIdle waits until no workflow runs (tests).
func (p *Platform) WaitIdle(ctx context.Context) error {
	for {
		if p.MANO.SLM == nil || len(p.MANO.SLM.Active()) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// DefaultPlacer is manoctl's placement algorithm with the load-balanced
// policy when a request names none.
func DefaultPlacer() placeplugin.Placer { return placeplugin.Algorithm(placement.LoadBalanced) }

// PluginStopped is the state the embedded platform's plugin table keeps
// for a plugin stopped with lifecycle.stop. The 2017 PM forgot such a
// plugin (its process exited); the embedded platform, whose plugins run
// only while a command runs, remembers it so as not to start it again.
const PluginStopped = "STOPPED"

// PluginIdle is the state the plugin table keeps, once the platform has
// closed, for a plugin that was running (or registered and not yet
// started): nothing runs between commands, and the plugin runs again with
// the next one. A row left RUNNING would claim otherwise.
const PluginIdle = "IDLE"

// ErrPluginNotRunning is returned by Platform.Lifecycle for a plugin the
// platform does not run.
var ErrPluginNotRunning = errors.New("the plugin does not run")

// PluginNames are the plugins the embedded platform registers with its
// plugin manager by default.
func PluginNames() []string {
	return []string{placeplugin.Info.Name, flm.Info.Name, slm.Info.Name}
}

// HeldPlugins returns the plugins of a state directory's plugin table
// that are paused or stopped, by name. The embedded platform does not
// serve while one is: apply and destroy refuse to run.
func HeldPlugins(r records.Reader) ([]*records.Plugin, error) {
	it, err := r.Plugins(nil)
	if err != nil {
		return nil, err
	}
	var out []*records.Plugin
	for p := range it {
		if p.State == pm.StatePaused || p.State == PluginStopped {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// CheckServing returns an error naming the paused or stopped plugins of
// r and how to resume them, or nil when there are none: apply and
// destroy, from the CLI or the TUI, refuse to run while one is.
func CheckServing(r records.Reader) error {
	held, err := HeldPlugins(r)
	if err != nil || len(held) == 0 {
		return err
	}
	var parts []string
	for _, p := range held {
		parts = append(parts, fmt.Sprintf("%s is %s", p.Name, p.State))
	}
	hint := "'manoctl plugins start " + held[0].Name + "'"
	if len(held) > 1 {
		hint = "'manoctl plugins start NAME' for each"
	}
	return fmt.Errorf("the embedded platform does not serve while a plugin is paused or stopped: %s; resume with %s",
		strings.Join(parts, ", "), hint)
}

// PluginTable is the embedded platform's plugin table, kept in the
// records of a state directory (Config.PluginTable). During a run it is
// the plugin manager's store (pm.Store); between runs it keeps the
// plugins as the last run left them:
//
//   - a run's plugins register anew, under new uuids: the rows of the
//     previous run are replaced once the platform has started;
//   - a plugin paused in an earlier run is paused again (the plugin
//     manager sends it lifecycle.pause) as soon as the platform has
//     started it, and a stopped one (PluginStopped) is not started;
//   - lifecycle.stop makes a plugin deregister: its row stays, STOPPED;
//   - when the platform closes, its plugins deregister but their rows
//     stay, with their last heartbeat and the state they had, except
//     that running ones become PluginIdle.
//
// Heartbeats are kept in memory and written with the next state change
// or when the platform closes, not one records write each.
type PluginTable struct {
	store *records.Store

	mu      sync.Mutex
	prev    []*records.Plugin    // the rows of earlier runs
	held    map[string]string    // plugin name -> PAUSED or STOPPED in an earlier run
	live    map[string]pm.Plugin // this run's plugins, by uuid
	stopped map[string]pm.Plugin // this run's plugins that were stopped
	dirty   bool                 // the records lag behind live and stopped
	writing bool                 // changes go to the records at once
	closing bool                 // deregistrations keep the rows
}

var _ pm.Store = (*PluginTable)(nil)

// NewPluginTable reads the plugin table of store. The caller holds the
// state directory's lock (store is writable).
func NewPluginTable(store *records.Store) (*PluginTable, error) {
	t := &PluginTable{store: store, held: map[string]string{}, live: map[string]pm.Plugin{}, stopped: map[string]pm.Plugin{}}
	it, err := store.Snapshot().Reader().Plugins(nil)
	if err != nil {
		return nil, err
	}
	for p := range it {
		t.prev = append(t.prev, p)
		if p.State == pm.StatePaused || p.State == PluginStopped {
			t.held[p.Name] = p.State
		}
	}
	return t, nil
}

// Release forgets that the plugin called name was paused or stopped: the
// next platform started on the table runs it (lifecycle start).
func (t *PluginTable) Release(name string) {
	t.mu.Lock()
	delete(t.held, name)
	t.mu.Unlock()
}

// Held returns the paused or stopped state the table keeps for name, or
// "".
func (t *PluginTable) Held(name string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.held[name]
}

// running is the platform's plugin list without the stopped plugins.
func (t *PluginTable) running(cfg mano.Config) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	names := map[string]string{mano.PluginSLM: slm.Info.Name, mano.PluginFLM: flm.Info.Name, mano.PluginPlacement: placeplugin.Info.Name}
	for _, e := range cfg.Extensions {
		names[e.Name()] = e.Info().Name
	}
	list := cfg.Plugins
	if len(list) == 0 {
		list = append([]string(nil), mano.DefaultPlugins...)
		for _, e := range cfg.Extensions {
			list = append(list, e.Name())
		}
	}
	var out []string
	stopped := false
	for _, n := range list {
		if t.held[names[n]] == PluginStopped {
			stopped = true
			continue
		}
		out = append(out, n)
	}
	if !stopped {
		return cfg.Plugins
	}
	return out
}

// PutPlugin implements pm.Store.
func (t *PluginTable) PutPlugin(p pm.Plugin) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.stopped[p.UUID]; ok {
		return nil // a heartbeat that overtook the deregistration
	}
	old, ok := t.live[p.UUID]
	t.live[p.UUID] = p
	t.dirty = true
	if ok && samePlugin(old, p) {
		return nil // a heartbeat: written later
	}
	if t.writing {
		return t.flushLocked()
	}
	return nil
}

// Plugin implements pm.Store; stopped plugins are still found, so that
// their deregistration at close is answered.
func (t *PluginTable) Plugin(id string) (pm.Plugin, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p, ok := t.live[id]; ok {
		return p, true
	}
	p, ok := t.stopped[id]
	return p, ok
}

// DeletePlugin implements pm.Store: a plugin that deregisters while the
// platform runs was stopped; one that deregisters because the platform
// closes keeps its row.
func (t *PluginTable) DeletePlugin(id string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	p, ok := t.live[id]
	if !ok || t.closing {
		return nil
	}
	delete(t.live, id)
	p.State = PluginStopped
	t.stopped[id] = p
	t.dirty = true
	if t.writing {
		return t.flushLocked()
	}
	return nil
}

// Plugins implements pm.Store: this run's running plugins.
func (t *PluginTable) Plugins() []pm.Plugin {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]pm.Plugin, 0, len(t.live))
	for _, p := range t.live {
		out = append(out, p)
	}
	pm.SortByRegistration(out)
	return out
}

// startWriting writes the table as the started platform has it, and
// every state change from now on.
func (t *PluginTable) startWriting() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.writing, t.dirty = true, true
	return t.flushLocked()
}

func (t *PluginTable) beginClose() {
	t.mu.Lock()
	t.closing = true
	t.dirty = true // running rows become idle
	t.mu.Unlock()
}

// flush writes what the records lack (heartbeats).
func (t *PluginTable) flush() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.writing {
		return nil // the platform never started: the table stays as it was
	}
	return t.flushLocked()
}

// flushLocked makes the records' plugin table this run's plugins, the
// stopped ones, and the rows of stopped plugins of earlier runs that
// this run did not start; only rows that changed are written.
func (t *PluginTable) flushLocked() error {
	if !t.dirty {
		return nil
	}
	want := map[string]*records.Plugin{}
	names := map[string]bool{}
	for _, m := range []map[string]pm.Plugin{t.live, t.stopped} {
		for _, p := range m {
			row := pluginRow(p)
			if t.closing && (row.State == pm.StateRunning || row.State == pm.StateRegistered || row.State == pm.StateReady) {
				row.State = PluginIdle
			}
			want[p.UUID] = row
			names[p.Name] = true
		}
	}
	for _, r := range t.prev {
		if r.State == PluginStopped && t.held[r.Name] == PluginStopped && !names[r.Name] {
			want[r.UUID] = r
		}
	}
	r := t.store.Snapshot().Reader()
	it, err := r.Plugins(nil)
	if err != nil {
		return err
	}
	var drop []string
	for have := range it {
		if _, ok := want[have.UUID]; !ok {
			drop = append(drop, have.UUID)
		} else if sameRow(have, want[have.UUID]) {
			delete(want, have.UUID)
		}
	}
	if len(drop) == 0 && len(want) == 0 {
		t.dirty = false
		return nil
	}
	_, err = t.store.Write(func(txn *records.WriteTxn) error {
		for _, id := range drop {
			if err := t.store.DeletePluginTxn(txn, id); err != nil {
				return err
			}
		}
		for _, p := range want {
			if err := t.store.UpsertPluginTxn(txn, p); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("records: plugin table: %w", err)
	}
	t.dirty = false
	return nil
}

func pluginRow(p pm.Plugin) *records.Plugin {
	desc := ""
	if p.Description != nil {
		desc = *p.Description
	}
	return &records.Plugin{UUID: p.UUID, Name: p.Name, Version: p.Version, Description: desc,
		State: p.State, RegisteredAt: p.RegisteredAt, LastHeartbeatAt: p.LastHeartbeatAt}
}

// samePlugin reports whether a and b differ at most in their heartbeat.
func samePlugin(a, b pm.Plugin) bool {
	da, db := "", ""
	if a.Description != nil {
		da = *a.Description
	}
	if b.Description != nil {
		db = *b.Description
	}
	return a.Name == b.Name && a.Version == b.Version && da == db && a.State == b.State && a.RegisteredAt.Equal(b.RegisteredAt)
}

func sameRow(a, b *records.Plugin) bool {
	return a.UUID == b.UUID && a.Name == b.Name && a.Version == b.Version && a.Description == b.Description && a.State == b.State &&
		a.RegisteredAt.Equal(b.RegisteredAt) && a.LastHeartbeatAt.Equal(b.LastHeartbeatAt)
}

// pluginSettle bounds how long Start waits for the plugin manager to
// start the plugins, and Lifecycle for a plugin to report its new state.
const pluginSettle = 10 * time.Second

// honourPlugins waits until the plugin manager has started every plugin
// (so that a pause sent next is not overtaken by the start), pauses again
// those paused in an earlier run, and writes the table.
func (p *Platform) honourPlugins(ctx context.Context) error {
	t := p.plugins
	if p.MANO.PM != nil {
		wctx, cancel := context.WithTimeout(ctx, pluginSettle)
		defer cancel()
		for {
			var waiting []string
			for _, pl := range p.MANO.PM.Plugins() {
				if pl.State == pm.StateRegistered || pl.State == pm.StateReady {
					waiting = append(waiting, pl.Name+" ("+pl.State+")")
				}
			}
			if len(waiting) == 0 {
				break
			}
			select {
			case <-wctx.Done():
				return fmt.Errorf("embedded: the plugin manager did not start %s within %s", strings.Join(waiting, ", "), pluginSettle)
			case <-time.After(2 * time.Millisecond):
			}
		}
		for _, pl := range p.MANO.PM.Plugins() {
			if t.Held(pl.Name) == pm.StatePaused {
				if _, err := p.Lifecycle(ctx, pl.Name, "pause"); err != nil {
					return err
				}
			}
		}
	}
	return t.startWriting()
}

// Lifecycle has the plugin manager send lifecycle.<action> (start, pause
// or stop) to the running plugin called name, on the in-process bus, and
// waits until the plugin reports the outcome: RUNNING, PAUSED, or, for
// stop, its deregistration (until ctx's deadline, or 10 s). It returns the plugin's row as it ended
// (PluginStopped after a stop).
func (p *Platform) Lifecycle(ctx context.Context, name, action string) (pm.Plugin, error) {
	want := map[string]string{"start": pm.StateRunning, "pause": pm.StatePaused, "stop": PluginStopped}[action]
	if want == "" {
		return pm.Plugin{}, fmt.Errorf("embedded: unknown lifecycle action %q (want start, pause or stop)", action)
	}
	if p.MANO.PM == nil {
		return pm.Plugin{}, errors.New("embedded: the platform runs no plugin manager")
	}
	var target pm.Plugin
	for _, pl := range p.MANO.PM.Plugins() {
		if pl.Name == name {
			target = pl
		}
	}
	if target.UUID == "" {
		return pm.Plugin{}, fmt.Errorf("embedded: plugin %s: %w", name, ErrPluginNotRunning)
	}
	if err := p.MANO.PM.Lifecycle(ctx, target.UUID, action); err != nil {
		return target, err
	}
	wctx := ctx
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		wctx, cancel = context.WithTimeout(ctx, pluginSettle)
		defer cancel()
	}
	for {
		cur, ok := p.MANO.PM.Plugin(target.UUID)
		if !ok {
			if action == "stop" {
				target.State = PluginStopped
				return target, nil
			}
			return target, fmt.Errorf("embedded: plugin %s (%s) deregistered after lifecycle.%s", name, target.UUID, action)
		}
		if cur.State == want {
			return cur, nil
		}
		select {
		case <-wctx.Done():
			return cur, fmt.Errorf("embedded: plugin %s (%s) still reports %s after lifecycle.%s", name, cur.UUID, cur.State, action)
		case <-time.After(2 * time.Millisecond):
		}
	}
}
