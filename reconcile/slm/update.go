package slm

import (
	"context"
	"crypto/sha256"
	"encoding/json"

	"github.com/manoctl/manoctl/reconcile/bus"
	"github.com/manoctl/manoctl/reconcile/wire"
	"github.com/manoctl/manoctl/schema/descriptor"
)

// Service update: a new NSD (and its VNFDs) for a running instance, on
// service.instances.update (the original subscribed and did nothing,
// §4.7). The request is the create structure plus instance_id (or the
// Sep-2017 Instance_id, §9.3). Functions whose VNFD is unchanged keep
// running; changed ones are replaced make-before-break (the new instance
// is deployed and started before the old one is stopped and removed);
// network functions added or dropped by the new NSD are deployed or
// removed. The first reply is {status: UPDATING}, the last READY with
// the new nsr and vnfrs, or ERROR after the new instances are removed.
//
//	request_topology, SLM_mapping, ia_prepare, vnf_deploy, vnfs_start,
//	vnfs_stop, vnfs_remove, vnf_chain, store_nsr, wan_configure,
//	inform_gk_scaling

func (s *SLM) onUpdate(ctx context.Context, msg *bus.Message) {
	if !s.checkCorrelation(ctx, msg) || !s.accept(msg.CorrelationID) {
		return
	}
	req, err := wire.DecodeCreateRequest(msg)
	if err != nil || req.NSD == nil {
		s.reject(ctx, msg, "Request "+msg.CorrelationID+": NSD is not a dict.")
		return
	}
	id := descriptor.ToString(req.Extra["instance_id"])
	if id == "" {
		id = descriptor.ToString(req.Extra["Instance_id"])
	}
	if id == "" {
		s.reject(ctx, msg, "Request "+msg.CorrelationID+": no instance_id to update.")
		return
	}
	st, err := s.cfg.Records.LoadService(ctx, id)
	if err != nil {
		s.reject(ctx, msg, "service instance "+id+" not found")
		return
	}
	if st.Status != StatusReady {
		s.reject(ctx, msg, "service instance "+id+" is "+st.Status+", not ready: cannot update")
		return
	}
	w := s.newWorkflow(KindUpdate, msg.Topic, msg.CorrelationID, st)
	if err := w.loadFunctions(); err != nil {
		s.reject(ctx, msg, err.Error())
		return
	}
	nsd, err := descriptor.ParseNSD(req.NSD)
	if err != nil || len(req.VNFDs) != len(nsd.NetworkFunctions) {
		s.reject(ctx, msg, "Request "+msg.CorrelationID+": # of VNFDs doesn't match NSD.")
		return
	}
	if len(descriptor.TypedManagers(nsd.SSMs)) > 0 && s.cfg.Managers == nil {
		s.reject(ctx, msg, "Request "+msg.CorrelationID+": the new NSD declares service specific managers, which this SLM does not run.")
		return
	}
	wanted, err := pairFunctions(nsd, req.VNFDs)
	if err != nil {
		s.reject(ctx, msg, "Request "+msg.CorrelationID+": "+err.Error())
		return
	}
	w.planUpdate(wanted)
	nsdDoc := withUUID(req.NSD)
	nsd.Doc = nsdDoc
	w.NSD = nsd
	w.prevNSD = st.NSD
	st.NSD = nsdDoc
	if req.Manoctl != nil {
		if req.Manoctl.Placement != nil {
			st.Placement = req.Manoctl.Placement
		}
		if req.Manoctl.SpecDigest != "" {
			st.SpecDigest = req.Manoctl.SpecDigest
		}
	}
	if !s.claim(st.ID, w) {
		s.reject(ctx, msg, "Workflow for service still going on, rejected")
		return
	}
	st.Status = StatusUpdating
	w.Schedule = []string{TaskContactGK, TaskTopology, TaskMapping, TaskPrepare, TaskDeploy, TaskStart,
		TaskStop, TaskRemoveVNFs, TaskChain, TaskStoreNSR, TaskWanConfigure, TaskInformGKScale}
	if !w.anyNew() {
		// Nothing to place or deploy.
		w.Schedule = []string{TaskContactGK, TaskStop, TaskRemoveVNFs, TaskChain, TaskStoreNSR, TaskWanConfigure, TaskInformGKScale}
	}
	w.startStatus = func() { w.notify(bus.StatusUpdating, nil, nil) }
	s.spawn(w)
}

// planUpdate marks which running functions stay, which are replaced and
// which are new, pairing them by vnf_id.
func (w *Workflow) planUpdate(wanted []*Function) {
	running := map[string][]*Function{}
	for _, f := range w.Functions {
		running[f.VNFID] = append(running[f.VNFID], f)
	}
	var next []*Function
	for _, nf := range wanted {
		olds := running[nf.VNFID]
		if len(olds) > 0 && digestDoc(olds[0].VNFD) == digestDoc(nf.VNFD) {
			next = append(next, olds...)
			delete(running, nf.VNFID)
			continue
		}
		nf.New = true
		next = append(next, nf)
		for _, o := range olds {
			o.Remove = true
			next = append(next, o)
		}
		delete(running, nf.VNFID)
	}
	for _, olds := range running {
		for _, o := range olds {
			o.Remove = true
			next = append(next, o)
		}
	}
	w.Functions = next
}

func (w *Workflow) anyNew() bool {
	for _, f := range w.Functions {
		if f.New {
			return true
		}
	}
	return false
}

// digestDoc hashes a descriptor's canonical JSON (encoding/json sorts map
// keys), ignoring the catalogue uuid.
func digestDoc(d descriptor.Doc) [32]byte {
	c := descriptor.Copy(d)
	delete(c, "uuid")
	b, _ := json.Marshal(c)
	return sha256.Sum256(b)
}
