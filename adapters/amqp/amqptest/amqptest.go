// Package amqptest gives tests a RabbitMQ broker to run against: the loud
// MANOCTL_SKIP_AMQP opt-out, a private virtual host per test, private
// exchange names, and plain amqp091 connections that stand in for the
// Python components.
//
// RabbitMQ tests always run (STYLE.md §7): without a broker they fail with
// a hint, and only MANOCTL_SKIP_AMQP=1 skips them, with a warning on
// stderr. The broker is amqp://guest:guest@localhost:5672/, or
// MANOCTL_TEST_BROKER.
package amqptest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/manoctl/manoctl/adapters/amqp"
)

// Environment variables.
const (
	// SkipEnv=1 skips every RabbitMQ test, loudly.
	SkipEnv = "MANOCTL_SKIP_AMQP"
	// URLEnv overrides the broker URL of the tests (its path is ignored:
	// every test gets its own vhost).
	URLEnv = "MANOCTL_TEST_BROKER"
)

// DefaultURL is the broker the tests use.
const DefaultURL = "amqp://guest:guest@localhost:5672/"

// SkipReason is the reason each test skips with under SkipEnv.
const SkipReason = "MANOCTL_SKIP_AMQP=1: RabbitMQ test NOT run"

// Warning is printed to stderr by Main under SkipEnv.
const Warning = "WARNING: MANOCTL_SKIP_AMQP=1, RabbitMQ tests NOT run"

// Skipped reports whether the RabbitMQ tests are opted out.
func Skipped() bool { return os.Getenv(SkipEnv) == "1" }

// Main runs the tests of a package with RabbitMQ tests; call it from
// TestMain. Under SkipEnv it prints Warning to stderr, which go test shows
// without -v when it runs one package in its directory. In package-list
// mode (go test ./...) go test swallows the output of passing packages, so
// Main also writes the warning to the controlling terminal when there is
// one; CI scripts should check SkipEnv themselves.
func Main(m *testing.M) { os.Exit(Run(m)) }

// Run is Main for a TestMain with its own clean-up: it returns the exit
// code.
func Run(m *testing.M) int {
	if Skipped() {
		fmt.Fprintln(os.Stderr, Warning)
		if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
			fmt.Fprintln(tty, Warning)
			tty.Close()
		}
	}
	return m.Run()
}

// URL returns the base broker URL of the tests.
func URL() string {
	if u := os.Getenv(URLEnv); u != "" {
		return u
	}
	return DefaultURL
}

var (
	probeOnce sync.Once
	probeErr  error
)

// Require skips t under SkipEnv and fails it with a hint when the broker
// cannot be reached.
func Require(t testing.TB) {
	t.Helper()
	if Skipped() {
		t.Skip(SkipReason)
	}
	probeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var c *amqp091.Connection
		c, probeErr = dialPlain(ctx, URL())
		if probeErr == nil {
			probeErr = c.Close()
		}
	})
	if probeErr != nil {
		t.Fatalf("RabbitMQ is not reachable at %s: %v\n"+
			"Start it with `rabbitmq-server -detached` (rabbitmqctl is in /usr/sbin), "+
			"or set %s=1 to skip the RabbitMQ tests (loudly).", amqp.RedactURL(URL()), probeErr, SkipEnv)
	}
}

var (
	mgrOnce sync.Once
	mgr     amqp.VhostManager
	mgrErr  error
)

// Manager returns the VhostManager of the test broker: the management API
// if enabled, else rabbitmqctl.
func Manager(t testing.TB) amqp.VhostManager {
	t.Helper()
	Require(t)
	mgrOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		mgr, mgrErr = amqp.NewVhostManager(ctx, amqp.ManagerConfig{})
	})
	if mgrErr != nil {
		t.Fatalf("no way to manage vhosts on the test broker: %v", mgrErr)
	}
	return mgr
}

