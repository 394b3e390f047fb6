package emulator

import (
	"math"
	"sort"
	"sync"

	"github.com/manoctl/manoctl/schema/descriptor"
)

// state is the IA's registry (wire-protocol §8.4) plus what the VIMs hold:
// compute VIMs with their usage, network VIMs, WIMs, the (service, VIM)
// rows written by prepare and the functions written by deploy.
type state struct {
	mu        sync.Mutex
	vims      map[string]*vimState
	vimOrder  []string // listing order: inventory, then compute.add
	nets      map[string]*netState
	netOrder  []string
	wims      map[string]*wimState
	wimOrder  []string
	services  map[string]*serviceState
	functions map[string]*functionState
	addrs     map[uint32]struct{} // IPv4 addresses in use
	macs      map[uint32]struct{} // low 24 bits of MACs in use
}

type vimState struct {
	cfg      VIMConfig // UUID resolved
	vimType  string
	coreUsed int
	memUsed  float64 // MB; fractional when VNFDs use binary units
}

type netState struct {
	uuid, name, city, endpoint, vimType string
	computeUUID                         string
}

type wimState struct {
	uuid, name, vendor, endpoint string
	vims                         []string // attached VIM uuids, in attach order
}

type serviceState struct {
	id        string
	prepared  []preparedVIM // in prepare order
	functions map[string]*functionState
	chained   bool
	wan       bool
	wanVIMs   []string
}

type preparedVIM struct {
	uuid   string
	images []Image
}

func (s *serviceState) preparedIndex(vim string) int {
	for i, p := range s.prepared {
		if p.uuid == vim {
			return i
		}
	}
	return -1
}

func (s *serviceState) preparedOn(vim string) bool { return s.preparedIndex(vim) >= 0 }

type functionState struct {
	id, service, vim string
	vnfd             descriptor.Identity
	vnfdUUID         string
	demand           descriptor.Demand
	reply            *DeployReply
	addrs, macs      []uint32
}

// reset rebuilds the state from the inventory: nothing prepared, nothing
// deployed.
func (st *state) reset(inv Inventory) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.vims = make(map[string]*vimState, len(inv.VIMs))
	st.vimOrder = st.vimOrder[:0]
	for _, v := range inv.VIMs {
		v.UUID = v.resolvedUUID()
		st.vims[v.UUID] = &vimState{cfg: v, vimType: "emulated"}
		st.vimOrder = append(st.vimOrder, v.UUID)
	}
	st.nets = make(map[string]*netState)
	st.netOrder = nil
	st.wims = make(map[string]*wimState, len(inv.WIMs))
	st.wimOrder = nil
	for _, w := range inv.WIMs {
		ws := &wimState{uuid: w.resolvedUUID(), name: w.Name, vendor: w.Vendor, endpoint: w.Endpoint}
		for _, ref := range w.VIMs {
			if v, ok := inv.vimByRef(ref); ok {
				ws.attach(v.resolvedUUID())
			}
		}
		st.wims[ws.uuid] = ws
		st.wimOrder = append(st.wimOrder, ws.uuid)
	}
	st.services = make(map[string]*serviceState)
	st.functions = make(map[string]*functionState)
	st.addrs = make(map[uint32]struct{})
	st.macs = make(map[uint32]struct{})
}

func (w *wimState) attach(vim string) {
	for _, v := range w.vims {
		if v == vim {
			return
		}
	}
	w.vims = append(w.vims, vim)
}

// wanReachable reports whether a WIM serves vim. With no WIM registered the
// emulator stands for a flat WAN that reaches every VIM; once WIMs exist,
// the real WIM adaptor's rule applies.
func (st *state) wanReachable(vim string) bool {
	if len(st.wims) == 0 {
		_, ok := st.vims[vim]
		return ok
	}
	for _, w := range st.wims {
		for _, v := range w.vims {
			if v == vim {
				return true
			}
		}
	}
	return false
}

// fits reports whether d fits in the free capacity of v. Memory compares
// with a small tolerance, so that sums of converted units that should be
// equal are.
func (v *vimState) fits(d descriptor.Demand) bool {
	return d.Cores <= v.cfg.Cores-v.coreUsed &&
		d.MemoryMB <= float64(v.cfg.MemoryMB)-v.memUsed+1e-6
}

// addFunction records f and takes its capacity.
func (st *state) addFunction(s *serviceState, f *functionState) {
	st.functions[f.id] = f
	if s.functions == nil {
		s.functions = make(map[string]*functionState)
	}
	s.functions[f.id] = f
	if v := st.vims[f.vim]; v != nil {
		v.coreUsed += f.demand.Cores
		v.memUsed += f.demand.MemoryMB
	}
}

