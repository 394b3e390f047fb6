package sprest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/manoctl/manoctl/reconcile/bus"
	"github.com/manoctl/manoctl/reconcile/slm"
)

// Records decorates the SLM's records port: every service state is saved
// in the wrapped records first (they stay the source of truth, and their
// error is the only one SaveService returns), then the NSR and VNFRs it
// holds are queued for the repositories. The write to the repositories
// never blocks or fails the workflow; its failures are reported through
// Config.OnEvent and the log, and retried.
//
// What reaches the repositories is what the original SLM and FLM wrote:
// a record the repository does not have yet is POSTed (VNFRs to
// <vnfr base>vnf-instances, the NSR to <nsr base>ns-instances, the VNFRs
// first); a record that changed is PUT to .../<id> with the keys the
// repository adds (uuid, created_at, updated_at) stripped, the NSR first
// (§4.4 step 11, §4.5 step 9, §10). Unchanged records are not written
// again. Writes of one service coalesce while they wait: after an outage
// the repository receives the latest state, not every intermediate one.
//
// Two requests of the original collapse into one: the FLM POSTed each
// VNFR at version "1" when it was deployed and the SLM PUT it at version
// "2" in store_nsr; manoctl's SLM first saves the VNFRs in store_nsr, so
// each is POSTed once, already at version "2". A VNFR whose function
// disappears from the service (scale-in) is PUT with status "terminated".
type Records struct {
	inner slm.Records
	c     *Client
}

var _ slm.Records = (*Records)(nil)

// Records wraps inner. Without a configured repository it only forwards.
func (c *Client) Records(inner slm.Records) *Records { return &Records{inner: inner, c: c} }

// Inner returns the wrapped records.
func (r *Records) Inner() slm.Records { return r.inner }

// SaveService saves s in the wrapped records, then queues the repository
// writes.
func (r *Records) SaveService(ctx context.Context, s *slm.ServiceState) error {
	if err := r.inner.SaveService(ctx, s); err != nil {
		return err
	}
	r.Resync(s)
	return nil
}

// Resync queues the repository writes for s without saving it locally.
// A record that cannot be encoded as JSON is a bug, not an outage: it is
// reported and the others are written.
// The queue lives in memory, so the daemon calls it at start-up for every
// service in its records: writes lost with a restart are made again, and
// records the repository already holds are updated (a POST answered 409
// becomes a PUT).
func (r *Records) Resync(s *slm.ServiceState) {
	if !r.c.cfg.RecordsEnabled() {
		return
	}
	snap, errs := r.c.snapshotOf(s)
	for _, err := range errs {
		r.c.log.Error("sprest: record not encodable", "service", s.ID, "err", err)
		r.c.drop(TargetRecords, s.ID, "", err)
	}
	r.c.enqueueRecords(snap)
}

// LoadService reads the wrapped records only.
func (r *Records) LoadService(ctx context.Context, id string) (*slm.ServiceState, error) {
	return r.inner.LoadService(ctx, id)
}

// SaveOperation writes the wrapped records only: operations have no
// counterpart in the SONATA repositories.
func (r *Records) SaveOperation(ctx context.Context, op *slm.Operation) error {
	return r.inner.SaveOperation(ctx, op)
}

// snapshot is the records of one service state, encoded for the wire.
type snapshot struct {
	serviceID string
	nsr       *recordDoc  // nil before store_nsr
	vnfrs     []recordDoc // in function order, functions with a VNFR
	// functions holds every function id of the state, VNFR or not.
	functions map[string]bool
}

type recordDoc struct {
	id     string
	body   []byte // JSON, repository keys stripped
	status string
}

// remoteState is what the repositories hold for one service, as far as
// this client knows.
type remoteState struct {
	nsr      *remoteRecord
	vnfrs    map[string]*remoteRecord
	order    []string // VNFR ids in the order they were created
	finished bool     // the NSR was written terminated
}

type remoteRecord struct {
	created bool
	body    []byte // last body written; nil if unknown
	status  string
}

