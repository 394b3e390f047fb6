// Package embedded assembles manoctl's default platform in one process:
// the in-process bus, the infrastructure-adaptor emulator and the MANO
// plugins, plus a gatekeeper-style client to drive them. manoctl apply,
// the tests and the benchmarks run the lifecycle through it.
package embedded

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/manoctl/manoctl/adapters/emulator"
	"github.com/manoctl/manoctl/adapters/membus"
	"github.com/manoctl/manoctl/reconcile/bus"
	"github.com/manoctl/manoctl/reconcile/gk"
	"github.com/manoctl/manoctl/reconcile/mano"
	"github.com/manoctl/manoctl/reconcile/placement"
	"github.com/manoctl/manoctl/reconcile/placeplugin"
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
	Logger      *slog.Logger
}

// Platform is a running embedded platform.
type Platform struct {
	Broker *membus.Broker
	IA     *emulator.Emulator
	MANO   *mano.Platform
	GK     *gk.Client
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
	p.MANO, err = mano.Start(ctx, p.Broker.Default(), cfg.MANO)
	if err != nil {
		ia.Close()
		p.Broker.Close()
		return nil, err
	}
	p.GK = gk.New(p.Broker.Default(), cfg.ClientAppID)
	return p, nil
}

// Close stops everything: client, plugins, emulator, bus.
func (p *Platform) Close() error {
	p.GK.Close()
	err := p.MANO.Close()
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
