package emulator

import (
	"strconv"
	"strings"

	"github.com/manoctl/manoctl/schema/descriptor"
)

// Management topics (wire-protocol §8.3, §8.6): the registry of compute
// VIMs, network VIMs and WIMs that the gatekeeper's VIM pages drive, and
// the listings placement reads.

// Capacity given to a VIM registered through compute.add without the
// emulator's extension keys: the 2017 Mock wrapper's constant figures.
const (
	addedVIMCores    = 10
	addedVIMMemoryMB = 10000
)

// computeList answers the VIM resources placement reads (§8.3): a
// top-level sequence in listing order, with usage from the deployed
// functions. The body is ignored.
func (e *Emulator) computeList(*request) any {
	e.st.mu.Lock()
	defer e.st.mu.Unlock()
	out := make([]ComputeResources, 0, len(e.st.vimOrder))
	for _, id := range e.st.vimOrder {
		out = append(out, e.st.vims[id].resources())
	}
	return out
}

// requireKeys reports the keys missing from body, in the order given.
func requireKeys(body map[string]any, keys ...string) []string {
	var missing []string
	for _, k := range keys {
		if _, ok := body[k]; !ok {
			missing = append(missing, k)
		}
	}
	return missing
}

// vimKeys are the keys compute.add and network.add require; a missing one
// makes the Java handler throw, which the emulator answers instead.
var vimKeys = []string{"vim_type", "vim_address", "username", "pass", "city", "country", "name", "configuration"}

// computeAdd registers a compute VIM from the JSON keys of §8.3. vim_type
// Heat, Mock or SPVim (any case) is accepted; OpenStack, OpenMANO and
// OpenVIM are known names without a wrapper ("Cannot Attach To Vim"). The
// uuid is derived from the name (the IA draws a random one), so that the
// same registrations give the same uuids. Optional extension keys
// core_total and memory_total (MB) set the capacity, which otherwise is the
// Mock wrapper's 10 cores and 10000 MB; domain sets vim_domain.
func (e *Emulator) computeAdd(r *request) any {
	if missing := requireKeys(r.body, vimKeys...); len(missing) > 0 {
		return r.refuse("missing " + strings.Join(missing, ", "))
	}
	switch strings.ToLower(descriptor.Str(r.body, "vim_type")) {
	case "heat", "mock", "spvim":
	case "openstack", "openmano", "openvim":
		return statusReply(StatusError, MsgCannotAttach)
	default:
		return r.refuse("unknown vim_type " + strconv.Quote(descriptor.Str(r.body, "vim_type")))
	}
	if !configurationOK(r.body) {
		return r.refuse("configuration must be a JSON object")
	}
	cores, memory := addedVIMCores, addedVIMMemoryMB
	for _, x := range []struct {
		key string
		dst *int
	}{{"core_total", &cores}, {"memory_total", &memory}} {
		if v, ok := r.body[x.key]; ok && v != nil {
			n, num := descriptor.Number(r.body, x.key)
			if !num || n < 0 {
				return r.refuse(x.key + " must be a non-negative number")
			}
			*x.dst = int(n)
		}
	}
	name := descriptor.Str(r.body, "name")
	st := &e.st
	st.mu.Lock()
	defer st.mu.Unlock()
	id := st.freeUUID("vim", name)
	st.vims[id] = &vimState{
		cfg: VIMConfig{
			Name: name, UUID: id,
			City:     descriptor.Str(r.body, "city"),
			Endpoint: descriptor.Str(r.body, "vim_address"),
			Domain:   descriptor.Str(r.body, "domain"),
			Cores:    cores, MemoryMB: memory,
		},
		vimType: descriptor.Str(r.body, "vim_type"),
	}
	st.vimOrder = append(st.vimOrder, id)
	return addReply{RequestStatus: StatusCompleted, UUID: id}
}

func configurationOK(body map[string]any) bool {
	switch c := body["configuration"].(type) {
	case string:
		return true // already the stored string form
	default:
		return descriptor.AsMap(c) != nil
	}
}

