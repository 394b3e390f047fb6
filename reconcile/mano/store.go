package mano

import (
	"context"
	"fmt"
	"sync"

	"github.com/manoctl/manoctl/reconcile/pm"
	"github.com/manoctl/manoctl/reconcile/records"
	"github.com/manoctl/manoctl/reconcile/slm"
	"github.com/manoctl/manoctl/reconcile/wire"
	"github.com/manoctl/manoctl/schema/descriptor"
)

// Store adapts the records store to the ports of the SLM (slm.Records)
// and of the plugin manager (pm.Store). The SLM works with whole SONATA
// documents; the records keep compact rows and each descriptor once, and
// render the NSR and VNFRs back on load.
type Store struct {
	R *records.Store

	// prepared remembers services prepared in the IA whose functions are
	// not (or no longer) recorded, for the life of the process; the
	// records derive it from the functions otherwise.
	mu       sync.Mutex
	prepared map[string]bool
}

// NewStore wraps s.
func NewStore(s *records.Store) *Store { return &Store{R: s, prepared: map[string]bool{}} }

var (
	_ slm.Records = (*Store)(nil)
	_ pm.Store    = (*Store)(nil)
)

var serviceStatus = map[string]records.ServiceStatus{
	slm.StatusInstantiating: records.ServiceInstantiating,
	slm.StatusReady:         records.ServiceReady,
	slm.StatusError:         records.ServiceError,
	slm.StatusTerminating:   records.ServiceTerminating,
	slm.StatusTerminated:    records.ServiceTerminated,
	slm.StatusScaling:       records.ServiceUpdating,
	slm.StatusUpdating:      records.ServiceUpdating,
}

// stripUUID returns the document the records store (without the
// catalogue uuid, which the reference keeps) and the uuid.
func stripUUID(d descriptor.Doc) (descriptor.Doc, string) {
	u := descriptor.Str(d, "uuid")
	if u == "" {
		return d, ""
	}
	c := descriptor.Copy(d)
	delete(c, "uuid")
	return c, u
}

// SaveService writes the service, its functions and their descriptors in
// one transaction.
func (s *Store) SaveService(_ context.Context, st *slm.ServiceState) error {
	status, ok := serviceStatus[st.Status]
	if !ok {
		return fmt.Errorf("records: service %s: unknown status %q", st.ID, st.Status)
	}
	s.mu.Lock()
	if st.Prepared {
		s.prepared[st.ID] = true
	} else {
		delete(s.prepared, st.ID)
	}
	s.mu.Unlock()
	_, err := s.R.Write(func(txn *records.WriteTxn) error {
		nsdDoc, nsdUUID := stripUUID(st.NSD)
		nsdDigest, err := s.R.UpsertDescriptorTxn(txn, records.KindNSD, nsdDoc)
		if err != nil {
			return err
		}
		name := st.Name
		if status == records.ServiceTerminated {
			// A terminated service is history: its name is free for the
			// instance that replaces it (its operations keep the name).
			name = ""
		}
		svc := &records.Service{
			ID: st.ID, Name: name, Status: status, RecordStatus: records.RecordOffline,
			NSD:   records.DescriptorRef{Digest: nsdDigest, Identity: descriptor.IdentityOf(st.NSD), UUID: nsdUUID},
			Error: st.Error,
			Spec:  records.SpecRef{Digest: st.SpecDigest},
		}
		if st.Placement != nil {
			svc.Spec.Placement = st.Placement.Policy
		}
		if st.NSR != nil {
			svc.RecordStatus = records.RecordStatus(descriptor.Str(st.NSR, "status"))
			fmt.Sscanf(descriptor.Str(st.NSR, "version"), "%d", &svc.Version)
		} else if status == records.ServiceError {
			svc.RecordStatus = records.RecordFailed
		}
		for _, n := range st.Ingresses {
			svc.Ingresses = append(svc.Ingresses, records.Endpoint{Location: n.Location, NAP: n.NAP})
		}
		for _, n := range st.Egresses {
			svc.Egresses = append(svc.Egresses, records.Endpoint{Location: n.Location, NAP: n.NAP})
		}
		// Functions are recorded once the IA has them (a VNFR), and only
		// while the service is prepared there: a rolled-back service has
		// none.
		var fns []*records.Function
		keep := map[string]bool{}
		if st.Prepared {
			for _, f := range st.Functions {
				if f.VNFR == nil {
					continue
				}
				fn, err := functionRecord(s.R, txn, st.ID, f)
				if err != nil {
					return fmt.Errorf("records: function %s of %s: %w", f.ID, st.ID, err)
				}
				fns = append(fns, fn)
				svc.Functions = append(svc.Functions, fn.ID)
				keep[fn.ID] = true
			}
		}
		if old, _ := txn.Reader().FunctionsByService(nil, st.ID); old != nil {
			var drop []string
			for f := range old {
				if !keep[f.ID] {
					drop = append(drop, f.ID)
				}
			}
			for _, id := range drop {
				if err := s.R.DeleteFunctionTxn(txn, id); err != nil {
					return err
				}
			}
		}
		if name != "" {
			// A terminated service that still holds the name (recorded
			// before names were released on termination) gives it up.
			other, err := txn.Reader().ServiceByName(nil, name)
			if err != nil {
				return err
			}
			if other != nil && other.ID != svc.ID && other.Status == records.ServiceTerminated {
				c := other.Copy()
				c.Name = ""
				if err := s.R.UpsertServiceTxn(txn, c); err != nil {
					return err
				}
			}
		}
		return s.R.UpsertServiceWithFunctionsTxn(txn, svc, fns)
	})
	if err != nil {
		return fmt.Errorf("records: save service %s: %w", st.ID, err)
	}
	return nil
}