// Name returns a unique broker-safe name: prefix, the test's name and a
// random suffix.
func Name(t testing.TB, prefix string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	n := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			return r
		}
		return '-'
	}, t.Name())
	if len(n) > 40 {
		n = n[len(n)-40:]
	}
	return prefix + n + "-" + hex.EncodeToString(b[:])
}

// Vhost creates a private virtual host for t, grants the test user full
// permissions on it, and deletes it (with its queues and connections) when
// t ends.
func Vhost(t testing.TB) string {
	t.Helper()
	m := Manager(t)
	name := Name(t, "manoctl-test-")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := amqp.EnsureVhost(ctx, m, name, user()); err != nil {
		t.Fatalf("create test vhost: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := m.DeleteVhost(ctx, name); err != nil {
			t.Errorf("delete test vhost %s: %v", name, err)
		}
	})
	return name
}

// user is the user name in the test broker's URL.
func user() string {
	if u, err := url.Parse(URL()); err == nil && u.User != nil {
		return u.User.Username()
	}
	return "guest"
}

// VhostURL returns the test broker's URL for vhost.
func VhostURL(t testing.TB, vhost string) string {
	t.Helper()
	u, err := amqp.URLWithVhost(URL(), vhost)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// Exchange returns a private exchange name for t on vhost and deletes the
// exchange when t ends.
func Exchange(t testing.TB, vhost string) string {
	t.Helper()
	name := Name(t, "manoctl.test.")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := dialPlain(ctx, VhostURL(t, vhost))
		if err != nil {
			return // the vhost is gone, and the exchange with it
		}
		defer c.Close()
		if ch, err := c.Channel(); err == nil {
			_ = ch.ExchangeDelete(name,
				false, // ifUnused: delete it even if queues are still bound
				false) // noWait: wait for delete-ok
		}
	})
	return name
}

// Config returns a Config for a private exchange on vhost, with fast
// reconnection and a logger that writes to t.
func Config(t testing.TB, vhost string) amqp.Config {
	t.Helper()
	return amqp.Config{
		URL:          VhostURL(t, vhost),
		Exchange:     Exchange(t, vhost),
		Name:         "manoctl test " + t.Name(),
		ReconnectMin: 50 * time.Millisecond,
		ReconnectMax: time.Second,
		DrainTimeout: 5 * time.Second,
		Logger:       Logger(t),
	}
}

// Dial opens a plain amqp091 connection to vhost, standing in for a Python
// component, and closes it when t ends.
func Dial(t testing.TB, vhost string) *amqp091.Connection {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := dialPlain(ctx, VhostURL(t, vhost))
	if err != nil {
		t.Fatalf("plain amqp091 dial: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func dialPlain(ctx context.Context, url string) (*amqp091.Connection, error) {
	type result struct {
		c   *amqp091.Connection
		err error
	}
	res := make(chan result, 1)
	go func() {
		c, err := amqp091.DialConfig(url, amqp091.Config{
			Properties: amqp091.Table{"connection_name": "manoctl amqptest plain client"},
			Dial:       amqp091.DefaultDial(5 * time.Second),
		})
		res <- result{c, err}
	}()
	select {
	case r := <-res:
		if r.err != nil {
			return nil, fmt.Errorf("dial %s: %v", amqp.RedactURL(url), r.err)
		}
		return r.c, nil
	case <-ctx.Done():
		go func() {
			if r := <-res; r.c != nil {
				_ = r.c.Close()
			}
		}()
		return nil, ctx.Err()
	}
}

// Logger returns a logger that writes to t.Log until t ends (later
// records, from goroutines that outlive the test, are dropped).
func Logger(t testing.TB) *slog.Logger {
	w := &testWriter{t: t}
	t.Cleanup(w.stop)
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Helper()
		w.t.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}

func (w *testWriter) stop() {
	w.mu.Lock()
	w.done = true
	w.mu.Unlock()
}
