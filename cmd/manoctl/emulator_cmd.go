package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/manoctl/manoctl/adapters/embedded"
)

func init() {
	commandRegistry = append(commandRegistry, func(f *factory) *cobra.Command { return newCmdEmulator(f) })
}

func newCmdEmulator(f *factory) *cobra.Command {
	var broker, exchange, vims, stateFile, readyFile, logLevel string
	var seed uint64
	var latency []string
	var concurrency int
	var cpuProfile string
	cmd := &cobra.Command{
		Use:   "emulator --vims FILE [flags]",
		Short: "Run the infrastructure-adaptor emulator on RabbitMQ, or work with the embedded one",
		Long: `Run manoctl's infrastructure-adaptor emulator as its own process on a
RabbitMQ broker: it answers every infrastructure.* topic as the real IA
(app id sonata.kernel.InfrAdaptor) does, with VIMs whose free capacity
goes down on deploy and up on removal, so that a daemon runs the whole
lifecycle over the broker and the real IA can take its place.

--vims is a manifest, or any YAML file with the manifest's vims: list.
With --state FILE the infrastructure survives restarts. --latency makes
calls take the time a real VIM takes (a deploy takes seconds), e.g.
--latency infrastructure.function.deploy=2s; the pattern is an AMQP
topic pattern.

'manoctl emulator lose' works with the embedded infrastructure of a
state directory instead.`,
		Example: `  manoctl emulator --broker amqp://guest:guest@localhost:5672/%2F --vims manoctl.yaml`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if vims == "" {
				return usageErrorf("emulator needs --vims FILE")
			}
			log, err := newLogger(f, logLevel, "text")
			if err != nil {
				return err
			}
			lat, err := parseLatencies(latency)
			if err != nil {
				return err
			}
			if concurrency < 1 {
				return usageErrorf("--concurrency must be at least 1")
			}
			tuneGC()
			stop, err := startCPUProfile(cpuProfile)
			if err != nil {
				return err
			}
			defer stop()
			return runEmulator(cmd.Context(), emulatorOptions{broker: broker, exchange: exchange, vims: vims,
				state: stateFile, ready: readyFile, seed: seed, log: log, latency: lat, concurrency: concurrency})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&broker, "broker", "", "AMQP URL of the broker (default $broker_host, then amqp://guest:guest@localhost:5672/%2F)")
	fl.StringVar(&exchange, "exchange", "", "exchange name (default $broker_exchange, then son-kernel)")
	fl.StringVar(&vims, "vims", "", "manifest or YAML file with a vims: list")
	fl.StringVar(&stateFile, "state", "", "keep the infrastructure in this file across restarts")
	fl.StringVar(&readyFile, "ready-file", "", "write this file once the emulator serves")
	fl.Uint64Var(&seed, "seed", 0, "seed of the fake ids and addresses")
	fl.StringVar(&logLevel, "log-level", "info", "log level")
	fl.StringArrayVar(&latency, "latency", nil, "delay the calls of a topic pattern: PATTERN=DURATION (repeatable)")
	fl.IntVar(&concurrency, "concurrency", 16, "calls handled at once")
	addCPUProfileFlag(fl, &cpuProfile)
	cmd.AddCommand(newCmdEmulatorLose(f))
	return cmd
}

// newCmdEmulatorLose makes the embedded infrastructure lose a function, as
// a VIM that crashed would: the records still list it, the next plan finds
// the drift and heals the service.
func newCmdEmulatorLose(f *factory) *cobra.Command {
	var st stateFlags
	var service, vnf string
	cmd := &cobra.Command{
		Use:   "lose [FUNCTION_ID] [--service NAME --vnf VNF_ID]",
		Short: "Make the embedded infrastructure lose a function (simulate drift)",
		Long: `Remove a function from the embedded infrastructure behind the MANO's back,
as a VIM that lost a VM would. The records still list it; 'manoctl plan'
finds the drift and plans a heal. Name the function by id, or by service
name and vnf_id (the first instance).`,
		Example: `  manoctl emulator lose --service demo-1 --vnf vnf_firewall`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 || (len(args) == 1) == (service != "") {
				return usageErrorf("name the function by FUNCTION_ID or by --service and --vnf")
			}
			if service != "" && vnf == "" {
				return usageErrorf("--service needs --vnf")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ds, err := loadDesired(cmd.Context(), f, st.manifest)
			if err != nil {
				return err
			}
			id := ""
			if len(args) == 1 {
				id = args[0]
			} else {
				store, err := openRecords(st.dir, true)
				if err != nil {
					return err
				}
				r := store.Snapshot().Reader()
				if s, _ := r.ServiceByName(nil, service); s != nil {
					for _, fid := range s.Functions {
						if fn, _ := r.FunctionByID(nil, fid); fn != nil && fn.VNFID == vnf {
							id = fn.ID
							break
						}
					}
				}
				store.Close()
				if id == "" {
					return &notFoundError{"function", service + "/" + vnf}
				}
			}
			emu, err := embedded.LoadInfra(st.dir, ds)
			if err != nil {
				return err
			}
			if !emu.LoseFunction(id) {
				return &notFoundError{"function", id}
			}
			out, err := emu.Export()
			if err != nil {
				return err
			}
			if err := embedded.WriteInfra(st.dir, out); err != nil {
				return err
			}
			fmt.Fprintf(f.io.ErrOut, "The infrastructure lost function %s.\n", id)
			return nil
		},
	}
	st.addState(cmd)
	st.addManifest(cmd)
	cmd.Flags().StringVar(&service, "service", "", "service name")
	cmd.Flags().StringVar(&vnf, "vnf", "", "vnf_id of the function")
	return cmd
}

// parseLatencies reads --latency PATTERN=DURATION values.
func parseLatencies(vals []string) (map[string]time.Duration, error) {
	out := map[string]time.Duration{}
	for _, v := range vals {
		pat, d, ok := strings.Cut(v, "=")
		if !ok || pat == "" {
			return nil, usageErrorf("--latency %q: want PATTERN=DURATION", v)
		}
		dur, err := time.ParseDuration(d)
		if err != nil || dur < 0 {
			return nil, usageErrorf("--latency %q: want a duration such as 2s", v)
		}
		out[pat] = dur
	}
	return out, nil
}
