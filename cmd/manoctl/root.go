package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/manoctl/manoctl/cmd/manoctl/internal/iostreams"
)

// factory holds what commands share: the streams and lazily built
// dependencies. One is built per invocation, never stored globally.
type factory struct {
	io *iostreams.IOStreams
}

// Main runs manoctl with the process's arguments and streams and returns
// the exit code.
func Main() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return run(ctx, os.Args[1:], iostreams.System())
}

// run executes one invocation; tests call it with their own streams.
func run(ctx context.Context, args []string, ios *iostreams.IOStreams) int {
	f := &factory{io: ios}
	root := newCmdRoot(f)
	root.SetArgs(terraformStyleFlags(args))
	root.SetIn(ios.In)
	root.SetOut(ios.Out)
	root.SetErr(ios.ErrOut)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	if strings.HasPrefix(err.Error(), "unknown command ") {
		err = &usageError{err} // cobra's legacyArgs error for the root
	}
	code := exitCodeOf(err)
	if !isSilent(err) {
		fmt.Fprintf(ios.ErrOut, "manoctl: %s\n", err)
		var ue *usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(ios.ErrOut, "Run '%s --help' for usage.\n", commandPathFor(root, args))
		}
	}
	return code
}

func commandPathFor(root *cobra.Command, args []string) string {
	cmd, _, err := root.Find(args)
	if err != nil || cmd == nil {
		return root.Name()
	}
	return cmd.CommandPath()
}

func newCmdRoot(f *factory) *cobra.Command {
	root := &cobra.Command{
		Use:   "manoctl",
		Short: "Validate, plan and apply SONATA network services",
		Long: `manoctl orchestrates SONATA network services: it validates descriptors
against the 2017 son-schema, plans the difference between the services you
declare and the services that run, and applies it through a Go
re-implementation of the SONATA MANO framework, embedded or as a daemon on
RabbitMQ.`,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &usageError{err}
	})
	root.AddCommand(
		newCmdVersion(f),
	)
	for _, add := range commandRegistry {
		root.AddCommand(add(f))
	}
	return root
}

// commandRegistry lets each verb's file register its constructor, so
// that verbs can be added without editing this file.
var commandRegistry []func(*factory) *cobra.Command

// noArgs rejects positional arguments with a usage error.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErrorf("%s takes no arguments, got %q", cmd.CommandPath(), args[0])
	}
	return nil
}

// minArgs requires at least n positional arguments.
func minArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return usageErrorf("%s needs %s", cmd.CommandPath(), what)
		}
		return nil
	}
}

// exactArgs requires exactly n positional arguments.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageErrorf("%s needs %s", cmd.CommandPath(), what)
		}
		return nil
	}
}

// terraformStyleFlags accepts "-out FILE" (Terraform's spelling, which the
// plan verb documents) as "--out FILE". pflag would read it as -o "ut".
func terraformStyleFlags(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "-out" || strings.HasPrefix(a, "-out=") {
			a = "-" + a
		}
		out[i] = a
	}
	return out
}
