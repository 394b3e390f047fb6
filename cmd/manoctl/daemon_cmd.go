package main

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/manoctl/manoctl/adapters/daemon"
	"github.com/manoctl/manoctl/adapters/sprest"
	"github.com/manoctl/manoctl/reconcile/bus"
	"github.com/manoctl/manoctl/reconcile/records"
)

func init() {
	commandRegistry = append(commandRegistry, func(f *factory) *cobra.Command { return newCmdDaemon(f) })
}

func newCmdDaemon(f *factory) *cobra.Command {
	var cfg daemon.Config
	var plugins, logLevel, logFormat string
	var timeoutScale float64
	var cpuProfile string
	cmd := &cobra.Command{
		Use:   "daemon [flags]",
		Short: "Run the MANO plugins persistently on RabbitMQ",
		Long: `Run the MANO plugins (plugin manager, SLM, FLM, placement, placement
executive, specific manager registry) on a RabbitMQ broker, wire-compatible
with the original SONATA gatekeeper, infrastructure adaptor, SSMs and FSMs.
Records persist in the state directory (whose lock the daemon holds).

The CLI talks to a running daemon with --broker: manoctl plan|apply|get|
describe|events|destroy|plugins --broker URL.

With --manifest, the daemon reconciles continuously: when the manifest
changes and every --reconcile-interval it plans (refreshing against the
IA, so drift and failed services are found) and applies, at most one
apply at a time, with a back-off for services whose change failed.

The broker URL and exchange default to the originals' environment
variables broker_host and broker_exchange. With url_nsr_repository,
url_vnfr_repository and url_monitoring_server set, records and
monitoring are also written to a SONATA service platform over REST.

SIGINT or SIGTERM stop it gracefully: running workflows drain, plugins
deregister. Operations a killed daemon left running are rolled back at
the next start.`,
		Example: `  manoctl daemon --broker amqp://guest:guest@localhost:5672/%2F --metrics-addr 127.0.0.1:9464
  manoctl daemon --manifest manoctl.yaml --ready-file /run/manoctl.ready`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if timeoutScale <= 0 {
				return usageErrorf("--timeout-scale must be positive")
			}
			if cfg.OperationHistory == 0 || cfg.OperationHistory < -1 {
				return usageErrorf("--operation-history must be at least 1, or -1 to keep every operation")
			}
			if timeoutScale != 1 {
				cfg.Timeouts = bus.ScaledTimeouts(timeoutScale)
			}
			if plugins != "" {
				cfg.Plugins = strings.Split(plugins, ",")
			}
			log, err := newLogger(f, logLevel, logFormat)
			if err != nil {
				return err
			}
			cfg.Logger = log
			cfg.Version = currentVersion().Version
			if cfg.SPRest, err = sprest.FromEnv(os.LookupEnv); err != nil {
				return usageErrorf("%v", err)
			}
			tuneGC()
			stop, err := startCPUProfile(cpuProfile)
			if err != nil {
				return err
			}
			defer stop()
			return runDaemon(cmd.Context(), cfg)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&cfg.Broker, "broker", "", "AMQP URL of the broker (default $broker_host, then amqp://guest:guest@localhost:5672/%2F)")
	fl.StringVar(&cfg.Exchange, "exchange", "", "exchange name (default $broker_exchange, then son-kernel)")
	fl.StringVar(&cfg.StateDir, "state-dir", records.DefaultStateDir, "state directory")
	fl.IntVar(&cfg.OperationHistory, "operation-history", records.DefaultOperationHistory,
		"ended operations kept per service (the older ones are deleted as new ones end; -1 keeps all, and loading the state slows as they pile up)")
	fl.StringVar(&plugins, "plugins", strings.Join(daemon.AllPlugins, ","), "plugins to run (comma-separated)")
	fl.StringVar(&cfg.Manifest, "manifest", "", "reconcile this manifest continuously")
	fl.DurationVar(&cfg.ReconcileInterval, "reconcile-interval", 30*time.Second, "time between full reconciles with --manifest")
	fl.StringVar(&cfg.ReadyFile, "ready-file", "", "write this JSON file once the daemon serves")
	fl.StringVar(&cfg.MetricsAddr, "metrics-addr", "", "serve /metrics and /healthz on this loopback address (e.g. 127.0.0.1:9464)")
	fl.StringVar(&cfg.PMRestAddr, "pm-rest-addr", "", "serve the plugin manager's REST API on this address (the original used :8001)")
	fl.StringVar(&cfg.SMRuntimeConfig, "sm-runtime-config", "", "start specific managers as local processes per this file (image -> executable)")
	fl.Float64Var(&timeoutScale, "timeout-scale", 1, "multiply the bus request timeouts (function deploy 300s, other IA calls 60-120s) by this factor")
	fl.DurationVar(&cfg.DrainTimeout, "drain-timeout", 30*time.Second, "how long shutdown waits for running workflows")
	fl.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fl.StringVar(&logFormat, "log-format", "text", "log format: text or json")
	addCPUProfileFlag(fl, &cpuProfile)
	return cmd
}

func runDaemon(ctx context.Context, cfg daemon.Config) error {
	return daemon.Run(ctx, cfg)
}

// newLogger logs to stderr.
func newLogger(f *factory, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, usageErrorf("--log-level: %v", err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(f.io.ErrOut, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(f.io.ErrOut, opts)), nil
	}
	return nil, usageErrorf("--log-format: unknown format %q (want text or json)", format)
}
