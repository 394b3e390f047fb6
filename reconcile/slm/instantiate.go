package slm

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/google/uuid"

	"github.com/manoctl/manoctl/reconcile/bus"
	"github.com/manoctl/manoctl/reconcile/wire"
	"github.com/manoctl/manoctl/schema/descriptor"
)

func init() {
	taskTable[TaskValidate] = (*Workflow).validateDeployRequest
	taskTable[TaskContactGK] = (*Workflow).contactGK
	taskTable[TaskOnboardSSMs] = func(w *Workflow) error { return w.managers().Onboard(w.ctx, w) }
	taskTable[TaskInstantSSMs] = func(w *Workflow) error { return w.managers().Instantiate(w.ctx, w) }
	taskTable[TaskTriggerTaskSSM] = (*Workflow).triggerTaskSSM
	taskTable[TaskTopology] = (*Workflow).requestTopology
	taskTable[TaskMapping] = (*Workflow).mapping
	taskTable[TaskPlacementSSM] = (*Workflow).placementFromSSM
	taskTable[TaskPrepare] = (*Workflow).iaPrepare
	taskTable[TaskDeploy] = (*Workflow).vnfDeploy
	taskTable[TaskStart] = func(w *Workflow) error { return w.functionEvents("start") }
	taskTable[TaskStop] = func(w *Workflow) error { return w.functionEvents("stop") }
	taskTable[TaskConfig] = func(w *Workflow) error { return w.functionEvents("configure") }
	taskTable[TaskScaleVNFs] = func(w *Workflow) error { return w.functionEvents("scale") }
	taskTable[TaskChain] = (*Workflow).vnfChain
	taskTable[TaskStoreNSR] = (*Workflow).storeNSR
	taskTable[TaskWanConfigure] = (*Workflow).wanConfigure
	taskTable[TaskStartMonitoring] = (*Workflow).startMonitoring
	taskTable[TaskInformGKInst] = (*Workflow).informGKInstantiation
	taskTable[TaskConfigureSSM] = func(w *Workflow) error { return w.managers().Configure(w.ctx, w) }
}

// noManagers refuses SSM steps when no SpecificManagers is configured.
type noManagers struct{}

var errNoSSM = Errorf("service specific managers are not supported by this SLM")

func (noManagers) Onboard(context.Context, *Workflow) error     { return errNoSSM }
func (noManagers) Instantiate(context.Context, *Workflow) error { return errNoSSM }
func (noManagers) Task(context.Context, *Workflow, []string) ([]string, error) {
	return nil, errNoSSM
}
func (noManagers) Place(context.Context, *Workflow, wire.PlaceRequest) (*wire.PlaceReply, error) {
	return nil, errNoSSM
}
func (noManagers) Configure(context.Context, *Workflow) error    { return errNoSSM }
func (noManagers) MonitorStart(context.Context, *Workflow) error { return errNoSSM }
func (noManagers) Terminate(context.Context, *Workflow) error    { return nil }

func (w *Workflow) managers() SpecificManagers {
	if w.slm.cfg.Managers == nil {
		return noManagers{}
	}
	return w.slm.cfg.Managers
}

// createInput is the parsed create request a workflow validates.
type createInput struct {
	req    *wire.CreateRequest
	decErr error
}

func (s *SLM) newWorkflow(kind, topic, corrID string, st *ServiceState) *Workflow {
	w := &Workflow{
		slm: s, ctx: context.Background(), Kind: kind, Topic: topic, CorrID: corrID, State: st, done: make(chan struct{}),
		Op: &Operation{
			ID: newID(), ServiceID: st.ID, ServiceName: st.Name, Kind: kind, CorrelationID: corrID,
			Status: OpRunning, Started: s.cfg.Now(),
		},
	}
	w.log = s.log.With("service", st.ID, "workflow", kind, "correlation_id", corrID)
	return w
}

func (s *SLM) onCreate(ctx context.Context, msg *bus.Message) {
	if !s.checkCorrelation(ctx, msg) || !s.accept(msg.CorrelationID) {
		return
	}
	req, err := wire.DecodeCreateRequest(msg)
	st := &ServiceState{ID: newID(), Status: StatusInstantiating, CorrelationID: msg.CorrelationID, CreatedAt: s.cfg.Now()}
	if req != nil && req.Manoctl != nil {
		st.Name = req.Manoctl.InstanceName
		st.Placement = req.Manoctl.Placement
		st.SpecDigest = req.Manoctl.SpecDigest
	}
	w := s.newWorkflow(KindInstantiate, msg.Topic, msg.CorrelationID, st)
	w.createIn = &createInput{req: req, decErr: err}
	w.Schedule = instantiationSchedule(req)
	if !s.claim(st.ID, w) {
		return // cannot happen for a fresh id
	}
	s.spawn(w)
}