func (r *remoteState) empty() bool { return r.nsr == nil && len(r.vnfrs) == 0 }

// repositoryKeys are added by the repository and stripped before every
// write (§4.5 step 9).
var repositoryKeys = []string{"uuid", "created_at", "updated_at"}

func (c *Client) snapshotOf(s *slm.ServiceState) (*snapshot, []error) {
	snap := &snapshot{serviceID: s.ID, functions: map[string]bool{}}
	var errs []error
	if s.NSR != nil && c.cfg.NSRBase != "" {
		d, err := encodeRecord(s.NSR, s.ID)
		if err != nil {
			errs = append(errs, fmt.Errorf("nsr %s: %w", s.ID, err))
		} else {
			snap.nsr = &d
		}
	}
	for _, f := range s.Functions {
		snap.functions[f.ID] = true
		if f.VNFR == nil || c.cfg.VNFRBase == "" {
			continue
		}
		d, err := encodeRecord(f.VNFR, f.ID)
		if err != nil {
			errs = append(errs, fmt.Errorf("vnfr %s: %w", f.ID, err))
			continue
		}
		snap.functions[d.id] = true
		snap.vnfrs = append(snap.vnfrs, d)
	}
	return snap, errs
}

// encodeRecord strips the repository keys and encodes rec as JSON.
func encodeRecord(rec map[string]any, fallbackID string) (recordDoc, error) {
	g, err := generic(rec)
	if err != nil {
		return recordDoc{}, err
	}
	m := g.(map[string]any)
	for _, k := range repositoryKeys {
		delete(m, k)
	}
	id, _ := m["id"].(string)
	if id == "" {
		id = fallbackID
	}
	status, _ := m["status"].(string)
	b, err := marshalJSON(m)
	if err != nil {
		return recordDoc{}, err
	}
	return recordDoc{id: id, body: b, status: status}, nil
}

// generic returns a deep copy of v made of map[string]any, []any and
// scalars; typed values go through the bus's YAML codec, so they take
// their wire names.
func generic(v any) (any, error) {
	switch x := v.(type) {
	case nil, string, bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64, json.Number:
		return x, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			g, err := generic(e)
			if err != nil {
				return nil, err
			}
			out[k] = g
		}
		return out, nil
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			g, err := generic(e)
			if err != nil {
				return nil, err
			}
			out[fmt.Sprint(k)] = g
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			g, err := generic(e)
			if err != nil {
				return nil, err
			}
			out[i] = g
		}
		return out, nil
	}
	b, err := marshalYAML(v)
	if err != nil {
		return nil, err
	}
	var out any
	if err := yaml.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("convert %T: %w", v, err)
	}
	return generic(out)
}

// marshalYAML is bus.MarshalYAML, which panics on values YAML cannot
// hold (functions, channels); those become errors.
func marshalYAML(v any) (b []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("cannot encode %T: %v", v, r)
		}
	}()
	return bus.MarshalYAML(v)
}

