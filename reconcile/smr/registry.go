package smr

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/manoctl/manoctl/reconcile/sm"
)

// Record statuses (§7.3). RecordFailed is manoctl's: the manager exited
// while it was supposed to run.
const (
	// recordRegistering is a registration whose answer is being sent: the
	// record exists (a second registration is refused) but nobody waiting
	// for it sees it until the manager has been answered, so that the
	// registry's own answer to the MANO always follows the manager's.
	recordRegistering = "registering"
	RecordRegistered  = "registered"
	RecordRunning     = "running"
	RecordUpdated     = "updated"
	RecordTerminated  = "terminated"
	RecordFailed      = "failed"
)

// Record is one registered manager, keyed <specific_manager_id><sf_uuid>.
type Record struct {
	Key          string
	Kind         sm.Kind
	ID           string
	ServiceName  string
	FunctionName string
	Name         string
	Version      string
	Description  string
	// UUID is the registration uuid the SMR handed out.
	UUID string
	// SFUUID is the service or function instance the manager serves.
	SFUUID string
	// Status is one of the Record* constants.
	Status string
	// LastStatus is the text of the manager's last status notice (§14.6
	// M4).
	LastStatus string
	Registered time.Time
	Updated    time.Time
}

// alive reports whether the record stands for a manager that should run.
func (r *Record) alive() bool {
	switch r.Status {
	case recordRegistering, RecordRegistered, RecordRunning, RecordUpdated:
		return true
	}
	return false
}

// registry holds the records and wakes waiters on every change.
type registry struct {
	now func() time.Time

	mu      sync.Mutex
	records map[string]*Record
	changed chan struct{}
}

func newRegistry(now func() time.Time) *registry {
	return &registry{now: now, records: make(map[string]*Record), changed: make(chan struct{})}
}

// notifyLocked wakes every waiter.
func (r *registry) notifyLocked() {
	close(r.changed)
	r.changed = make(chan struct{})
}

// register handles a registration request (§7.3) and returns the reply. An
// accepted registration is in status registering until commit.
func (r *registry) register(req sm.RegistrationRequest) sm.RegistrationReply {
	if req.SpecificManagerID == "" {
		return sm.RegistrationReply{Status: sm.StatusFailed, Error: "Invalid registration request format"}
	}
	for _, f := range []struct{ name, v string }{
		{"specific_manager_type", req.SpecificManagerType}, {"service_name", req.ServiceName},
		{"specific_manager_name", req.SpecificManagerName}, {"version", req.Version},
	} {
		if f.v == "" {
			return sm.RegistrationReply{Status: sm.StatusFailed, Error: fmt.Sprintf("'%s'", f.name)}
		}
	}
	if err := sm.CheckRegistration(req); err != nil {
		return sm.RegistrationReply{Status: sm.StatusFailed, Error: err.Error()}
	}
	key := req.SpecificManagerID + req.SFUUID
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	rec, ok := r.records[key]
	switch {
	case !ok || !rec.alive():
		fn := ""
		if req.FunctionName != nil {
			fn = *req.FunctionName
		}
		rec = &Record{
			Key: key, Kind: sm.Kind(req.SpecificManagerType), ID: req.SpecificManagerID,
			ServiceName: req.ServiceName, FunctionName: fn, Name: req.SpecificManagerName,
			Version: req.Version, Description: req.Description, UUID: uuid.NewString(),
			SFUUID: req.SFUUID, Status: recordRegistering, Registered: now, Updated: now,
		}
		r.records[key] = rec
	case req.UpdateVersion == "true":
		rec.Status = recordRegistering
		rec.Version = req.Version
		rec.Description = req.Description
		rec.Updated = now
	default:
		return sm.RegistrationReply{Status: sm.StatusFailed, Error: fmt.Sprintf("Cannot register '%s', already exists", req.SpecificManagerID)}
	}
	return replyOf(rec, req.FunctionName)
}

// commit ends a registration once the manager has been answered: the
// record becomes registered, or failed when the answer could not be sent.
func (r *registry) commit(key string, sent bool) {
	status := RecordRegistered
	if !sent {
		status = RecordFailed
	}
	r.setIf(key, status, recordRegistering)
}

func replyOf(rec *Record, fn *string) sm.RegistrationReply {
	return sm.RegistrationReply{
		Status: sm.StatusRegistered, SpecificManagerType: string(rec.Kind), ServiceName: rec.ServiceName,
		FunctionName: fn, SpecificManagerID: rec.ID, Version: rec.Version, Description: rec.Description,
		UUID: rec.UUID, SFUUID: rec.SFUUID, Error: nil,
	}
}

// set changes the status of record key if it exists; it returns whether
// it did.
func (r *registry) set(key, status string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec, ok := r.records[key]
	if !ok {
		return false
	}
	rec.Status = status
	rec.Updated = r.now()
	r.notifyLocked()
	return true
}

// setIf changes the status of record key from one of from to status.
func (r *registry) setIf(key, status string, from ...string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec, ok := r.records[key]
	if !ok {
		return false
	}
	for _, f := range from {
		if rec.Status == f {
			rec.Status = status
			rec.Updated = r.now()
			r.notifyLocked()
			return true
		}
	}
	return false
}

// noteStatus stores a manager's status notice on the alive record with
// manager id name and instance sfuuid.
func (r *registry) noteStatus(name, sfuuid, status string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec, ok := r.records[name+sfuuid]
	if !ok {
		return false
	}
	rec.LastStatus = status
	rec.Updated = r.now()
	return true
}

func (r *registry) get(key string) (Record, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec, ok := r.records[key]
	if !ok {
		return Record{}, false
	}
	return *rec, true
}

func (r *registry) list() []Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Record, 0, len(r.records))
	for _, rec := range r.records {
		out = append(out, *rec)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// errExited and errNotRegistered end a wait.
type waitError struct {
	exited bool
	err    error
}

func (e *waitError) Error() string {
	if e.exited {
		if e.err != nil {
			return "manager exited before registering: " + e.err.Error()
		}
		return "manager exited before registering"
	}
	return e.err.Error()
}

// wait returns the record key once its status is registered. It gives up
// when the manager exits (done), after timeout, or when ctx ends.
func (r *registry) wait(ctx context.Context, key string, done <-chan struct{}, exitErr func() error, timeout time.Duration) (Record, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		r.mu.Lock()
		rec, ok := r.records[key]
		if ok && rec.Status == RecordRegistered {
			c := *rec
			r.mu.Unlock()
			return c, nil
		}
		ch := r.changed
		r.mu.Unlock()
		select {
		case <-ch:
		case <-done:
			// The manager may have registered just before exiting; the
			// registration is worthless then.
			return Record{}, &waitError{exited: true, err: exitErr()}
		case <-t.C:
			return Record{}, &waitError{err: fmt.Errorf("no registration of %s within %s", key, timeout)}
		case <-ctx.Done():
			return Record{}, &waitError{err: ctx.Err()}
		}
	}
}

func sortStrings(s []string) { sort.Strings(s) }