// instantiationSchedule is the original's schedule (§4.4): SSM steps only
// when the NSD declares typed SSMs.
func instantiationSchedule(req *wire.CreateRequest) []string {
	sched := []string{TaskValidate, TaskContactGK}
	ssms := map[string]bool{}
	if req != nil && req.NSD != nil {
		for _, t := range descriptor.ManagerTypes(req.NSD, "service_specific_managers") {
			ssms[t] = true
		}
	}
	if len(ssms) > 0 {
		sched = append(sched, TaskOnboardSSMs, TaskInstantSSMs)
	}
	if _, ok := ssms["task"]; ok {
		sched = append(sched, TaskTriggerTaskSSM)
	}
	sched = append(sched, TaskTopology)
	if _, ok := ssms["placement"]; ok {
		sched = append(sched, TaskPlacementSSM)
	} else {
		sched = append(sched, TaskMapping)
	}
	return append(sched, TaskPrepare, TaskDeploy, TaskStart, TaskChain, TaskStoreNSR,
		TaskWanConfigure, TaskStartMonitoring, TaskInformGKInst)
}

// validateDeployRequest checks the request as the original does (§4.4
// step 1, same error strings), plus what manoctl needs to run it. A
// failure ends the workflow (§14.3 S2).
func (w *Workflow) validateDeployRequest() error {
	r := w.CorrID
	in := w.createIn
	if in.decErr != nil || in.req == nil {
		return exactErrorf("Request %s: payload is not a dict.", r)
	}
	req := in.req
	if req.NSD == nil {
		return exactErrorf("Request %s: NSD is not a dict.", r)
	}
	nsd, err := descriptor.ParseNSD(req.NSD)
	if err != nil {
		return exactErrorf("Request %s: NSD is not a dict.", r)
	}
	if len(req.VNFDs) != len(nsd.NetworkFunctions) {
		return exactErrorf("Request %s: # of VNFDs doesn't match NSD.", r)
	}
	for _, v := range req.VNFDs {
		if v == nil {
			return exactErrorf("Request %s: empty VNFD.", r)
		}
	}
	w.SSMs = descriptor.TypedManagers(nsd.SSMs)
	if len(w.SSMs) == 0 {
		w.SSMs = nil
	} else if w.slm.cfg.Managers == nil {
		return Errorf("Request %s: the NSD declares service specific managers (%s), which this SLM does not run.", r, strings.Join(descriptor.SortedTypes(w.SSMs), ", "))
	}
	funcs, err := pairFunctions(nsd, req.VNFDs)
	if err != nil {
		return Errorf("Request %s: %v", r, err)
	}
	w.NSD = nsd
	w.State.NSD = withUUID(req.NSD)
	w.NSD.Doc = w.State.NSD
	w.State.Ingresses = req.Ingresses
	w.State.Egresses = req.Egresses
	w.Functions = funcs
	w.State.Functions = make([]FunctionState, len(funcs))
	for i, f := range funcs {
		w.State.Functions[i] = *f.FunctionState
		f.FunctionState = &w.State.Functions[i]
	}
	w.State.Status = StatusInstantiating
	return w.saveState()
}

// pairFunctions binds the request's VNFDs to the NSD's network functions,
// in NSD order (§14.3 S7). The gatekeeper sends VNFD<i> for
// network_functions[i]; when identities do not line up, VNFDs are matched
// by vendor/name/version.
func pairFunctions(nsd *descriptor.NSD, vnfds []descriptor.Doc) ([]*Function, error) {
	parsed := make([]*descriptor.VNFD, len(vnfds))
	for i, d := range vnfds {
		v, err := descriptor.ParseVNFD(d)
		if err != nil {
			return nil, err
		}
		parsed[i] = v
	}
	out := make([]*Function, len(nsd.NetworkFunctions))
	for i, nf := range nsd.NetworkFunctions {
		v := parsed[i]
		if v.Identity != nf.Identity {
			v = nil
			for _, p := range parsed {
				if p.Identity == nf.Identity {
					v = p
					break
				}
			}
			if v == nil {
				// Versions with operators or unquoted numbers: fall back to
				// position, as the original (which never matched) does.
				v = parsed[i]
			}
		}
		doc := withUUID(v.Doc)
		v.Doc = doc
		out[i] = newFunction(newID(), nf.VNFID, v)
	}
	return out, nil
}

