package placeplugin

import (
	"fmt"

	"github.com/manoctl/manoctl/reconcile/placement"
	"github.com/manoctl/manoctl/reconcile/wire"
	"github.com/manoctl/manoctl/schema/descriptor"
)

// Algorithm is the Placer backed by manoctl's placement algorithm
// (reconcile/placement). defaultPolicy applies when the request names
// none (the 2017 SLM never does).
func Algorithm(defaultPolicy placement.Policy) Placer {
	return func(req wire.PlaceRequest) (map[string]string, error) {
		r, err := Request(req, defaultPolicy)
		if err != nil {
			return nil, err
		}
		res, err := placement.Place(VIMs(req.Topology), r)
		if err != nil {
			return nil, err
		}
		return res.Mapping, nil
	}
}

// VIMs converts the IA's compute.list entries (memory in MB).
func VIMs(top []wire.VIMResources) []placement.VIM {
	out := make([]placement.VIM, len(top))
	for i, v := range top {
		out[i] = placement.VIM{
			UUID: v.VIMUUID, Name: v.VIMName, City: v.VIMCity, Endpoint: v.VIMEndpoint,
			CoresTotal: v.CoreTotal, CoresUsed: v.CoreUsed,
			MemoryTotalMB: float64(v.MemoryTotal), MemoryUsedMB: float64(v.MemoryUsed),
		}
	}
	return out
}

// Request converts a mano.service.place request into a placement request:
// the 2018 operator and customer policies, manoctl's constraints, and the
// NSD's soft constraints with the NAP addresses.
func Request(req wire.PlaceRequest, defaultPolicy placement.Policy) (placement.Request, error) {
	r := placement.Request{Policy: defaultPolicy, Preferences: placement.PreferencesOf(req.NSD)}
	if op := req.OperatorPolicies; op != nil {
		if op.Policy != "" {
			p, err := placement.ParsePolicy(op.Policy)
			if err != nil {
				return r, err
			}
			r.Policy = p
		}
		r.Priority = op.PolicyList
	}
	if cp := req.CustomerPolicies; cp != nil {
		r.Blocked = cp.Blacklist
	}
	if c := req.Constraints; c != nil {
		r.Allowed, r.Affinity, r.AntiAffinity = c.AllowedVIMs, c.Affinity, c.AntiAffinity
	}
	if len(req.NAP.Ingresses) > 0 {
		r.Ingress = req.NAP.Ingresses[0].NAP
	}
	if len(req.NAP.Egresses) > 0 {
		r.Egress = req.NAP.Egresses[0].NAP
	}
	vnfIDs := vnfIDsByIdentity(req.NSD)
	for _, f := range req.Functions {
		v, err := descriptor.ParseVNFDResources(f.VNFD)
		if err != nil {
			return r, fmt.Errorf("function %s: %w", f.ID, err)
		}
		vnfID := f.VNFID
		if vnfID == "" {
			vnfID = vnfIDs[v.Identity]
		}
		r.Functions = append(r.Functions, placement.FunctionOf(f.ID, vnfID, v))
	}
	return r, nil
}

// vnfIDsByIdentity maps VNFD identities to the NSD's vnf_ids, for requests
// from a 2017 SLM that does not send vnf_id (ambiguous identities map to
// the first).
func vnfIDsByIdentity(nsd descriptor.Doc) map[descriptor.Identity]string {
	out := map[descriptor.Identity]string{}
	n, err := descriptor.ParseNSD(nsd)
	if err != nil {
		return out
	}
	for _, nf := range n.NetworkFunctions {
		if _, ok := out[nf.Identity]; !ok {
			out[nf.Identity] = nf.VNFID
		}
	}
	return out
}