// freeUUID derives the uuid for a new registry entry of kind named name:
// the name's uuid, or, if that is taken (the IA allows duplicate names),
// the uuid of "name#2", "name#3", ... Deterministic for a given sequence of
// registrations. Requires st.mu.
func (st *state) freeUUID(kind, name string) string {
	taken := func(id string) bool {
		_, v := st.vims[id]
		_, n := st.nets[id]
		_, w := st.wims[id]
		return v || n || w
	}
	id := derive(kind, name)
	for i := 2; taken(id); i++ {
		id = derive(kind, name+"#"+strconv.Itoa(i))
	}
	return id
}

// computeRemove unregisters a compute VIM: {"uuid": ...}. A VIM that still
// hosts prepared services or functions is refused; the IA would leave
// dangling rows, and drift is injected with LoseFunction instead.
func (e *Emulator) computeRemove(r *request) any {
	id := descriptor.Str(r.body, "uuid")
	if id == "" {
		return r.refuse("uuid is missing")
	}
	st := &e.st
	st.mu.Lock()
	defer st.mu.Unlock()
	if _, ok := st.vims[id]; !ok {
		return statusReply(StatusError, MsgVIMNotFound)
	}
	for _, s := range st.services {
		if s.preparedOn(id) {
			return statusReply(StatusError, "VIM "+id+" is in use by service "+s.id)
		}
	}
	delete(st.vims, id)
	st.vimOrder = without(st.vimOrder, id)
	for nid, n := range st.nets {
		if n.computeUUID == id {
			delete(st.nets, nid)
			st.netOrder = without(st.netOrder, nid)
		}
	}
	for _, w := range st.wims {
		w.vims = without(w.vims, id)
	}
	return bareStatus{RequestStatus: StatusCompleted}
}

func without(ids []string, id string) []string {
	out := ids[:0]
	for _, x := range ids {
		if x != id {
			out = append(out, x)
		}
	}
	return out
}

// networkAdd registers a network VIM linked to one compute VIM through
// configuration.compute_uuid. vim_type ovs, networkMock or SPVim.
func (e *Emulator) networkAdd(r *request) any {
	if missing := requireKeys(r.body, vimKeys...); len(missing) > 0 {
		return r.refuse("missing " + strings.Join(missing, ", "))
	}
	switch strings.ToLower(descriptor.Str(r.body, "vim_type")) {
	case "ovs", "networkmock", "spvim":
	default:
		return r.refuse("unknown network vim_type " + strconv.Quote(descriptor.Str(r.body, "vim_type")))
	}
	conf := descriptor.Map(r.body, "configuration")
	compute := descriptor.Str(conf, "compute_uuid")
	if compute == "" {
		return r.refuse("configuration.compute_uuid is missing")
	}
	name := descriptor.Str(r.body, "name")
	st := &e.st
	st.mu.Lock()
	defer st.mu.Unlock()
	if _, ok := st.vims[compute]; !ok {
		return statusReply(StatusError, MsgCannotAttach)
	}
	id := st.freeUUID("net", name)
	st.nets[id] = &netState{
		uuid: id, name: name,
		city:        descriptor.Str(r.body, "city"),
		endpoint:    descriptor.Str(r.body, "vim_address"),
		vimType:     descriptor.Str(r.body, "vim_type"),
		computeUUID: compute,
	}
	st.netOrder = append(st.netOrder, id)
	return addReply{RequestStatus: StatusCompleted, UUID: id}
}

// networkRemove unregisters a network VIM: {"uuid": ...}.
func (e *Emulator) networkRemove(r *request) any {
	id := descriptor.Str(r.body, "uuid")
	if id == "" {
		return r.refuse("uuid is missing")
	}
	st := &e.st
	st.mu.Lock()
	defer st.mu.Unlock()
	if _, ok := st.nets[id]; !ok {
		return statusReply(StatusError, MsgVIMNotFound)
	}
	delete(st.nets, id)
	st.netOrder = without(st.netOrder, id)
	return bareStatus{RequestStatus: StatusCompleted}
}