func newFunction(id, vnfID string, v *descriptor.VNFD) *Function {
	on := wire.Trigger{Trigger: true, Payload: map[string]any{}}
	return &Function{
		FunctionState: &FunctionState{ID: id, VNFID: vnfID, VNFD: v.Doc},
		Desc:          v, Start: on, Stop: on, Configure: on, Scale: on,
	}
}

// uuidNamespace derives catalogue uuids for descriptors that come without
// one (manoctl's own requests): the IA needs vnfd.uuid as the VNFR's
// descriptor_reference.
var uuidNamespace = uuid.MustParse("8c1e6a52-7d3e-5b0a-9a61-5d2c3f0b7e11")

func withUUID(doc descriptor.Doc) descriptor.Doc {
	if descriptor.Str(doc, "uuid") != "" {
		return doc
	}
	c := descriptor.Copy(doc)
	c["uuid"] = uuid.NewSHA1(uuidNamespace, []byte(descriptor.IdentityOf(doc).String())).String()
	return c
}

func (w *Workflow) contactGK() error {
	switch {
	case w.startStatus != nil:
		w.startStatus()
	case w.Kind == KindTerminate:
		w.notify(bus.StatusTerminating, nil, nil)
	default:
		w.notify(bus.StatusInstantiating, nil, nil)
	}
	return nil
}

func (w *Workflow) triggerTaskSSM() error {
	sched, err := w.managers().Task(w.ctx, w, append([]string(nil), w.Schedule...))
	if err != nil {
		return err
	}
	w.Schedule = sched
	return nil
}

func (w *Workflow) requestTopology() error {
	var top []wire.VIMResources
	if err := w.request(bus.TopicIAComputeList, map[string]any{}, &top); err != nil {
		return err
	}
	w.Topology = top
	return nil
}

// PlaceRequest builds the mano.service.place request for the functions
// that need a VIM.
func (w *Workflow) PlaceRequest() wire.PlaceRequest {
	req := wire.PlaceRequest{
		NSD: w.State.NSD, Topology: w.Topology, ServID: w.State.ID,
		NAP: wire.NAPs{Ingresses: w.State.Ingresses, Egresses: w.State.Egresses},
	}
	for _, f := range w.Functions {
		if w.Kind != KindInstantiate && !f.New {
			continue
		}
		req.Functions = append(req.Functions, wire.PlaceFunction{
			ID: f.ID, VNFID: f.VNFID, VNFD: f.VNFD, Start: f.Start, Stop: f.Stop, Configure: f.Configure, Scale: f.Scale,
		})
	}
	if p := w.State.Placement; p != nil {
		if p.Policy != "" || len(p.Priority) > 0 {
			req.OperatorPolicies = &wire.OperatorPolicies{Policy: p.Policy, PolicyList: p.Priority}
		}
		if len(p.BlockedVIMs) > 0 {
			req.CustomerPolicies = &wire.CustomerPolicies{Blacklist: p.BlockedVIMs}
		}
		if len(p.AllowedVIMs) > 0 || len(p.Affinity) > 0 || len(p.AntiAffinity) > 0 {
			req.Constraints = &wire.PlacementConstraints{AllowedVIMs: p.AllowedVIMs, Affinity: p.Affinity, AntiAffinity: p.AntiAffinity}
		}
	}
	return req
}

func (w *Workflow) mapping() error {
	var reply wire.PlaceReply
	if err := w.request(bus.TopicServicePlace, w.PlaceRequest(), &reply); err != nil {
		return err
	}
	return w.applyMapping(&reply)
}

func (w *Workflow) placementFromSSM() error {
	reply, err := w.managers().Place(w.ctx, w, w.PlaceRequest())
	if err != nil {
		return err
	}
	if reply.Error != nil && reply.Error != "None" {
		return &stepError{Value: reply.Error}
	}
	return w.applyMapping(reply)
}