// dropFunction forgets f and gives back its capacity and addresses.
func (st *state) dropFunction(f *functionState) {
	delete(st.functions, f.id)
	if s := st.services[f.service]; s != nil {
		delete(s.functions, f.id)
	}
	if v := st.vims[f.vim]; v != nil {
		v.coreUsed -= f.demand.Cores
		v.memUsed -= f.demand.MemoryMB
		if v.memUsed < 1e-6 {
			v.memUsed = 0 // no drift from float round trips
		}
	}
	for _, a := range f.addrs {
		delete(st.addrs, a)
	}
	for _, m := range f.macs {
		delete(st.macs, m)
	}
}

// VIM is a compute VIM as the emulator sees it.
type VIM struct {
	UUID     string
	Name     string
	City     string
	Endpoint string
	Domain   string
	// Type is the vim_type given to compute.add, or "emulated" for
	// inventory VIMs.
	Type string
	// CoreTotal, CoreUsed, MemoryTotalMB and MemoryUsedMB are the
	// capacity and what the deployed functions take. Memory in MB, as
	// compute.list reports it (where used memory is rounded up).
	CoreTotal     int
	CoreUsed      int
	MemoryTotalMB int
	MemoryUsedMB  float64
}

// CoresFree and MemoryFreeMB are the capacity left.
func (v VIM) CoresFree() int { return v.CoreTotal - v.CoreUsed }

// MemoryFreeMB is the memory left, in MB.
func (v VIM) MemoryFreeMB() float64 { return float64(v.MemoryTotalMB) - v.MemoryUsedMB }

// NetworkVIM is a network VIM (SFC controller) linked to one compute VIM.
type NetworkVIM struct {
	UUID, Name, City, Endpoint, Type string
	ComputeUUID                      string
}

// WIM is a WAN infrastructure manager with its attached VIMs.
type WIM struct {
	UUID, Name, Vendor, Endpoint string
	VIMs                         []string
}

// Image is one vm_images entry of a prepare request.
type Image struct {
	UUID string // image_uuid, "<vendor>_<name>_<version>_<vdu id>" by SLM convention
	URL  string // image_url
	MD5  string // image_md5, optional
}

// PreparedVIM is one (service, VIM) row written by prepare.
type PreparedVIM struct {
	VIMUUID string
	Images  []Image
}

// Service is a service instance the IA knows: prepared on some VIMs,
// possibly with functions, chaining and WAN configuration.
type Service struct {
	InstanceID string
	Prepared   []PreparedVIM
	// Functions lists the deployed function instance ids, sorted.
	Functions []string
	Chained   bool
	// WANConfigured is set by wan.configure and cleared by
	// wan.deconfigure; WANVIMs is the vim_list order it was given.
	WANConfigured bool
	WANVIMs       []string
}

// Function is a deployed VNF.
type Function struct {
	// InstanceUUID is vnfd.instance_uuid, the MANO's function id.
	InstanceUUID      string
	ServiceInstanceID string
	VIMUUID           string
	VNFD              descriptor.Identity
	VNFDUUID          string
	// Demand is what the function takes from its VIM (sum of its VDUs,
	// memory in MB).
	Demand descriptor.Demand
	// Reply is the deploy reply the IA sent, VNFR included. It is shared
	// and must not be modified.
	Reply *DeployReply
}

// Snapshot is the whole emulator state at one instant.
type Snapshot struct {
	VIMs        []VIM
	NetworkVIMs []NetworkVIM
	WIMs        []WIM
	// Services and Functions are sorted by id.
	Services  []Service
	Functions []Function
}

// Snapshot returns a consistent copy of the state.
func (e *Emulator) Snapshot() Snapshot {
	st := &e.st
	st.mu.Lock()
	defer st.mu.Unlock()
	var s Snapshot
	for _, id := range st.vimOrder {
		s.VIMs = append(s.VIMs, st.vims[id].view())
	}
	for _, id := range st.netOrder {
		n := st.nets[id]
		s.NetworkVIMs = append(s.NetworkVIMs, NetworkVIM{UUID: n.uuid, Name: n.name, City: n.city, Endpoint: n.endpoint, Type: n.vimType, ComputeUUID: n.computeUUID})
	}
	for _, id := range st.wimOrder {
		w := st.wims[id]
		s.WIMs = append(s.WIMs, WIM{UUID: w.uuid, Name: w.name, Vendor: w.vendor, Endpoint: w.endpoint, VIMs: append([]string(nil), w.vims...)})
	}
	for _, svc := range st.services {
		s.Services = append(s.Services, svc.view())
	}
	sort.Slice(s.Services, func(i, j int) bool { return s.Services[i].InstanceID < s.Services[j].InstanceID })
	for _, f := range st.functions {
		s.Functions = append(s.Functions, f.view())
	}
	sort.Slice(s.Functions, func(i, j int) bool { return s.Functions[i].InstanceUUID < s.Functions[j].InstanceUUID })
	return s
}

