package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/spf13/cobra"

	"github.com/manoctl/manoctl/adapters/amqp"
	"github.com/manoctl/manoctl/reconcile/control"
	"github.com/manoctl/manoctl/reconcile/desired"
	"github.com/manoctl/manoctl/reconcile/plan"
	"github.com/manoctl/manoctl/tui"
)

func init() {
	commandRegistry = append(commandRegistry, func(f *factory) *cobra.Command { return newCmdTUI(f, nil) })
}

// tuiLogEnv names a file that receives the UI's and the platform's logs;
// nothing is ever written to the terminal while the UI runs.
const tuiLogEnv = "MANOCTL_TUI_LOG"

type tuiOptions struct {
	state    stateFlags
	broker   string
	exchange string
	readOnly bool
	mouse    bool
	view     string
	// manifestSet reports whether -f was given (with --broker the
	// manifest is optional unless named).
	manifestSet bool
}

func newCmdTUI(f *factory, runF func(context.Context, *tuiOptions) error) *cobra.Command {
	opts := &tuiOptions{}
	cmd := &cobra.Command{
		Use:   "tui [flags]",
		Short: "Watch and drive the platform in a terminal UI",
		Long: `Show the platform live: plugins (heartbeats; stale ones stand out),
services, functions, operations step by step, VIM capacity, and the bus
traffic. Plan, apply or destroy a service, and start, pause or stop a
plugin, after a confirmation; --read-only disables those actions.

Without --broker the TUI runs the embedded platform on the state
directory, as apply does, and holds the directory's lock while it runs:
other writers (apply, destroy, another tui) exit with status 4 until it
quits; get, describe and plan still work. The manifest's VIMs are the
emulated infrastructure, so -f must name a valid manifest.

With --broker the TUI shows a running 'manoctl daemon' on that RabbitMQ
broker and exchange, and takes no lock. The manifest (-f) is then only
needed to plan, apply or destroy.

Keys: ':' switches view (services, plugins, functions, operations, vims,
traffic; tab completes), '/' filters ('/!text' inverts), enter shows
details, esc goes back, '?' lists every key, q quits. Services: p plan,
a apply, d destroy. Plugins: s start, p pause, x stop. Traffic: space
pauses, c clears, enter shows the decoded body.

Logs go to the file named by MANOCTL_TUI_LOG, never to the terminal.`,
		Example: `  manoctl tui
  manoctl tui -f manoctl.yaml --state-dir .manoctl
  manoctl tui --broker amqp://guest:guest@localhost:5672/ --read-only`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.manifestSet = cmd.Flags().Changed("file")
			if opts.exchange != "" && opts.broker == "" {
				return usageErrorf("--exchange needs --broker")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runTUI(cmd.Context(), f, opts)
		},
	}
	opts.state.addState(cmd)
	opts.state.addManifest(cmd)
	cmd.Flags().StringVar(&opts.broker, "broker", "", "show the manoctl daemon on this RabbitMQ broker (amqp:// URL) instead of the embedded platform")
	cmd.Flags().StringVar(&opts.exchange, "exchange", "", "the daemon's exchange (default: broker_exchange, then son-kernel)")
	cmd.Flags().BoolVar(&opts.readOnly, "read-only", false, "disable apply, destroy and plugin actions")
	cmd.Flags().BoolVar(&opts.mouse, "mouse", false, "use the mouse (wheel scrolls, click selects); the terminal's own selection then needs shift")
	cmd.Flags().StringVar(&opts.view, "view", "", "view shown first (services, plugins, functions, operations, vims, traffic)")
	return cmd
}

func runTUI(ctx context.Context, f *factory, opts *tuiOptions) (err error) {
	if !f.io.IsStdinTTY() || !f.io.IsStdoutTTY() {
		return withCode(exitError, errors.New("tui needs a terminal on stdin and stdout; use get, describe or events in scripts"))
	}
	logger, closeLog, err := tuiLogger()
	if err != nil {
		return err
	}
	defer closeLog()
	feed := tui.NewFeed(0)

	var backend tui.Backend
	if opts.broker != "" {
		d, closeD, err := daemonBackend(ctx, f, opts, feed, logger)
		if err != nil {
			return err
		}
		defer closeD()
		backend = d
	} else {
		st, err := loadDesired(ctx, f, opts.state.manifest)
		if err != nil {
			return err
		}
		store, err := openRecords(opts.state.dir, false)
		if err != nil {
			return err
		}
		defer store.Close()
		tuneGCEmbedded()
		e, serr := tui.StartEmbedded(ctx, tui.EmbeddedConfig{
			Store: store, Dir: opts.state.dir, Desired: st, Reload: reloadDesired(opts.state.manifest),
			PlanText: planText, Logger: logger,
		})
		if serr != nil {
			return serr
		}
		defer func() {
			if cerr := e.Close(); cerr != nil && err == nil {
				err = cerr
			}
		}()
		backend = e
	}

	m := tui.New(backend, tui.Options{ReadOnly: opts.readOnly, Feed: feed, View: opts.view})
	defer m.Close()
	popts := []tea.ProgramOption{tea.WithAltScreen(), tea.WithContext(ctx), tea.WithInput(f.io.In), tea.WithOutput(f.io.Out)}
	if opts.mouse {
		popts = append(popts, tea.WithMouseCellMotion())
	}
	prog := tea.NewProgram(m, popts...)
	// A closed terminal (SIGHUP) quits like q does, so that the embedded
	// platform stops cleanly and saves the infrastructure.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-hup:
			prog.Quit()
		case <-done:
		}
	}()
	_, err = prog.Run()
	switch {
	case err == nil, errors.Is(err, tea.ErrInterrupted), errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil:
		return nil
	}
	return fmt.Errorf("tui: %w", err)
}

