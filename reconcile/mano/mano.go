// Package mano assembles the MANO plugins (plugin manager, SLM, FLM,
// placement, and the specific-manager plugins when configured) on one
// bus, registers them with the plugin manager like the original plugins
// do, and stops them in order. The embedded default, the daemon and the
// tests all start the platform through it.
package mano

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/manoctl/manoctl/reconcile/bus"
	"github.com/manoctl/manoctl/reconcile/flm"
	"github.com/manoctl/manoctl/reconcile/placeplugin"
	"github.com/manoctl/manoctl/reconcile/plugin"
	"github.com/manoctl/manoctl/reconcile/pm"
	"github.com/manoctl/manoctl/reconcile/slm"
)

// Plugin names accepted in Config.Plugins (the daemon's --plugins).
const (
	PluginPM        = "pm"
	PluginSLM       = "slm"
	PluginFLM       = "flm"
	PluginPlacement = "placement"
)

// DefaultPlugins is what runs when Config.Plugins is empty.
var DefaultPlugins = []string{PluginPM, PluginSLM, PluginFLM, PluginPlacement}

// Extension is a plugin added by another package (the SMR and the
// placement executive), started after the core plugins.
type Extension interface {
	Name() string
	Info() plugin.Info
	Endpoint() *bus.Endpoint
	Start(ctx context.Context) error
	Close() error
}

// Config wires a platform.
type Config struct {
	// Plugins to run; empty means DefaultPlugins plus every Extension.
	Plugins []string
	// Records and PluginStore persist state; defaults are in memory.
	Records     slm.Records
	PluginStore pm.Store
	Monitor     slm.Monitor
	// Placer is the placement algorithm; required when placement runs.
	Placer placeplugin.Placer
	// Managers and FSMs run specific managers; optional.
	Managers   slm.SpecificManagers
	FSMs       flm.FSMs
	Extensions []Extension
	Timeouts   func(topic string) time.Duration
	// Observe reports every bus request of the SLM and FLM (metrics).
	Observe func(topic string, took time.Duration, err error)
	Logger  *slog.Logger
	// Register makes each plugin register with the plugin manager and
	// heartbeat, as the originals do.
	Register          bool
	HeartbeatInterval time.Duration
	// SharedQueues lets several platforms on one broker share the work.
	SharedQueues bool
}

// Platform is a running set of plugins.
type Platform struct {
	PM        *pm.Manager
	SLM       *slm.SLM
	FLM       *flm.FLM
	Placement *placeplugin.Plugin

	bases   []*plugin.Base
	closers []func() error
}

type registrable struct {
	info plugin.Info
	ep   *bus.Endpoint
}

// Start brings the platform up on b.
func Start(ctx context.Context, b bus.Bus, cfg Config) (*Platform, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	want := map[string]bool{}
	list := cfg.Plugins
	if len(list) == 0 {
		// The defaults, and every extension the caller configured.
		list = append([]string(nil), DefaultPlugins...)
		for _, e := range cfg.Extensions {
			list = append(list, e.Name())
		}
	}
	for _, n := range list {
		switch n {
		case PluginPM, PluginSLM, PluginFLM, PluginPlacement:
			want[n] = true
		default:
			found := false
			for _, e := range cfg.Extensions {
				if e.Name() == n {
					found = true
				}
			}
			if !found {
				return nil, fmt.Errorf("mano: unknown plugin %q", n)
			}
			want[n] = true
		}
	}
	p := &Platform{}
	var regs []registrable
	fail := func(err error) (*Platform, error) {
		p.Close()
		return nil, err
	}
	if want[PluginPM] {
		p.PM = pm.New(b, pm.Config{Store: cfg.PluginStore, Logger: cfg.Logger})
		if err := p.PM.Start(ctx); err != nil {
			return fail(fmt.Errorf("mano: start plugin manager: %w", err))
		}
		p.closers = append(p.closers, p.PM.Close)
	}
	if want[PluginPlacement] {
		if cfg.Placer == nil {
			return fail(errors.New("mano: the placement plugin needs a Placer"))
		}
		p.Placement = placeplugin.New(b, cfg.Placer, cfg.Logger, cfg.SharedQueues)
		if err := p.Placement.Start(ctx); err != nil {
			return fail(fmt.Errorf("mano: start placement: %w", err))
		}
		p.closers = append(p.closers, p.Placement.Close)
		regs = append(regs, registrable{placeplugin.Info, p.Placement.Endpoint()})
	}
	if want[PluginFLM] {
		p.FLM = flm.New(b, flm.Config{FSMs: cfg.FSMs, Logger: cfg.Logger, Timeouts: cfg.Timeouts, Observe: cfg.Observe, SharedQueues: cfg.SharedQueues})
		if err := p.FLM.Start(ctx); err != nil {
			return fail(fmt.Errorf("mano: start FLM: %w", err))
		}
		p.closers = append(p.closers, p.FLM.Close)
		regs = append(regs, registrable{flm.Info, p.FLM.Endpoint()})
	}
	if want[PluginSLM] {
		p.SLM = slm.New(b, slm.Config{
			Records: cfg.Records, Monitor: cfg.Monitor, Managers: cfg.Managers,
			Logger: cfg.Logger, Timeouts: cfg.Timeouts, Observe: cfg.Observe, SharedQueues: cfg.SharedQueues,
		})
		if err := p.SLM.Start(ctx); err != nil {
			return fail(fmt.Errorf("mano: start SLM: %w", err))
		}
		p.closers = append(p.closers, p.SLM.Close)
		regs = append(regs, registrable{slm.Info, p.SLM.Endpoint()})
	}
	for _, e := range cfg.Extensions {
		if !want[e.Name()] {
			continue
		}
		if err := e.Start(ctx); err != nil {
			return fail(fmt.Errorf("mano: start %s: %w", e.Name(), err))
		}
		p.closers = append(p.closers, e.Close)
		regs = append(regs, registrable{e.Info(), e.Endpoint()})
	}
	if cfg.Register {
		for _, r := range regs {
			base := plugin.New(r.ep, r.info, plugin.Config{HeartbeatInterval: cfg.HeartbeatInterval, Logger: cfg.Logger})
			if err := base.Register(ctx); err != nil {
				return fail(err)
			}
			p.bases = append(p.bases, base)
		}
	}
	return p, nil
}

// Plugins returns the registered plugin bases (uuid, state).
func (p *Platform) Plugins() []*plugin.Base { return p.bases }

// Close deregisters the plugins and stops them, newest first; running
// workflows finish first.
func (p *Platform) Close() error {
	var errs []error
	for _, b := range p.bases {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if err := b.Deregister(ctx); err != nil {
			errs = append(errs, err)
		}
		cancel()
	}
	p.bases = nil
	for i := len(p.closers) - 1; i >= 0; i-- {
		if err := p.closers[i](); err != nil && !errors.Is(err, bus.ErrClosed) {
			errs = append(errs, err)
		}
	}
	p.closers = nil
	return errors.Join(errs...)
}
