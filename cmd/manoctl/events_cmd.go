package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/manoctl/manoctl/reconcile/control"
	"github.com/manoctl/manoctl/reconcile/records"
)

func init() {
	commandRegistry = append(commandRegistry, func(f *factory) *cobra.Command { return newCmdEvents(f) })
}

// event is one line of manoctl events: a lifecycle operation's step or
// its end.
type event struct {
	Time      time.Time `json:"time"`
	Service   string    `json:"service,omitempty"`
	ServiceID string    `json:"service_id,omitempty"`
	Operation string    `json:"operation"`
	Kind      string    `json:"kind"`
	Step      string    `json:"step,omitempty"`
	Status    string    `json:"status"`
	Error     string    `json:"error,omitempty"`
}

func newCmdEvents(f *factory) *cobra.Command {
	var st stateFlags
	var rf remoteFlags
	var follow bool
	var interval time.Duration
	cmd := &cobra.Command{
		Use:   "events [--follow]",
		Short: "Print lifecycle events (operation steps) as NDJSON",
		Long: `Print the lifecycle events of the records as newline-delimited JSON: one
object per operation step that ended and per operation that ended, in time
order. With --follow, keep printing events as other manoctl processes
(apply, destroy, a daemon) record them, until interrupted. With --broker,
the events are a running daemon's.`,
		Example: `  manoctl events --follow
  manoctl events --broker amqp://guest:guest@localhost:5672/%2F --follow | jq .`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if rf.remote() {
				return runEventsRemote(cmd.Context(), f, &rf, follow)
			}
			return runEvents(cmd.Context(), f, st.dir, follow, interval)
		},
	}
	st.addState(cmd)
	rf.add(cmd)
	cmd.Flags().BoolVar(&follow, "follow", false, "keep printing new events")
	cmd.Flags().DurationVar(&interval, "interval", 500*time.Millisecond, "how often --follow looks for new records")
	cmd.Flags().MarkHidden("interval")
	return cmd
}

// eventLog turns successive versions of operations into the events not
// printed yet, so that a record seen twice prints nothing new.
type eventLog struct {
	mu    sync.Mutex
	enc   *json.Encoder
	seen  map[string]int // operation id -> step events printed
	ended map[string]bool
}

func newEventLog(w io.Writer) *eventLog {
	return &eventLog{enc: json.NewEncoder(w), seen: map[string]int{}, ended: map[string]bool{}}
}

// write prints the new events of ops in time order.
func (l *eventLog) write(ops []*records.Operation) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var evs []event
	for _, o := range ops {
		n := 0
		for _, s := range o.Steps {
			if s.Status == records.StepRunning || s.Status == records.StepPending {
				continue
			}
			n++
			if n <= l.seen[o.ID] {
				continue
			}
			evs = append(evs, event{Time: s.EndedAt, Service: o.ServiceName, ServiceID: o.ServiceID, Operation: o.ID,
				Kind: string(o.Kind), Step: s.Name, Status: string(s.Status), Error: s.Error})
		}
		l.seen[o.ID] = max(n, l.seen[o.ID])
		if o.Status.Done() && !l.ended[o.ID] {
			l.ended[o.ID] = true
			evs = append(evs, event{Time: o.EndedAt, Service: o.ServiceName, ServiceID: o.ServiceID, Operation: o.ID,
				Kind: string(o.Kind), Status: string(o.Status), Error: o.Error})
		}
	}
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].Time.Before(evs[j].Time) })
	for _, e := range evs {
		if err := l.enc.Encode(e); err != nil {
			return err
		}
	}
	return nil
}

func runEvents(ctx context.Context, f *factory, dir string, follow bool, interval time.Duration) error {
	log := newEventLog(f.io.Out)
	emit := func() error {
		store, err := openRecords(dir, true)
		if err != nil {
			return err
		}
		defer store.Close()
		it, err := store.Snapshot().Reader().Operations(nil)
		if err != nil {
			return err
		}
		var ops []*records.Operation
		for o := range it {
			ops = append(ops, o)
		}
		return log.write(ops)
	}
	if err := emit(); err != nil || !follow {
		return err
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := emit(); err != nil {
				return err
			}
		}
	}
}

// runEventsRemote prints a daemon's events: the operations it has, then
// (with follow) those its event stream announces. The stream is
// subscribed before the backlog is read so that nothing falls between.
func runEventsRemote(ctx context.Context, f *factory, rf *remoteFlags, follow bool) error {
	c, done, err := rf.dial(ctx)
	if err != nil {
		return err
	}
	defer done()
	log := newEventLog(f.io.Out)
	var (
		mu      sync.Mutex
		pending []*records.Operation
		live    bool
		werr    error
	)
	streamCtx, stop := context.WithCancel(ctx)
	defer stop()
	streamErr := make(chan error, 1)
	if follow {
		ready := make(chan struct{})
		go func() {
			streamErr <- c.EventsReady(streamCtx, ready, func(e control.Event) {
				var o records.Operation
				if e.Table != "operations" || e.Decode(&o) != nil {
					return
				}
				mu.Lock()
				defer mu.Unlock()
				if !live {
					pending = append(pending, &o)
					return
				}
				if err := log.write([]*records.Operation{&o}); err != nil && werr == nil {
					werr = err
					stop()
				}
			})
		}()
		select {
		case <-ready:
		case err := <-streamErr:
			return err
		}
	}
	rep, err := c.Get(ctx, "operations", true)
	if err != nil {
		return err
	}
	backlog := make([]*records.Operation, 0, len(rep.Items))
	for _, it := range rep.Items {
		o, err := operationOfItem(it)
		if err != nil {
			return fmt.Errorf("events: %w", err)
		}
		backlog = append(backlog, o)
	}
	if err := log.write(backlog); err != nil || !follow {
		return err
	}
	mu.Lock()
	err = log.write(pending)
	pending, live = nil, true
	mu.Unlock()
	if err != nil {
		return err
	}
	err = <-streamErr
	mu.Lock()
	defer mu.Unlock()
	if werr != nil {
		return werr
	}
	return err
}

// operationOfItem reads back an operation as `get operations -o json`
// shows it.
func operationOfItem(item map[string]any) (*records.Operation, error) {
	var v struct {
		ID        string    `json:"id"`
		Service   string    `json:"service"`
		ServiceID string    `json:"service_id"`
		Kind      string    `json:"kind"`
		Status    string    `json:"status"`
		EndedAt   time.Time `json:"ended_at"`
		Error     string    `json:"error"`
		Steps     []struct {
			Name    string    `json:"name"`
			Status  string    `json:"status"`
			EndedAt time.Time `json:"ended_at"`
			Error   string    `json:"error"`
		} `json:"steps"`
	}
	b, err := json.Marshal(item)
	if err == nil {
		err = json.Unmarshal(b, &v)
	}
	if err != nil {
		return nil, fmt.Errorf("malformed operation from the daemon: %w", err)
	}
	o := &records.Operation{ID: v.ID, ServiceName: v.Service, ServiceID: v.ServiceID, Kind: records.OperationKind(v.Kind),
		Status: records.OperationStatus(v.Status), EndedAt: v.EndedAt, Error: v.Error}
	for _, s := range v.Steps {
		o.Steps = append(o.Steps, records.Step{Name: s.Name, Status: records.StepStatus(s.Status), EndedAt: s.EndedAt, Error: s.Error})
	}
	return o, nil
}
