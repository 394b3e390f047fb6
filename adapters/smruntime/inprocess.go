package smruntime

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"

	"github.com/manoctl/manoctl/reconcile/smr"
)

// ManagerFunc runs an in-process manager until ctx ends; getenv answers
// broker_host, broker_exchange and sf_uuid as a process environment would.
// A non-nil error is the manager failing (a crash).
type ManagerFunc func(ctx context.Context, getenv func(string) string) error

// InProcess runs Go managers as goroutines: the image name of the
// descriptor selects the function.
type InProcess struct {
	images map[string]ManagerFunc
	log    *slog.Logger

	mu      sync.Mutex
	running map[*goroutine]struct{}
}

var (
	_ smr.Runtime   = (*InProcess)(nil)
	_ smr.Onboarder = (*InProcess)(nil)
)

// NewInProcess returns a runtime for the given images.
func NewInProcess(images map[string]ManagerFunc, log *slog.Logger) *InProcess {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &InProcess{images: images, log: log.With("runtime", "in-process"), running: map[*goroutine]struct{}{}}
}

// Onboard checks that the image is known.
func (r *InProcess) Onboard(_ context.Context, spec smr.ManagerSpec) error {
	if _, ok := r.images[spec.Image]; !ok {
		return fmt.Errorf("no in-process manager for image %s", spec.Image)
	}
	return nil
}

// Start runs the image's function in a goroutine.
func (r *InProcess) Start(_ context.Context, spec smr.ManagerSpec) (smr.Instance, error) {
	f, ok := r.images[spec.Image]
	if !ok {
		return nil, fmt.Errorf("no in-process manager for image %s", spec.Image)
	}
	env := make(map[string]string, len(spec.Env))
	for k, v := range spec.Env {
		env[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	g := &goroutine{name: spec.Name, cancel: cancel, done: make(chan struct{})}
	r.mu.Lock()
	r.running[g] = struct{}{}
	r.mu.Unlock()
	go func() {
		err := f(ctx, func(k string) string { return env[k] })
		g.mu.Lock()
		g.err = err
		g.mu.Unlock()
		r.mu.Lock()
		delete(r.running, g)
		r.mu.Unlock()
		if err != nil && ctx.Err() == nil {
			r.log.Warn("manager failed", "manager", spec.Name, "err", err)
		}
		close(g.done)
	}()
	return g, nil
}

// Running returns the names of the managers whose function has not
// returned.
func (r *InProcess) Running() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.running))
	for g := range r.running {
		out = append(out, g.name)
	}
	sort.Strings(out)
	return out
}

type goroutine struct {
	name   string
	cancel context.CancelFunc
	done   chan struct{}

	mu  sync.Mutex
	err error
}

func (g *goroutine) Name() string          { return g.name }
func (g *goroutine) Done() <-chan struct{} { return g.done }
func (g *goroutine) Err() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.err
}

// Stop cancels the manager's context and waits for its function to return.
func (g *goroutine) Stop(ctx context.Context) error {
	g.cancel()
	select {
	case <-g.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("manager %s did not stop: %w", g.name, ctx.Err())
	}
}
