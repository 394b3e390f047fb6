package amqp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// Rabbitmqctl is a VhostManager that runs rabbitmqctl, for brokers without
// the management plugin. It must run on the broker's host with access to
// its Erlang cookie (root or the rabbitmq user). Passwords go through
// standard input, never the command line.
type Rabbitmqctl struct {
	path string
	node string
}

var _ VhostManager = (*Rabbitmqctl)(nil)

// NewRabbitmqctl finds rabbitmqctl (path, else PATH, /usr/sbin,
// /usr/lib/rabbitmq/bin) for node ("" is the default node).
func NewRabbitmqctl(path, node string) (*Rabbitmqctl, error) {
	p, err := lookRabbitmqctl(path)
	if err != nil {
		return nil, err
	}
	return &Rabbitmqctl{path: p, node: node}, nil
}

// CtlError is a failed rabbitmqctl command.
type CtlError struct {
	Command  string // the subcommand, e.g. add_vhost
	ExitCode int
	Output   string // what rabbitmqctl printed
}

func (e *CtlError) Error() string {
	return fmt.Sprintf("amqp: rabbitmqctl %s: exit %d: %s", e.Command, e.ExitCode, e.Output)
}

// CreateVhost runs add_vhost, which succeeds for an existing vhost.
func (r *Rabbitmqctl) CreateVhost(ctx context.Context, name string) error {
	return r.run(ctx, "", "add_vhost", "--", name)
}

// DeleteVhost runs delete_vhost; a missing vhost is not an error.
func (r *Rabbitmqctl) DeleteVhost(ctx context.Context, name string) error {
	return ignore(r.run(ctx, "", "delete_vhost", "--", name), "does not exist")
}

// CreateUser runs add_user, or change_password for an existing user, then
// set_user_tags. The password is written to rabbitmqctl's standard input.
func (r *Rabbitmqctl) CreateUser(ctx context.Context, name, password string, tags ...string) error {
	err := r.run(ctx, password, "add_user", "--", name)
	var ce *CtlError
	if errors.As(err, &ce) && strings.Contains(ce.Output, "already exists") {
		err = r.run(ctx, password, "change_password", "--", name)
	}
	if err != nil {
		return err
	}
	return r.run(ctx, "", "set_user_tags", append([]string{"--", name}, tags...)...)
}

// DeleteUser runs delete_user; a missing user is not an error.
func (r *Rabbitmqctl) DeleteUser(ctx context.Context, name string) error {
	return ignore(r.run(ctx, "", "delete_user", "--", name), "does not exist")
}

// SetPermissions runs set_permissions.
func (r *Rabbitmqctl) SetPermissions(ctx context.Context, vhost, user string, p Permissions) error {
	return r.run(ctx, "", "set_permissions", "-p", vhost, "--", user, p.Configure, p.Write, p.Read)
}

// CloseConnections runs close_all_connections for vhost.
func (r *Rabbitmqctl) CloseConnections(ctx context.Context, vhost, reason string) error {
	if reason == "" {
		reason = "closed by manoctl"
	}
	return r.run(ctx, "", "close_all_connections", "-p", vhost, "--", reason)
}

func (r *Rabbitmqctl) run(ctx context.Context, stdin, cmd string, args ...string) error {
	argv := []string{"-q"}
	if r.node != "" {
		argv = append(argv, "-n", r.node)
	}
	argv = append(argv, cmd)
	argv = append(argv, args...)
	c := exec.CommandContext(ctx, r.path, argv...)
	if stdin != "" {
		c.Stdin = strings.NewReader(stdin)
	}
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	err := c.Run()
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("amqp: rabbitmqctl %s: %w", cmd, ctx.Err())
	}
	code := -1
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	}
	msg := strings.TrimSpace(out.String())
	msg = strings.TrimSpace(strings.TrimPrefix(msg, "Error:"))
	if stdin != "" {
		msg = strings.ReplaceAll(msg, stdin, "xxxxx")
	}
	if msg == "" {
		msg = err.Error()
	}
	return &CtlError{Command: cmd, ExitCode: code, Output: msg}
}

// ignore turns a CtlError whose output contains what into success.
func ignore(err error, what string) error {
	var ce *CtlError
	if errors.As(err, &ce) && strings.Contains(ce.Output, what) {
		return nil
	}
	return err
}
