package sm

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/manoctl/manoctl/reconcile/bus"
)

// ExitNotice is what manoctl's registry publishes, on the default vhost,
// on specific.manager.registry.{ssm,fsm}.exited when a manager exits
// without being asked to (it crashed, or its process was killed). The 2017
// registry said nothing, so a call to a crashed manager failed only at its
// timeout (120 s for SSMs); the SLM and FLM listen and fail such calls at
// once. Managers and the original plugins never see the topic.
type ExitNotice struct {
	// ID is the manager's descriptor id, UUID the service or function
	// instance it managed.
	ID   string `yaml:"id" json:"id"`
	UUID string `yaml:"uuid" json:"uuid"`
	// Error is why it exited, as far as the registry knows.
	Error string `yaml:"error" json:"error"`
}

// ExitedTopic is the topic the registry announces exits of managers of
// kind k on.
func (k Kind) ExitedTopic() string {
	if k == KindFSM {
		return bus.TopicSMRFSMExited
	}
	return bus.TopicSMRSSMExited
}

// ExitedError is the error of a call to a manager that exited.
type ExitedError struct {
	Kind       Kind
	ID, UUID   string
	Reason     string
	WhileAsked bool // the manager exited while the call waited
}

func (e *ExitedError) Error() string {
	return fmt.Sprintf("%s %s exited: %s", e.Kind, e.ID, e.Reason)
}

// exitWatch fails the calls to managers the registry reports exited: the
// calls waiting for one, and the later calls to it until its instance is
// instantiated again or terminated (forget).
type exitWatch struct {
	kind Kind

	mu       sync.Mutex
	watching bool
	exited   map[string]map[string]*ExitedError // by instance uuid, then manager id
	waiting  map[*exitWaiter]struct{}
}

type exitWaiter struct {
	id, uuid string
	cancel   context.CancelCauseFunc
}

func newExitWatch(kind Kind) *exitWatch {
	return &exitWatch{kind: kind, exited: map[string]map[string]*ExitedError{}, waiting: map[*exitWaiter]struct{}{}}
}

// watch subscribes to the registry's exit notices over ep (an endpoint on
// the default vhost), once. A failed subscription is returned and tried
// again at the next call: until then calls fail only at their timeout, as
// the 2017 plugins' did.
func (x *exitWatch) watch(ctx context.Context, ep *bus.Endpoint) error {
	x.mu.Lock()
	if x.watching {
		x.mu.Unlock()
		return nil
	}
	x.watching = true
	x.mu.Unlock()
	_, err := ep.Handle(context.WithoutCancel(ctx), x.kind.ExitedTopic(), bus.NotificationsOnly, func(_ context.Context, m *bus.Message) {
		var n ExitNotice
		if m.Decode(&n) == nil && n.ID != "" && n.UUID != "" {
			x.exit(n)
		}
	})
	if err != nil {
		x.mu.Lock()
		x.watching = false
		x.mu.Unlock()
		return fmt.Errorf("watch %s exits: %w", x.kind, err)
	}
	return nil
}

func (x *exitWatch) exit(n ExitNotice) {
	reason := n.Error
	if reason == "" {
		reason = "no reason given"
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	ids := x.exited[n.UUID]
	if ids == nil {
		ids = map[string]*ExitedError{}
		x.exited[n.UUID] = ids
	}
	ids[n.ID] = &ExitedError{Kind: x.kind, ID: n.ID, UUID: n.UUID, Reason: reason}
	for w := range x.waiting {
		if w.id == n.ID && w.uuid == n.UUID {
			w.cancel(&ExitedError{Kind: x.kind, ID: n.ID, UUID: n.UUID, Reason: reason, WhileAsked: true})
		}
	}
}

// forget drops what is known of the managers of instance uuid: they were
// instantiated again, or terminated.
func (x *exitWatch) forget(uuid string) {
	x.mu.Lock()
	delete(x.exited, uuid)
	x.mu.Unlock()
}

// request sends a call to manager id of instance uuid over ep and waits
// for the reply, or for the manager's exit. An empty id (the caller does
// not know which manager serves the call) waits for the reply alone.
func (x *exitWatch) request(ctx context.Context, ep *bus.Endpoint, id, uuid, topic string, payload any) (*bus.Message, error) {
	if id == "" {
		return ep.Request(ctx, topic, payload)
	}
	x.mu.Lock()
	if e := x.exited[uuid][id]; e != nil {
		x.mu.Unlock()
		return nil, e
	}
	cctx, cancel := context.WithCancelCause(ctx)
	w := &exitWaiter{id: id, uuid: uuid, cancel: cancel}
	x.waiting[w] = struct{}{}
	x.mu.Unlock()
	defer func() {
		x.mu.Lock()
		delete(x.waiting, w)
		x.mu.Unlock()
		cancel(nil)
	}()
	msg, err := ep.Request(cctx, topic, payload)
	if err != nil {
		var exited *ExitedError
		if errors.As(context.Cause(cctx), &exited) && ctx.Err() == nil {
			return nil, exited
		}
		return nil, err
	}
	return msg, nil
}