// applyMapping stores each function's VIM. A null or incomplete mapping is
// the original's "Unable to perform placement." (§14.5 L4); the detail
// goes to the records.
func (w *Workflow) applyMapping(reply *wire.PlaceReply) error {
	var missing []string
	for _, f := range w.Functions {
		if w.Kind != KindInstantiate && !f.New {
			continue
		}
		ref, ok := reply.Mapping[f.ID]
		if !ok || ref.VIM == "" {
			missing = append(missing, f.VNFID)
			continue
		}
		f.VIM = ref.VIM
	}
	if len(reply.Mapping) == 0 || len(missing) > 0 {
		detail := wire.ErrorText(reply.Error)
		if detail == "" {
			detail = "no VIM for " + strings.Join(missing, ", ")
		}
		//lint:ignore ST1005 the original's "Unable to perform placement." with its detail, as the records show it
		return &stepError{Value: "Unable to perform placement.", exact: true, err: fmt.Errorf("Unable to perform placement: %s", detail)}
	}
	w.orderedVIMs = w.orderVIMs()
	return nil
}

// orderVIMs computes the ordered VIM list that feeds wan.configure with
// manoctl's corrections (§14.3 S9): path entries sorted by position,
// NS-level references skipped, vnf_ids resolved through the workflow's
// functions; without a forwarding graph, the distinct VIMs in placement
// order. The VIMs are ordered topologically along the forwarding paths.
// A path that returns to a VIM it left (A -> B -> A) has no topological
// order; the original failed the workflow with "Placement contains loop".
// manoctl's placement spreads load and produces such paths legitimately,
// so it orders the VIMs by first appearance along the paths instead and
// logs it; the WIM only needs each VIM once, in some order.
func (w *Workflow) orderVIMs() []string {
	byVNF := map[string]string{}
	var placementOrder []string
	seen := map[string]bool{}
	for _, f := range w.Functions {
		if f.Remove {
			continue
		}
		byVNF[f.VNFID] = f.VIM
		if f.VIM != "" && !seen[f.VIM] {
			seen[f.VIM] = true
			placementOrder = append(placementOrder, f.VIM)
		}
	}
	if w.NSD == nil || len(w.NSD.ForwardingGraphs) == 0 {
		return placementOrder
	}
	edges := map[string]map[string]bool{}
	var firstSeen []string
	onPath := map[string]bool{}
	for _, fg := range w.NSD.ForwardingGraphs {
		for _, p := range fg.Paths {
			pts := append([]descriptor.PathPoint(nil), p.Points...)
			sort.SliceStable(pts, func(i, j int) bool { return pts[i].Position < pts[j].Position })
			prev := ""
			for _, pt := range pts {
				vnf, _ := descriptor.SplitRef(pt.Ref)
				vim, ok := byVNF[vnf]
				if vnf == "" || !ok || vim == "" {
					continue
				}
				if !onPath[vim] {
					onPath[vim] = true
					firstSeen = append(firstSeen, vim)
				}
				if prev != "" && prev != vim {
					if edges[prev] == nil {
						edges[prev] = map[string]bool{}
					}
					edges[prev][vim] = true
				}
				prev = vim
			}
		}
	}
	// VIMs of functions on no path go last, in placement order.
	for _, v := range placementOrder {
		if !onPath[v] {
			onPath[v] = true
			firstSeen = append(firstSeen, v)
		}
	}
	// Kahn's algorithm, ties broken by first appearance.
	indeg := map[string]int{}
	for _, tos := range edges {
		for to := range tos {
			indeg[to]++
		}
	}
	var order []string
	done := map[string]bool{}
	for len(order) < len(firstSeen) {
		progressed := false
		for _, v := range firstSeen {
			if done[v] || indeg[v] > 0 {
				continue
			}
			done[v] = true
			order = append(order, v)
			for to := range edges[v] {
				indeg[to]--
			}
			progressed = true
			break
		}
		if !progressed {
			w.log.Info("forwarding paths revisit a VIM; WAN order follows first appearance", "vims", firstSeen)
			return firstSeen
		}
	}
	return order
}

func (w *Workflow) iaPrepare() error {
	req := wire.IAPrepareRequest{InstanceID: w.State.ID}
	idx := map[string]int{}
	seenImg := map[string]bool{}
	for _, f := range w.Functions {
		if w.Kind != KindInstantiate && !f.New {
			continue
		}
		i, ok := idx[f.VIM]
		if !ok {
			i = len(req.VIMList)
			idx[f.VIM] = i
			req.VIMList = append(req.VIMList, wire.IAPrepareVIM{UUID: f.VIM, VMImages: []wire.IAImage{}})
		}
		for _, vdu := range f.Desc.VDUs {
			img := wire.IAImage{ImageUUID: imageUUID(f.Desc, vdu.ID), ImageURL: vdu.VMImage, ImageMD5: vdu.VMImageMD5}
			key := f.VIM + "/" + img.ImageUUID
			if seenImg[key] {
				continue
			}
			seenImg[key] = true
			req.VIMList[i].VMImages = append(req.VIMList[i].VMImages, img)
		}
	}
	if len(req.VIMList) == 0 {
		return nil
	}
	// Mark first: if the reply is lost the IA may still have prepared.
	w.prepared = true
	w.State.Prepared = true
	for _, v := range req.VIMList {
		if !containsStr(w.State.VIMs, v.UUID) {
			w.State.VIMs = append(w.State.VIMs, v.UUID)
		}
	}
	return w.iaStatus(bus.TopicIAServicePrepare, req)
}

