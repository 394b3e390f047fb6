package plan

import "github.com/manoctl/manoctl/reconcile/records"

// FromSnapshot reads a records snapshot as the diff needs it. The index a
// plan is bound to counts only service and function changes: heartbeats
// and operation steps do not make a plan stale. fresh marks a state
// directory that does not exist yet: its lineage is "", and a plan made
// against it applies to the directory the first apply creates.
func FromSnapshot(snap *records.StateSnapshot, fresh bool) Records {
	return snapshotRecords{snap: snap, r: snap.Reader(), fresh: fresh}
}

type snapshotRecords struct {
	snap  *records.StateSnapshot
	r     records.Reader
	fresh bool
}

func (s snapshotRecords) Lineage() string {
	if s.fresh {
		return ""
	}
	return s.snap.Lineage()
}

func (s snapshotRecords) Index() uint64 {
	a, _ := s.r.Index(records.TableServices)
	b, _ := s.r.Index(records.TableFunctions)
	return max(a, b)
}

func (s snapshotRecords) Services() []*records.Service {
	it, err := s.r.Services(nil)
	if err != nil {
		return nil
	}
	var out []*records.Service
	for x := range it {
		out = append(out, x)
	}
	return out
}

func (s snapshotRecords) Functions(serviceID string) []*records.Function {
	svc, err := s.r.ServiceByID(nil, serviceID)
	if err != nil || svc == nil {
		return nil
	}
	out := make([]*records.Function, 0, len(svc.Functions))
	for _, id := range svc.Functions {
		if f, _ := s.r.FunctionByID(nil, id); f != nil {
			out = append(out, f)
		}
	}
	return out
}
