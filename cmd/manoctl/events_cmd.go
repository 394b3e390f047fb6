package main

import (
	"context"
	"encoding/json"
	"sort"
	"time"

	"github.com/spf13/cobra"

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
	var follow bool
	var interval time.Duration
	cmd := &cobra.Command{
		Use:   "events [--follow]",
		Short: "Print lifecycle events (operation steps) as NDJSON",
		Long: `Print the lifecycle events of the records as newline-delimited JSON: one
object per operation step that ended and per operation that ended, in time
order. With --follow, keep printing events as other manoctl processes
(apply, destroy) record them, until interrupted.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runEvents(cmd.Context(), f, st.dir, follow, interval)
		},
	}
	st.addState(cmd)
	cmd.Flags().BoolVar(&follow, "follow", false, "keep printing new events")
	cmd.Flags().DurationVar(&interval, "interval", 500*time.Millisecond, "how often --follow looks for new records")
	cmd.Flags().MarkHidden("interval")
	return cmd
}

func runEvents(ctx context.Context, f *factory, dir string, follow bool, interval time.Duration) error {
	enc := json.NewEncoder(f.io.Out)
	seen := map[string]int{} // operation id -> events already printed
	ended := map[string]bool{}
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
		var evs []event
		for o := range it {
			n := 0
			for _, s := range o.Steps {
				if s.Status == records.StepRunning || s.Status == records.StepPending {
					continue
				}
				n++
				if n <= seen[o.ID] {
					continue
				}
				evs = append(evs, event{Time: s.EndedAt, Service: o.ServiceName, ServiceID: o.ServiceID, Operation: o.ID,
					Kind: string(o.Kind), Step: s.Name, Status: string(s.Status), Error: s.Error})
			}
			seen[o.ID] = n
			if o.Status.Done() && !ended[o.ID] {
				ended[o.ID] = true
				evs = append(evs, event{Time: o.EndedAt, Service: o.ServiceName, ServiceID: o.ServiceID, Operation: o.ID,
					Kind: string(o.Kind), Status: string(o.Status), Error: o.Error})
			}
		}
		sort.SliceStable(evs, func(i, j int) bool { return evs[i].Time.Before(evs[j].Time) })
		for _, e := range evs {
			if err := enc.Encode(e); err != nil {
				return err
			}
		}
		return nil
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