// VIMs returns the compute VIMs with their usage, in listing order.
func (e *Emulator) VIMs() []VIM {
	e.st.mu.Lock()
	defer e.st.mu.Unlock()
	out := make([]VIM, 0, len(e.st.vimOrder))
	for _, id := range e.st.vimOrder {
		out = append(out, e.st.vims[id].view())
	}
	return out
}

// VIM returns one compute VIM by uuid.
func (e *Emulator) VIM(uuid string) (VIM, bool) {
	e.st.mu.Lock()
	defer e.st.mu.Unlock()
	v, ok := e.st.vims[uuid]
	if !ok {
		return VIM{}, false
	}
	return v.view(), true
}

// Service returns one service instance by id.
func (e *Emulator) Service(id string) (Service, bool) {
	e.st.mu.Lock()
	defer e.st.mu.Unlock()
	s, ok := e.st.services[id]
	if !ok {
		return Service{}, false
	}
	return s.view(), true
}

// Functions returns the functions deployed for service instance id (all
// functions when id is empty), sorted by instance uuid.
func (e *Emulator) Functions(serviceID string) []Function {
	e.st.mu.Lock()
	defer e.st.mu.Unlock()
	var out []Function
	for _, f := range e.st.functions {
		if serviceID == "" || f.service == serviceID {
			out = append(out, f.view())
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].InstanceUUID < out[j].InstanceUUID })
	return out
}

// Function returns one deployed function by instance uuid.
func (e *Emulator) Function(id string) (Function, bool) {
	e.st.mu.Lock()
	defer e.st.mu.Unlock()
	f, ok := e.st.functions[id]
	if !ok {
		return Function{}, false
	}
	return f.view(), true
}

// LoseFunction injects drift: the function disappears as if its VIM had
// lost it (a crashed server, an operator's manual delete). Its capacity is
// freed and nothing is said on the bus; the service stays prepared. It
// reports whether the function existed.
func (e *Emulator) LoseFunction(id string) bool {
	e.st.mu.Lock()
	defer e.st.mu.Unlock()
	f, ok := e.st.functions[id]
	if ok {
		e.st.dropFunction(f)
	}
	return ok
}

// Reset puts the emulator back as New left it: the inventory's VIMs and
// WIMs with nothing prepared or deployed, no faults, no latency, call
// counters at zero. Replies already scheduled by LateReply or HoldReply
// are still sent.
func (e *Emulator) Reset() {
	e.ClearFaults()
	e.st.reset(e.inv)
}

func (v *vimState) view() VIM {
	return VIM{
		UUID: v.cfg.UUID, Name: v.cfg.Name, City: v.cfg.City, Endpoint: v.cfg.Endpoint, Domain: v.cfg.Domain, Type: v.vimType,
		CoreTotal: v.cfg.Cores, CoreUsed: v.coreUsed, MemoryTotalMB: v.cfg.MemoryMB, MemoryUsedMB: v.memUsed,
	}
}

// resources is the compute.list element of v.
func (v *vimState) resources() ComputeResources {
	return ComputeResources{
		VIMUUID: v.cfg.UUID, VIMName: v.cfg.Name, VIMCity: v.cfg.City, VIMEndpoint: v.cfg.Endpoint, VIMDomain: v.cfg.Domain,
		CoreTotal: v.cfg.Cores, CoreUsed: v.coreUsed,
		// Round used memory up: a VIM never looks emptier than it is.
		MemoryTotal: v.cfg.MemoryMB, MemoryUsed: int(math.Ceil(v.memUsed - 1e-6)),
	}
}

func (s *serviceState) view() Service {
	out := Service{InstanceID: s.id, Chained: s.chained, WANConfigured: s.wan, WANVIMs: append([]string(nil), s.wanVIMs...)}
	for _, p := range s.prepared {
		out.Prepared = append(out.Prepared, PreparedVIM{VIMUUID: p.uuid, Images: append([]Image(nil), p.images...)})
	}
	for id := range s.functions {
		out.Functions = append(out.Functions, id)
	}
	sort.Strings(out.Functions)
	return out
}

func (f *functionState) view() Function {
	return Function{
		InstanceUUID: f.id, ServiceInstanceID: f.service, VIMUUID: f.vim,
		VNFD: f.vnfd, VNFDUUID: f.vnfdUUID, Demand: f.demand, Reply: f.reply,
	}
}