// marshalJSON encodes without HTML escaping (as Python's json.dumps) and
// with sorted keys, so equal records give equal bytes.
func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// next returns the next request the records op needs, or nil when the
// repositories hold the snapshot. Called only by the worker holding s.
func (c *Client) next(s *service, o *op) *request {
	if o.monitor != nil {
		if o.monitorDone {
			return nil
		}
		req := *o.monitor
		inner := req.handle
		req.handle = func(code int) outcome {
			out := outcomeDelivered
			if inner != nil {
				out = inner(code)
			}
			if out != outcomeRetry {
				o.monitorDone = true
			}
			return out
		}
		return &req
	}
	snap, rs := o.records, &s.remote
	if rs.vnfrs == nil {
		rs.vnfrs = map[string]*remoteRecord{}
	}
	var vnfrReqs []*request
	for _, d := range snap.vnfrs {
		if req := c.recordRequest(TargetVNFR, c.cfg.VNFRBase+VNFInstances, d, rs.vnfrs[d.id], func(r *remoteRecord) {
			if _, known := rs.vnfrs[d.id]; !known {
				rs.order = append(rs.order, d.id)
			}
			rs.vnfrs[d.id] = r
		}); req != nil {
			vnfrReqs = append(vnfrReqs, req)
		}
	}
	var nsrReq *request
	if snap.nsr != nil {
		nsrReq = c.recordRequest(TargetNSR, c.cfg.NSRBase+NSInstances, *snap.nsr, rs.nsr, func(r *remoteRecord) {
			rs.nsr = r
			if r.created && r.status == "terminated" {
				rs.finished = true
			}
		})
	}
	var reqs []*request
	if nsrReq != nil && nsrReq.method == http.MethodPost {
		// A new NSR references its VNFRs: they go first (store_nsr).
		reqs = append(append(reqs, vnfrReqs...), nsrReq)
	} else {
		// Updates go NSR first (update_records_to_terminated).
		if nsrReq != nil {
			reqs = append(reqs, nsrReq)
		}
		reqs = append(reqs, vnfrReqs...)
	}
	if len(reqs) > 0 {
		return reqs[0]
	}
	// VNFRs of functions the service no longer has: terminated.
	for _, id := range rs.order {
		r := rs.vnfrs[id]
		if snap.functions[id] || r == nil || !r.created || r.body == nil || r.status == "terminated" {
			continue
		}
		d, err := terminatedRecord(id, r.body)
		if err != nil {
			c.log.Error("sprest: cannot mark removed vnfr terminated", "service", s.id, "vnfr", id, "err", err)
			r.status = "terminated" // do not try again
			continue
		}
		return c.recordRequest(TargetVNFR, c.cfg.VNFRBase+VNFInstances, d, r, func(nr *remoteRecord) { rs.vnfrs[id] = nr })
	}
	return nil
}

// recordRequest returns the POST or PUT that brings the repository from
// have to d, or nil if it holds d already. store records the outcome.
func (c *Client) recordRequest(t Target, collection string, d recordDoc, have *remoteRecord, store func(*remoteRecord)) *request {
	if have != nil && have.created && bytes.Equal(have.body, d.body) {
		return nil
	}
	if have == nil || !have.created {
		return &request{
			target: t, recordID: d.id, method: http.MethodPost, url: collection, body: d.body,
			expect: []int{http.StatusOK}, special: []int{http.StatusConflict},
			handle: func(code int) outcome {
				if code == http.StatusConflict {
					// It exists already (written before a restart of
					// manoctl): update it instead.
					c.log.Info("sprest: record exists in the repository, updating it", "url", collection, "id", d.id)
					store(&remoteRecord{created: true})
					return outcomeRedo
				}
				store(&remoteRecord{created: true, body: d.body, status: d.status})
				return outcomeDelivered
			},
		}
	}
	u := collection + "/" + url.PathEscape(d.id)
	return &request{
		target: t, recordID: d.id, method: http.MethodPut, url: u, body: d.body,
		expect: []int{http.StatusOK}, special: []int{http.StatusNotFound},
		handle: func(code int) outcome {
			if code == http.StatusNotFound {
				// The repository lost it (or never had it): create it.
				c.log.Info("sprest: record missing from the repository, creating it", "url", u)
				store(&remoteRecord{created: false})
				return outcomeRedo
			}
			store(&remoteRecord{created: true, body: d.body, status: d.status})
			return outcomeDelivered
		},
	}
}

// terminatedRecord is body with status terminated and version + 1.
func terminatedRecord(id string, body []byte) (recordDoc, error) {
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		return recordDoc{}, err
	}
	m["status"] = "terminated"
	m["version"] = bumpVersion(m["version"])
	b, err := marshalJSON(m)
	if err != nil {
		return recordDoc{}, err
	}
	return recordDoc{id: id, body: b, status: "terminated"}, nil
}

func bumpVersion(v any) string {
	n, err := strconv.Atoi(strings.TrimSpace(fmt.Sprint(v)))
	if err != nil {
		return "1"
	}
	return strconv.Itoa(n + 1)
}
