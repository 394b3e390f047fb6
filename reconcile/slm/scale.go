package slm

import (
	"context"
	"strings"

	"github.com/manoctl/manoctl/reconcile/bus"
	"github.com/manoctl/manoctl/reconcile/wire"
	"github.com/manoctl/manoctl/schema/descriptor"
)

// Scaling: manoctl serves the 2019 topic service.instance.scale with its
// request shape (wire-protocol §12): scaling_type addvnf/ADD_VNF deploys
// number_of_instances new instances of one network function (named by
// vnf_id or by vnfd_uuid), removevnf/REMOVE_VNF removes the instance
// vnf_uuid (or the newest instances of vnf_id). The first reply is
// {status: SCALING, error: null, scaling_type}, the last READY with the
// updated nsr and vnfrs, or ERROR after rolling back what was added.
//
// Schedules, in the task vocabulary of §4.3:
//
//	scale out: request_topology, SLM_mapping, ia_prepare, vnf_deploy,
//	           vnfs_start, vnf_chain, store_nsr, inform_gk_scaling
//	scale in:  vnfs_stop, vnfs_remove, vnf_chain, store_nsr, inform_gk_scaling

func init() {
	taskTable[TaskRemoveVNFs] = (*Workflow).removeFunctions
	taskTable[TaskInformGKScale] = (*Workflow).informGKDone
}

func (s *SLM) onScale(ctx context.Context, msg *bus.Message) {
	if !s.checkCorrelation(ctx, msg) || !s.accept(msg.CorrelationID) {
		return
	}
	var req wire.ScaleRequest
	if err := msg.Decode(&req); err != nil || req.ServiceInstanceUUID == "" {
		s.reject(ctx, msg, "Request "+msg.CorrelationID+": a scale request needs service_instance_uuid and scaling_type.")
		return
	}
	st, err := s.cfg.Records.LoadService(ctx, req.ServiceInstanceUUID)
	if err != nil {
		s.reject(ctx, msg, "service instance "+req.ServiceInstanceUUID+" not found")
		return
	}
	if st.Status != StatusReady {
		s.reject(ctx, msg, "service instance "+st.ID+" is "+st.Status+", not ready: cannot scale")
		return
	}
	w := s.newWorkflow(KindScale, msg.Topic, msg.CorrelationID, st)
	if err := w.loadFunctions(); err != nil {
		s.reject(ctx, msg, err.Error())
		return
	}
	n := req.NumberOfInstances
	if n <= 0 {
		n = 1
	}
	switch strings.ToLower(strings.ReplaceAll(req.ScalingType, "_", "")) {
	case "addvnf":
		tmpl := w.findTemplate(req)
		if tmpl == nil {
			s.reject(ctx, msg, "scale out: no network function matches vnf_id "+req.VNFID+" / vnfd_uuid "+req.VNFDUUID)
			return
		}
		for i := 0; i < n; i++ {
			f := newFunction(newID(), tmpl.VNFID, tmpl.Desc)
			f.New = true
			w.Functions = append(w.Functions, f)
		}
		if vim := req.Constraints["vim_uuid"]; vim != "" {
			p := wire.PlacementSpec{}
			if st.Placement != nil {
				p = *st.Placement
			}
			p.AllowedVIMs = []string{vim}
			st.Placement = &p
		}
		w.Schedule = []string{TaskTopology, TaskMapping, TaskPrepare, TaskDeploy, TaskStart, TaskChain, TaskStoreNSR, TaskInformGKScale}
	case "removevnf":
		if msgText := w.markRemovals(req, n); msgText != "" {
			s.reject(ctx, msg, msgText)
			return
		}
		w.Schedule = []string{TaskStop, TaskRemoveVNFs, TaskChain, TaskStoreNSR, TaskInformGKScale}
	default:
		s.reject(ctx, msg, "unknown scaling_type "+req.ScalingType+" (want addvnf or removevnf)")
		return
	}
	if !s.claim(st.ID, w) {
		s.reject(ctx, msg, "Workflow for service still going on, rejected")
		return
	}
	st.Status = StatusScaling
	if req.Manoctl != nil {
		w.newSpecDigest = req.Manoctl.SpecDigest
	}
	w.Schedule = append([]string{TaskContactGK}, w.Schedule...)
	w.startStatus = func() {
		w.notify(bus.StatusScaling, nil, func(m *wire.StatusMessage) { m.ScalingType = req.ScalingType })
	}
	s.spawn(w)
}

// findTemplate picks the running function whose network function or VNFD
// the scale-out request names.
func (w *Workflow) findTemplate(req wire.ScaleRequest) *Function {
	for _, f := range w.Functions {
		if req.VNFID != "" && f.VNFID == req.VNFID {
			return f
		}
		if req.VNFDUUID != "" && descriptor.Str(f.VNFD, "uuid") == req.VNFDUUID {
			return f
		}
	}
	return nil
}

// markRemovals marks the functions a scale-in removes; it returns a
// rejection text when the request cannot be honoured. A network function
// never drops below one instance: removing it is a service update.
func (w *Workflow) markRemovals(req wire.ScaleRequest, n int) string {
	count := map[string]int{}
	for _, f := range w.Functions {
		count[f.VNFID]++
	}
	if req.VNFUUID != "" {
		for _, f := range w.Functions {
			if f.ID == req.VNFUUID {
				if count[f.VNFID] <= 1 {
					return "scale in: " + f.VNFID + " has a single instance; removing it is a service update"
				}
				f.Remove = true
				return ""
			}
		}
		return "scale in: no function instance " + req.VNFUUID + " in service " + w.State.ID
	}
	if req.VNFID == "" {
		return "scale in: name the instance (vnf_uuid) or the network function (vnf_id)"
	}
	if count[req.VNFID]-n < 1 {
		return "scale in: " + req.VNFID + " would drop below one instance"
	}
	for i := len(w.Functions) - 1; i >= 0 && n > 0; i-- {
		if w.Functions[i].VNFID == req.VNFID {
			w.Functions[i].Remove = true
			n--
		}
	}
	return ""
}

// removeFunctions removes the functions marked Remove, one request per
// function, and forgets them.
func (w *Workflow) removeFunctions() error {
	for _, f := range w.Functions {
		if !f.Remove {
			continue
		}
		if err := w.removeFunction(f); err != nil {
			return err
		}
	}
	w.syncFunctions()
	return w.saveState()
}

// informGKDone ends scale and update workflows: READY with the records.
func (w *Workflow) informGKDone() error {
	w.State.Status = StatusReady
	if w.newSpecDigest != "" {
		w.State.SpecDigest = w.newSpecDigest
	}
	w.State.Error, w.State.FailedStep = "", ""
	if err := w.saveState(); err != nil {
		return err
	}
	nsr, vnfrs := w.State.NSR, w.vnfrs()
	w.final = func() {
		w.notify(bus.StatusReady, nil, func(m *wire.StatusMessage) {
			m.NSR = nsr
			m.VNFRs = vnfrs
		})
	}
	return nil
}
