// Package bustest is the conformance suite of the reconcile/bus port: the
// cases that define what every transport promises (DESIGN.md §2: a test
// that passes on the in-process bus must pass on AMQP). adapters/membus and
// adapters/amqp both run it.
//
// A transport's test calls Run with a function that builds a fresh,
// isolated environment for each case. The cases never sleep to prove an
// absence: they publish a later marker and rely on the per-subscription
// ordering the contract guarantees, so they hold on a loaded machine, and
// they only wait (up to a generous bound) for what must happen.
package bustest

import (
	"context"
	"testing"
	"time"

	"github.com/manoctl/manoctl/reconcile/bus"
)

// Env is one isolated environment: a broker (or a private part of one,
// such as a private exchange) that no other case sees.
type Env struct {
	// Connector opens buses in the environment.
	Connector bus.Connector
	// Vhosts are two distinct virtual hosts that exist and that only this
	// environment uses; most cases run on Vhosts[0].
	Vhosts [2]string
}

// Patience bounds every wait of the suite for something that must happen.
// It is not a performance expectation.
const Patience = 30 * time.Second

// A Case is one conformance case.
type Case struct {
	Name string
	Run  func(t *testing.T, env Env)
}

// Cases returns the conformance cases, in the order Run runs them.
func Cases() []Case {
	return []Case{
		{"Ordering", testOrdering},
		{"FanOut", testFanOut},
		{"Wildcards", testWildcards},
		{"UnroutableIsDropped", testUnroutable},
		{"BindingBeforeSubscribeReturns", testBindingBeforeReturn},
		{"SharedQueueCompetes", testSharedQueue},
		{"UnsubscribeStopsDelivery", testUnsubscribe},
		{"VhostIsolation", testVhostIsolation},
		{"HandlerPanicKeepsSubscription", testHandlerPanic},
		{"Concurrency", testConcurrency},
		{"CausalOrderForObservers", testCausalOrder},
		{"RequestReply", testRequestReply},
		{"RequestTimeout", testRequestTimeout},
		{"StreamedReplies", testStreamedReplies},
		{"PropertiesRoundTrip", testProperties},
		{"PayloadRoundTrip", testPayload},
		{"Closed", testClosed},
	}
}

// Run runs every case as a subtest, each with its own environment from
// newEnv, which registers its own cleanup with t.Cleanup.
func Run(t *testing.T, newEnv func(t *testing.T) Env) {
	for _, c := range Cases() {
		t.Run(c.Name, func(t *testing.T) {
			c.Run(t, newEnv(t))
		})
	}
}

// connect opens a bus on the environment's vhost i and closes it when the
// case ends.
func connect(t *testing.T, env Env, i int) bus.Bus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Patience)
	defer cancel()
	b, err := env.Connector.Connect(ctx, env.Vhosts[i])
	if err != nil {
		t.Fatalf("connect to vhost %q: %v", env.Vhosts[i], err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("close bus: %v", err)
		}
	})
	return b
}

func subscribe(t *testing.T, b bus.Bus, pattern string, h bus.Handler, opts ...bus.SubscribeOption) bus.Subscription {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Patience)
	defer cancel()
	s, err := b.Subscribe(ctx, pattern, h, opts...)
	if err != nil {
		t.Fatalf("subscribe %q: %v", pattern, err)
	}
	return s
}

func publish(t *testing.T, b bus.Bus, m *bus.Message) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Patience)
	defer cancel()
	if err := b.Publish(ctx, m); err != nil {
		t.Fatalf("publish %s: %v", m.Topic, err)
	}
}

// probe is the payload of most cases.
type probe struct {
	Seq     int    `json:"seq" yaml:"seq"`
	Tag     string `json:"tag,omitempty" yaml:"tag,omitempty"`
	Barrier bool   `json:"barrier,omitempty" yaml:"barrier,omitempty"`
}

func probeOf(t *testing.T, m *bus.Message) probe {
	t.Helper()
	var p probe
	if err := m.Decode(&p); err != nil {
		t.Fatalf("decode %s: %v", m.Topic, err)
	}
	return p
}