// tuiLogger sends the standard logger and the platform's slog logs to
// MANOCTL_TUI_LOG, or discards them: a log line on the terminal would
// corrupt the screen.
func tuiLogger() (*slog.Logger, func(), error) {
	path := os.Getenv(tuiLogEnv)
	if path == "" {
		log.SetOutput(io.Discard)
		slog.SetDefault(slog.New(slog.DiscardHandler))
		return slog.New(slog.DiscardHandler), func() {}, nil
	}
	lf, err := tea.LogToFile(path, "manoctl tui")
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", tuiLogEnv, err)
	}
	logger := slog.New(slog.NewTextHandler(lf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	slog.SetDefault(logger)
	return logger, func() { lf.Close() }, nil
}

// daemonBackend dials the broker, checks that a daemon answers, and loads
// the manifest when one is named or present.
func daemonBackend(ctx context.Context, f *factory, opts *tuiOptions, feed *tui.Feed, logger *slog.Logger) (*tui.Daemon, func(), error) {
	var backend atomic.Pointer[tui.Daemon]
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	b, err := amqp.Dial(dctx, amqp.Config{URL: opts.broker, Exchange: opts.exchange, Name: "manoctl tui", Logger: logger,
		OnEvent: func(e amqp.Event) {
			switch e.Kind {
			case amqp.EventDisconnected:
				feed.Notice("error: lost the broker connection; reconnecting")
			case amqp.EventReconnected:
				if d := backend.Load(); d != nil {
					d.Resync()
				}
			}
		}})
	if err != nil {
		return nil, nil, fmt.Errorf("broker: %w", err)
	}
	client := control.NewClient(b)
	closeAll := func() {
		client.Close()
		b.Close()
	}
	// Fail early when no daemon answers; later requests get the default
	// timeout (a plan refreshes against the IA).
	timeout := client.Timeout
	client.Timeout = 10 * time.Second
	_, err = client.Status(ctx)
	client.Timeout = timeout
	if err != nil {
		closeAll()
		return nil, nil, err
	}
	cfg := tui.DaemonConfig{Bus: b, Client: client, Source: fmt.Sprintf("daemon %s %s", b.Broker(), b.Exchange()), PlanText: planText}
	if _, statErr := os.Stat(opts.state.manifest); opts.manifestSet || statErr == nil {
		st, err := loadDesired(ctx, f, opts.state.manifest)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		cfg.Manifest = st.Manifest.Path
		for _, s := range st.Services {
			cfg.Services = append(cfg.Services, s.Name)
		}
		cfg.Desired = reloadDesired(opts.state.manifest)
	}
	d := tui.NewDaemon(cfg)
	backend.Store(d)
	return d, closeAll, nil
}

// reloadDesired reads the manifest again for each plan. Problems come
// back as one error (the UI shows them); nothing is printed.
func reloadDesired(path string) func(context.Context) (*desired.State, error) {
	return func(ctx context.Context) (*desired.State, error) {
		m, err := desired.Load(path)
		if err == nil {
			var st *desired.State
			if st, err = desired.Resolve(ctx, m); err == nil {
				if abs, aerr := filepath.Abs(path); aerr == nil && st.Manifest != nil {
					st.Manifest.Path = abs
				}
				return st, nil
			}
		}
		var ie *desired.InvalidError
		if errors.As(err, &ie) && len(ie.Diagnostics) > 0 {
			lines := make([]string, 0, len(ie.Diagnostics))
			for _, d := range ie.Diagnostics {
				lines = append(lines, d.String())
			}
			return nil, fmt.Errorf("%s is invalid: %s", path, strings.Join(lines, "; "))
		}
		return nil, err
	}
}

// planText renders a plan as `manoctl plan` does, without colour.
func planText(pl *plan.Plan) string {
	var b bytes.Buffer
	planHumanView(&b, pl, palette{}, false)
	return b.String()
}