func functionRecord(r *records.Store, txn *records.WriteTxn, servID string, f slm.FunctionState) (*records.Function, error) {
	fn, err := records.FunctionFromIAVNFR(f.VNFR)
	if err != nil {
		return nil, err
	}
	vnfdDoc, vnfdUUID := stripUUID(f.VNFD)
	digest, err := r.UpsertDescriptorTxn(txn, records.KindVNFD, vnfdDoc)
	if err != nil {
		return nil, err
	}
	fn.ServiceID, fn.VNFID, fn.VIM = servID, f.VNFID, f.VIM
	fn.VNFD = records.DescriptorRef{Digest: digest, Identity: descriptor.IdentityOf(f.VNFD), UUID: vnfdUUID}
	if f.Status != "" {
		fn.Status = records.RecordStatus(f.Status)
	}
	fmt.Sscanf(descriptor.Str(f.VNFR, "version"), "%d", &fn.Version)
	if v, err := descriptor.ParseVNFDResources(f.VNFD); err == nil {
		d := v.Demand()
		fn.Demand = records.Demand{Cores: d.Cores, MemoryMB: d.MemoryMB}
	}
	return fn, nil
}

// LoadService rebuilds the SLM's view of a service from the records, as
// the original rebuilt its ledger from the repositories (§4.5).
func (s *Store) LoadService(_ context.Context, id string) (*slm.ServiceState, error) {
	r := s.R.Reader()
	svc, err := r.ServiceByID(nil, id)
	if err != nil {
		return nil, err
	}
	if svc == nil {
		return nil, fmt.Errorf("service %s: %w", id, slm.ErrNotFound)
	}
	nsd, err := docOf(r, svc.NSD)
	if err != nil {
		return nil, err
	}
	st := &slm.ServiceState{
		ID: svc.ID, Name: svc.Name, Error: svc.Error, NSD: nsd, SpecDigest: svc.Spec.Digest,
		CreatedAt: svc.CreatedAt, UpdatedAt: svc.UpdatedAt,
	}
	for k, v := range serviceStatus {
		if v == svc.Status && (k != slm.StatusScaling) {
			st.Status = k
		}
	}
	if svc.Spec.Placement != "" {
		st.Placement = &wire.PlacementSpec{Policy: svc.Spec.Placement}
	}
	for _, e := range svc.Ingresses {
		st.Ingresses = append(st.Ingresses, wire.NAP{Location: e.Location, NAP: e.NAP})
	}
	for _, e := range svc.Egresses {
		st.Egresses = append(st.Egresses, wire.NAP{Location: e.Location, NAP: e.NAP})
	}
	vims := map[string]bool{}
	for _, fid := range svc.Functions {
		fn, err := r.FunctionByID(nil, fid)
		if err != nil {
			return nil, err
		}
		if fn == nil {
			return nil, fmt.Errorf("records: service %s lists function %s, which is not recorded", id, fid)
		}
		vnfd, err := docOf(r, fn.VNFD)
		if err != nil {
			return nil, err
		}
		st.Functions = append(st.Functions, slm.FunctionState{
			ID: fn.ID, VNFID: fn.VNFID, VNFD: vnfd, VIM: fn.VIM,
			VNFR: records.RenderVNFR(fn, vnfd), Status: string(fn.Status),
		})
		if !vims[fn.VIM] {
			vims[fn.VIM] = true
			st.VIMs = append(st.VIMs, fn.VIM)
		}
	}
	if svc.RecordStatus != records.RecordOffline || svc.Version > 0 {
		st.NSR = records.RenderNSR(svc, nsd)
	}
	s.mu.Lock()
	remembered := s.prepared[id]
	s.mu.Unlock()
	// A service is prepared in the IA when it has functions there, or an
	// operation on it was cut short (then asking the IA to remove it is
	// harmless), or this process saw it prepared.
	st.Prepared = len(st.Functions) > 0 || remembered ||
		svc.Status == records.ServiceInstantiating || svc.Status == records.ServiceTerminating || svc.Status == records.ServiceUpdating
	return st, nil
}