// networkList lists the network VIMs (YAML sequence). The Sep-2017 handler
// failed with a real network VIM registered; the emulator answers.
func (e *Emulator) networkList(*request) any {
	e.st.mu.Lock()
	defer e.st.mu.Unlock()
	out := make([]networkVIMListing, 0, len(e.st.netOrder))
	for _, id := range e.st.netOrder {
		n := e.st.nets[id]
		out = append(out, networkVIMListing{VIMUUID: n.uuid, VIMName: n.name, VIMCity: n.city, VIMEndpoint: n.endpoint, ComputeUUID: n.computeUUID})
	}
	return out
}

// resourceAvailability always answers status OK and checks nothing, as the
// IA does (§8.3); no MANO component uses it.
func (e *Emulator) resourceAvailability(*request) any {
	return availabilityReply{Status: "OK"}
}

// wanAdd registers a WIM: JSON wim_vendor (VTN or MOCK), wim_address,
// username, pass, name. The uuid is derived from the name.
func (e *Emulator) wanAdd(r *request) any {
	if missing := requireKeys(r.body, "wim_vendor", "wim_address", "username", "pass", "name"); len(missing) > 0 {
		return r.refuse("missing " + strings.Join(missing, ", "))
	}
	vendor := descriptor.Str(r.body, "wim_vendor")
	switch strings.ToUpper(vendor) {
	case "VTN", "MOCK":
	default:
		return r.refuse("unknown wim_vendor " + strconv.Quote(vendor))
	}
	name := descriptor.Str(r.body, "name")
	st := &e.st
	st.mu.Lock()
	defer st.mu.Unlock()
	id := st.freeUUID("wim", name)
	st.wims[id] = &wimState{uuid: id, name: name, vendor: vendor, endpoint: descriptor.Str(r.body, "wim_address")}
	st.wimOrder = append(st.wimOrder, id)
	return wanAddReply{RequestStatus: StatusCompleted, UUID: id, Message: ""}
}

// wanRemove unregisters a WIM: JSON uuid and wr_type, both required.
func (e *Emulator) wanRemove(r *request) any {
	if missing := requireKeys(r.body, "uuid", "wr_type"); len(missing) > 0 {
		return r.refuse("missing " + strings.Join(missing, ", "))
	}
	id := descriptor.Str(r.body, "uuid")
	st := &e.st
	st.mu.Lock()
	defer st.mu.Unlock()
	if _, ok := st.wims[id]; !ok {
		return statusReply(StatusError, "WIM not found")
	}
	delete(st.wims, id)
	st.wimOrder = without(st.wimOrder, id)
	return bareStatus{RequestStatus: StatusCompleted}
}

// wanAttach attaches a VIM to a WIM: JSON wim_uuid, vim_uuid, vim_address.
// Like the WIM adaptor, which keeps its own registry, it does not check
// that the VIM is a known compute VIM. Attaching twice is a no-op.
func (e *Emulator) wanAttach(r *request) any {
	wim := descriptor.Str(r.body, "wim_uuid")
	vim := descriptor.Str(r.body, "vim_uuid")
	if wim == "" || vim == "" || descriptor.Str(r.body, "vim_address") == "" {
		r.bad("wim_uuid, vim_uuid and vim_address are required")
		return statusReply(StatusError, MsgMalformedRequest)
	}
	st := &e.st
	st.mu.Lock()
	defer st.mu.Unlock()
	w := st.wims[wim]
	if w == nil {
		return statusReply(StatusError, "Unable to write VIM attachment into the database: WIM "+wim+" not found")
	}
	w.attach(vim)
	return bareStatus{RequestStatus: StatusCompleted}
}

// wanList lists the WIMs with their attached VIMs (YAML sequence).
func (e *Emulator) wanList(*request) any {
	e.st.mu.Lock()
	defer e.st.mu.Unlock()
	out := make([]WIMRecord, 0, len(e.st.wimOrder))
	for _, id := range e.st.wimOrder {
		w := e.st.wims[id]
		out = append(out, WIMRecord{UUID: w.uuid, Name: w.name, AttachedVIMs: append([]string{}, w.vims...)})
	}
	return out
}