func containsStr(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// vnfDeploy asks the FLM to deploy every (new) function, all in parallel
// as the original does, and waits for every answer before deciding, so
// that a rollback never races a deploy still in flight.
func (w *Workflow) vnfDeploy() error {
	var todo []*Function
	for _, f := range w.Functions {
		if w.Kind == KindInstantiate || f.New {
			todo = append(todo, f)
		}
	}
	w.deployed = append(w.deployed, todo...)
	errs := make([]error, len(todo))
	var wg sync.WaitGroup
	for i, f := range todo {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var reply wire.FunctionDeployReply
			err := w.request(bus.TopicFunctionDeploy, wire.FunctionDeployRequest{
				VNFD: f.VNFD, ID: f.ID, VIMUUID: f.VIM, ServID: w.State.ID,
			}, &reply)
			if err == nil && wire.FunctionFailed(reply.Status, reply.Error) {
				errVal := reply.Error
				if errVal == nil {
					errVal = fmt.Sprintf("deployment of %s failed: %s", f.VNFID, reply.Status)
				}
				err = &stepError{Value: errVal}
			}
			if err == nil && reply.VNFR == nil {
				err = Errorf("deployment of %s returned no VNFR", f.VNFID)
			}
			if err == nil {
				if id := descriptor.Str(reply.VNFR, "id"); id != f.ID {
					err = Errorf("deployment of %s returned the VNFR of %s", f.ID, id)
				}
			}
			if err == nil {
				f.VNFR = reply.VNFR
				f.Status = descriptor.Str(reply.VNFR, "status")
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// functionEvents sends mano.function.<event> for every function whose
// trigger is set, in parallel, and waits for all answers (§4.4 step 9).
func (w *Workflow) functionEvents(event string) error {
	topic := "mano.function." + event
	var todo []*Function
	for _, f := range w.Functions {
		if !w.eventApplies(f, event) {
			continue
		}
		if t := f.trigger(event); t.Trigger {
			todo = append(todo, f)
		}
	}
	errs := make([]error, len(todo))
	var wg sync.WaitGroup
	for i, f := range todo {
		wg.Add(1)
		go func() {
			defer wg.Done()
			data := f.trigger(event).Payload
			if len(data) == 0 {
				if event == "configure" {
					data = map[string]any{"nsr": w.State.NSR, "vnfrs": w.vnfrs()}
				} else {
					data = map[string]any{"vnfr": f.VNFR, "vnfd": f.VNFD}
				}
			}
			var reply wire.FunctionEventReply
			err := w.request(topic, wire.FunctionEventRequest{VNFID: f.ID, VNFD: f.VNFD, ServID: w.State.ID, Data: data}, &reply)
			if err == nil && wire.FunctionFailed(reply.Status, reply.Error) {
				errVal := reply.Error
				if errVal == nil {
					errVal = fmt.Sprintf("%s event of %s failed: %s", event, f.VNFID, reply.Status)
				}
				err = &stepError{Value: errVal}
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	if event == "stop" && w.Kind == KindTerminate {
		// The functions are removed next whatever their stop FSMs say: a
		// stop FSM that crashed or fails would otherwise make the service
		// impossible to terminate, every retry failing at this step. The
		// failure stays in the operation's step.
		if err := errors.Join(errs...); err != nil {
			w.log.Warn("stop event failed; terminating anyway", "err", err)
			w.noteStep(err)
		}
		return nil
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// eventApplies limits function events to the functions a workflow is
// about: new ones when scaling out or updating, removed ones when
// stopping during a scale-in or update.
func (w *Workflow) eventApplies(f *Function, event string) bool {
	switch w.Kind {
	case KindInstantiate, KindTerminate, KindCustom:
		return true
	}
	if event == "stop" {
		return f.Remove
	}
	return f.New
}

func (f *Function) trigger(event string) wire.Trigger {
	switch event {
	case "start":
		return f.Start
	case "stop":
		return f.Stop
	case "configure":
		return f.Configure
	case "scale":
		return f.Scale
	}
	return wire.Trigger{}
}

// SetTrigger replaces one of a function's triggers (configure and monitor
// SSMs do this).
func (f *Function) SetTrigger(event string, t wire.Trigger) {
	switch event {
	case "start":
		f.Start = t
	case "stop":
		f.Stop = t
	case "configure":
		f.Configure = t
	case "scale":
		f.Scale = t
	}
}

func (w *Workflow) vnfrs() []descriptor.Doc {
	out := make([]descriptor.Doc, 0, len(w.Functions))
	for _, f := range w.Functions {
		if f.VNFR != nil && !f.Remove {
			out = append(out, f.VNFR)
		}
	}
	return out
}

func (w *Workflow) vnfdsWithInstance() []descriptor.Doc {
	out := make([]descriptor.Doc, 0, len(w.Functions))
	for _, f := range w.Functions {
		if f.Remove {
			continue
		}
		d := descriptor.Copy(f.VNFD)
		d["instance_uuid"] = f.ID
		out = append(out, d)
	}
	return out
}

func (w *Workflow) napsOrNil() *wire.NAPs {
	n := wire.NAPs{Ingresses: w.State.Ingresses, Egresses: w.State.Egresses}
	if n.Empty() {
		return nil
	}
	return &n
}

func (w *Workflow) vnfChain() error {
	w.chained = true
	return w.iaStatus(bus.TopicIAChainConfigure, wire.IAChainConfigureRequest{
		ServiceInstanceID: w.State.ID, NSD: w.State.NSD, VNFDs: w.vnfdsWithInstance(), VNFRs: w.vnfrs(), NAP: w.napsOrNil(),
	})
}

// storeNSR sets the VNFRs to normal operation (version "2") and builds and
// stores the NSR (§4.4 step 11), through the Records port instead of the
// original's REST repositories.
func (w *Workflow) storeNSR() error {
	ids := make([]string, 0, len(w.Functions))
	for _, f := range w.Functions {
		if f.Remove {
			continue
		}
		if f.New || w.Kind == KindInstantiate {
			f.VNFR = withStatus(f.VNFR, "normal operation", "2")
		}
		f.Status = "normal operation"
		ids = append(ids, f.ID)
	}
	version := 1
	if w.State.NSR != nil {
		fmt.Sscanf(bumpVersion(w.State.NSR["version"]), "%d", &version)
	}
	w.State.NSR = buildNSR(w.State.ID, w.State.NSD, ids, version)
	w.syncFunctions()
	return w.saveState()
}

// syncFunctions makes State.Functions reflect the workflow's functions.
func (w *Workflow) syncFunctions() {
	fs := make([]FunctionState, 0, len(w.Functions))
	for _, f := range w.Functions {
		if f.Remove {
			continue
		}
		fs = append(fs, *f.FunctionState)
	}
	w.State.Functions = fs
	for i, f := range w.liveFunctions() {
		f.FunctionState = &w.State.Functions[i]
	}
}

func (w *Workflow) liveFunctions() []*Function {
	out := make([]*Function, 0, len(w.Functions))
	for _, f := range w.Functions {
		if !f.Remove {
			out = append(out, f)
		}
	}
	return out
}

func (w *Workflow) wanConfigure() error {
	list := make([]wire.IAWanVIM, 0, len(w.orderedVIMs))
	for i, v := range w.orderedVIMs {
		list = append(list, wire.IAWanVIM{UUID: v, Order: i})
	}
	w.wanConfigured = true
	return w.iaStatus(bus.TopicIAWanConfigure, wire.IAWanConfigureRequest{
		ServiceInstanceID: w.State.ID, NAP: w.napsOrNil(), VIMList: list,
	})
}

func (w *Workflow) startMonitoring() error {
	if _, ok := w.SSMs["monitor"]; ok {
		if err := w.managers().MonitorStart(w.ctx, w); err != nil {
			return err
		}
	}
	if m := w.slm.cfg.Monitor; m != nil {
		if err := m.ServiceStarted(w.ctx, w.State.ID, monitoringMessage(w.State)); err != nil {
			return &stepError{Value: map[string]any{"http_code": "0", "message": err.Error()}, err: err}
		}
	}
	return nil
}

func (w *Workflow) informGKInstantiation() error {
	w.State.Status = StatusReady
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