// docOf returns a recorded descriptor with its catalogue uuid restored.
func docOf(r records.Reader, ref records.DescriptorRef) (descriptor.Doc, error) {
	d, err := r.DescriptorByDigest(nil, ref.Digest)
	if err != nil {
		return nil, err
	}
	if d == nil {
		return nil, fmt.Errorf("records: descriptor %s (%s) is not recorded", ref.Identity, ref.Digest)
	}
	if ref.UUID == "" {
		return d.Doc, nil
	}
	c := descriptor.Copy(d.Doc)
	c["uuid"] = ref.UUID
	return c, nil
}

var opStatus = map[string]records.OperationStatus{
	slm.OpRunning: records.OpRunning, slm.OpSucceeded: records.OpSucceeded,
	slm.OpFailed: records.OpFailed, slm.OpRolledBack: records.OpRolledBack,
}

var stepStatus = map[string]records.StepStatus{
	"running": records.StepRunning, "done": records.StepSucceeded, "failed": records.StepFailed, "skipped": records.StepSkipped,
}

// SaveOperation records an operation and points its service at it.
func (s *Store) SaveOperation(_ context.Context, op *slm.Operation) error {
	o := &records.Operation{
		ID: op.ID, ServiceID: op.ServiceID, ServiceName: op.ServiceName, Kind: records.OperationKind(op.Kind),
		CorrelationID: op.CorrelationID, Status: opStatus[op.Status],
		RequestedAt: op.Started, StartedAt: op.Started, EndedAt: op.Ended,
		FailedStep: op.FailedStep, Error: op.Error,
	}
	if o.Status == "" {
		return fmt.Errorf("records: operation %s: unknown status %q", op.ID, op.Status)
	}
	for _, st := range op.Steps {
		o.Steps = append(o.Steps, records.Step{Name: st.Name, Status: stepStatus[st.Status], StartedAt: st.Started, EndedAt: st.Ended, Error: st.Error, Attempt: 1})
	}
	_, err := s.R.Write(func(txn *records.WriteTxn) error {
		if err := s.R.UpsertOperationTxn(txn, o); err != nil {
			return err
		}
		svc, err := txn.Reader().ServiceByID(nil, op.ServiceID)
		if err != nil || svc == nil || svc.LastOperation == op.ID {
			return err
		}
		c := svc.Copy()
		c.LastOperation = op.ID
		return s.R.UpsertServiceTxn(txn, c)
	})
	if err != nil {
		return fmt.Errorf("records: save operation %s: %w", op.ID, err)
	}
	return nil
}

// PutPlugin, Plugin, DeletePlugin and Plugins implement pm.Store.
func (s *Store) PutPlugin(p pm.Plugin) error {
	desc := ""
	if p.Description != nil {
		desc = *p.Description
	}
	_, err := s.R.UpsertPlugin(&records.Plugin{UUID: p.UUID, Name: p.Name, Version: p.Version, Description: desc,
		State: p.State, RegisteredAt: p.RegisteredAt, LastHeartbeatAt: p.LastHeartbeatAt})
	return err
}

func (s *Store) Plugin(id string) (pm.Plugin, bool) {
	p, err := s.R.PluginByUUID(nil, id)
	if err != nil || p == nil {
		return pm.Plugin{}, false
	}
	return pluginOf(p), true
}

func (s *Store) DeletePlugin(id string) error {
	_, err := s.R.DeletePlugin(id)
	return err
}

func (s *Store) Plugins() []pm.Plugin {
	it, err := s.R.Plugins(nil)
	if err != nil {
		return nil
	}
	var out []pm.Plugin
	for p := range it {
		out = append(out, pluginOf(p))
	}
	return out
}

func pluginOf(p *records.Plugin) pm.Plugin {
	desc := p.Description
	return pm.Plugin{UUID: p.UUID, Name: p.Name, Version: p.Version, Description: &desc, State: p.State,
		RegisteredAt: p.RegisteredAt, LastHeartbeatAt: p.LastHeartbeatAt}
}
