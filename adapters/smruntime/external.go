package smruntime

import (
	"context"
	"log/slog"
	"sort"
	"strings"

	"github.com/manoctl/manoctl/adapters/amqp"
	"github.com/manoctl/manoctl/reconcile/smr"
)

// External is the runtime of managers started elsewhere: Start only logs
// the environment the manager must be started with (the broker password
// redacted) and hands the registry an instance that never exits on its
// own; the manager then has the registration timeout to register. Stop
// cannot stop it: the registry deletes its vhost after terminating it,
// which disconnects it.
type External struct {
	log *slog.Logger
	// Announce, when set, is called with every manager to start, for
	// example to hand it to another orchestrator.
	Announce func(spec smr.ManagerSpec)
}

var _ smr.Runtime = (*External)(nil)

// NewExternal returns the external runtime.
func NewExternal(log *slog.Logger) *External {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &External{log: log.With("runtime", "external")}
}

// Start announces the manager.
func (e *External) Start(_ context.Context, spec smr.ManagerSpec) (smr.Instance, error) {
	keys := make([]string, 0, len(spec.Env))
	for k := range spec.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var env []string
	for _, k := range keys {
		v := spec.Env[k]
		if strings.Contains(v, "://") {
			v = amqp.RedactURL(v)
		}
		env = append(env, k+"="+v)
	}
	e.log.Info("waiting for an external manager to register", "id", spec.ID, "image", spec.Image, "vhost", spec.Vhost, "env", strings.Join(env, " "))
	if e.Announce != nil {
		e.Announce(spec)
	}
	return &external{name: spec.Name, done: make(chan struct{})}, nil
}

type external struct {
	name string
	done chan struct{}
}

func (x *external) Name() string                   { return x.name }
func (x *external) Done() <-chan struct{}          { return x.done }
func (x *external) Err() error                     { return nil }
func (x *external) Stop(ctx context.Context) error { return nil }
