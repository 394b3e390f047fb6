package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/manoctl/manoctl/adapters/amqp"
	"github.com/manoctl/manoctl/adapters/emulator"
)

type emulatorOptions struct {
	broker, exchange, vims, state, ready string
	seed                                 uint64
	log                                  *slog.Logger
	latency                              map[string]time.Duration
	concurrency                          int
}

// readInventory reads the vims: (and wims:) lists of a manifest or any
// YAML file.
func readInventory(path string) (emulator.Inventory, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return emulator.Inventory{}, err
	}
	var inv emulator.Inventory
	if err := yaml.Unmarshal(b, &inv); err != nil {
		return inv, withCode(exitInvalid, fmt.Errorf("%s: %w", path, err))
	}
	if len(inv.VIMs) == 0 {
		return inv, withCode(exitInvalid, fmt.Errorf("%s has no vims: list", path))
	}
	if err := inv.Validate(); err != nil {
		return inv, withCode(exitInvalid, err)
	}
	return inv, nil
}

func runEmulator(ctx context.Context, o emulatorOptions) error {
	inv, err := readInventory(o.vims)
	if err != nil {
		return err
	}
	emu, err := emulator.New(inv, emulator.WithLogger(o.log), emulator.WithSeed(o.seed), emulator.WithConcurrency(max(o.concurrency, 1)))
	if err != nil {
		return withCode(exitInvalid, err)
	}
	for pat, d := range o.latency {
		emu.SetLatency(pat, d)
	}
	if o.state != "" {
		if b, err := os.ReadFile(o.state); err == nil {
			if _, err := emu.Import(b); err != nil {
				return err
			}
		}
	}
	b, err := amqp.Dial(ctx, amqp.Config{URL: o.broker, Exchange: o.exchange, Name: "manoctl emulator", Logger: o.log})
	if err != nil {
		return fmt.Errorf("emulator: broker: %w", err)
	}
	defer b.Close()
	if err := emu.Start(ctx, b); err != nil {
		return err
	}
	save := func() {
		if o.state == "" {
			return
		}
		data, err := emu.Export()
		if err == nil {
			err = emulator.WriteStateFile(o.state, data)
		}
		if err != nil {
			o.log.Error("emulator state not saved", "err", err)
		}
	}
	if o.ready != "" {
		r, _ := json.Marshal(map[string]any{"pid": os.Getpid(), "broker": b.Broker(), "exchange": b.Exchange(), "vims": len(inv.VIMs)})
		if err := os.WriteFile(o.ready, r, 0o600); err != nil {
			return err
		}
		defer os.Remove(o.ready)
	}
	o.log.Info("emulator ready", "broker", b.Broker(), "exchange", b.Exchange(), "vims", len(inv.VIMs))
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			emu.Close()
			save()
			return nil
		case <-t.C:
			save()
		}
	}
}
