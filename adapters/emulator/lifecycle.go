package emulator

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/manoctl/manoctl/schema/descriptor"
)

// Service and function lifecycle topics (wire-protocol §8.3, §8.6, §8.8).
// Each handler validates the request before it touches the state, and
// changes the state in one critical section, so that a refused request
// leaves no trace.

var deploymentError = statusReply(StatusError, MsgDeploymentError)

// servicePrepare records the (service, VIM) rows that deploys need:
//
//	instance_id: <service instance uuid>
//	vim_list: [{uuid, vm_images: [{image_uuid, image_url, image_md5?}]}]
//
// Every listed VIM must exist; the request is applied to all or none.
// Preparing a VIM again is a no-op (images are merged), so a re-published
// request is harmless.
func (e *Emulator) servicePrepare(r *request) any {
	id := descriptor.Str(r.body, "instance_id")
	if id == "" {
		return r.refuse("instance_id is missing")
	}
	entries, ok := listOf(r.body, "vim_list")
	if !ok || len(entries) == 0 {
		return r.refuse("vim_list must be a non-empty list")
	}
	preps := make([]preparedVIM, 0, len(entries))
	for i, e := range entries {
		m := descriptor.AsMap(e)
		vim := descriptor.Str(m, "uuid")
		if vim == "" {
			return r.refuse(fmt.Sprintf("vim_list[%d].uuid is missing", i))
		}
		imgs, ok := listOf(m, "vm_images")
		if !ok {
			return r.refuse(fmt.Sprintf("vim_list[%d].vm_images must be a list", i))
		}
		p := preparedVIM{uuid: vim}
		for _, img := range imgs {
			im := descriptor.AsMap(img)
			p.images = append(p.images, Image{UUID: descriptor.Str(im, "image_uuid"), URL: descriptor.Str(im, "image_url"), MD5: descriptor.Str(im, "image_md5")})
		}
		preps = append(preps, p)
	}

	st := &e.st
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, p := range preps {
		if _, ok := st.vims[p.uuid]; !ok {
			return statusReply(StatusError, MsgVIMNotFound)
		}
	}
	s := st.services[id]
	if s == nil {
		s = &serviceState{id: id}
		st.services[id] = s
	}
	for _, p := range preps {
		if i := s.preparedIndex(p.uuid); i >= 0 {
			s.prepared[i].images = mergeImages(s.prepared[i].images, p.images)
			continue
		}
		s.prepared = append(s.prepared, p)
	}
	return completed
}

func mergeImages(have, more []Image) []Image {
	out := have
	for _, m := range more {
		dup := false
		for _, h := range have {
			if h.UUID == m.UUID {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, m)
		}
	}
	return out
}

// functionDeploy deploys one VNF on one VIM:
//
//	service_instance_id: <uuid>
//	vim_uuid: <compute vim uuid>
//	vnfd: <VNFD with instance_uuid>
//
// Unlike the 2017 mock it requires a prior prepare of that VIM for that
// service, takes the VNF's demand from the VIM and refuses what does not
// fit, and answers with a VNFR that has vnfc_instance entries. Deploying
// an instance that is already deployed on the same service and VIM replays
// the original reply without charging twice.
func (e *Emulator) functionDeploy(r *request) any {
	vnfdDoc := descriptor.Map(r.body, "vnfd")
	if p := checkVNFD(vnfdDoc); len(p) > 0 {
		r.bad("invalid vnfd: %s", strings.Join(p, "; "))
		return deploymentError
	}
	vnfd, err := descriptor.ParseVNFD(vnfdDoc)
	if err != nil {
		r.bad("invalid vnfd: %v", err)
		return deploymentError
	}
	svcID := descriptor.Str(r.body, "service_instance_id")
	vimID := descriptor.Str(r.body, "vim_uuid")
	instance := descriptor.Str(vnfdDoc, "instance_uuid")
	vnfdUUID := descriptor.Str(vnfdDoc, "uuid")
	demand := vnfd.Demand()

	st := &e.st
	st.mu.Lock()
	defer st.mu.Unlock()
	if f := st.functions[instance]; f != nil {
		if f.service == svcID && f.vim == vimID {
			return f.reply
		}
		return statusReply(StatusError, fmt.Sprintf("function instance %s is already deployed on VIM %s for service %s", instance, f.vim, f.service))
	}
	vim := st.vims[vimID]
	if vim == nil {
		return statusReply(StatusError, MsgVIMNotFound)
	}
	s := st.services[svcID]
	if s == nil || !s.preparedOn(vimID) {
		return statusReply(StatusError, MsgNotPrepared)
	}
	if !vim.fits(demand) {
		return statusReply(StatusError, fmt.Sprintf(
			"Not enough resources on VIM %s (%s): %s needs %d cores and %s MB, %d cores and %s MB are free",
			vim.cfg.Name, vimID, vnfd.Name, demand.Cores, mb(demand.MemoryMB),
			vim.cfg.Cores-vim.coreUsed, mb(float64(vim.cfg.MemoryMB)-vim.memUsed)))
	}
	f := &functionState{id: instance, service: svcID, vim: vimID, vnfd: vnfd.Identity, vnfdUUID: vnfdUUID, demand: demand}
	vnfr, err := st.buildVNFR(e.cfg.seedStr, vnfd, instance, vnfdUUID, vimID, f)
	if err != nil {
		st.dropFunction(f) // releases the addresses taken so far
		return statusReply(StatusError, err.Error())
	}
	f.reply = &DeployReply{
		RequestStatus: StatusCompleted,
		Message:       "",
		// The observed stand-in named instances <vnfd name>-<instance>.
		InstanceName:    vnfd.Name + "-" + instance,
		InstanceVimUUID: derive("stack", e.cfg.seedStr, instance),
		VIMUUID:         vimID,
		VNFR:            vnfr,
	}
	f.reply.wire = f.reply.doc()
	st.addFunction(s, f)
	return f.reply
}

func mb(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// functionRemove removes one VNF (Aug-2018 topic):
//
//	{service_instance_id, vim_uuid, vnf_uuid}
//
// and frees its capacity.
func (e *Emulator) functionRemove(r *request) any {
	svcID := descriptor.Str(r.body, "service_instance_id")
	vimID := descriptor.Str(r.body, "vim_uuid")
	id := descriptor.Str(r.body, "vnf_uuid")
	if svcID == "" || vimID == "" || id == "" {
		return r.refuse("service_instance_id, vim_uuid and vnf_uuid are required")
	}
	st := &e.st
	st.mu.Lock()
	defer st.mu.Unlock()
	if _, ok := st.vims[vimID]; !ok {
		return statusReply(StatusError, MsgVIMNotFound)
	}
	f := st.functions[id]
	if f == nil || f.service != svcID || f.vim != vimID {
		return statusReply(StatusError, fmt.Sprintf("can't find function instance %s of service %s on VIM %s", id, svcID, vimID))
	}
	st.dropFunction(f)
	return completed
}

// functionScale is never sent by manoctl (§14.7 I3): the real IA answers
// only errors and, with Heat and no Mistral, kills itself. The emulator
// answers every call with an error so that a stray caller does not hang.
func (e *Emulator) functionScale(r *request) any {
	r.bad("infrastructure.function.scale is not supported")
	return statusReply(StatusError, "Scaling Error: infrastructure.function.scale is not supported (wire-protocol §14.7 I3)")
}

// serviceDeploy is the deprecated all-in-one deploy.
func (e *Emulator) serviceDeploy(*request) any {
	return statusReply(StatusError, MsgDeprecated)
}

// serviceRemove removes a service instance from every VIM it was prepared
// on, with all its functions:
//
//	{"instance_uuid": "<service instance uuid>", "vim_uuid"?: "<vim>"}
//
// vim_uuid is HEAD's per-VIM form (§12); it narrows the removal to one
// VIM. Unlike the Sep-2017 mock, it always answers.
func (e *Emulator) serviceRemove(r *request) any {
	id := descriptor.Str(r.body, "instance_uuid")
	if id == "" {
		return r.refuse("instance_uuid is missing")
	}
	vimID := descriptor.Str(r.body, "vim_uuid")
	st := &e.st
	st.mu.Lock()
	defer st.mu.Unlock()
	s := st.services[id]
	if s == nil || (vimID != "" && !s.preparedOn(vimID)) {
		return statusReply(StatusError, MsgUnknownInstance)
	}
	for _, f := range s.functions {
		if vimID == "" || f.vim == vimID {
			st.dropFunction(f)
		}
	}
	if vimID == "" {
		delete(st.services, id)
		return completed
	}
	kept := s.prepared[:0]
	for _, p := range s.prepared {
		if p.uuid != vimID {
			kept = append(kept, p)
		}
	}
	s.prepared = kept
	if len(s.prepared) == 0 {
		delete(st.services, id)
	}
	return completed
}

// chainConfigure sets up intra-PoP chaining:
//
//	service_instance_id, nsd, vnfds: [<vnfd + instance_uuid>], vnfrs: [...], nap?
//
// Like the IA it walks the forwarding paths in position order and resolves
// every VNF reference (vnf_id -> vnf_name -> VNFD -> instance), which must
// be a function deployed for the service. NS-level references (ns:...)
// are skipped; an NSD without forwarding graphs is accepted (the Dec-2017
// behaviour; Sep 2017 never answered).
func (e *Emulator) chainConfigure(r *request) any {
	id := descriptor.Str(r.body, "service_instance_id")
	nsd := descriptor.Map(r.body, "nsd")
	vnfds, vnfdsOK := listOf(r.body, "vnfds")
	_, vnfrsOK := listOf(r.body, "vnfrs")
	nap, hasNap := r.body["nap"]
	switch {
	case id == "":
		return r.refuse("service_instance_id is missing")
	case nsd == nil:
		return r.refuse("nsd is missing or not a mapping")
	case !vnfdsOK:
		return r.refuse("vnfds is not a list")
	case !vnfrsOK:
		return r.refuse("vnfrs is not a list")
	case hasNap && nap != nil && descriptor.AsMap(nap) == nil:
		return r.refuse("nap is not a mapping")
	}
	parsed, _ := descriptor.ParseNSD(nsd) // never fails on a mapping
	names := make(map[string]string, len(parsed.NetworkFunctions))
	for _, f := range parsed.NetworkFunctions {
		names[f.VNFID] = f.Name
	}
	instances := make(map[string]string, len(vnfds)) // vnfd name -> instance uuid
	for _, v := range vnfds {
		m := descriptor.AsMap(v)
		if n := descriptor.Str(m, "name"); n != "" {
			if _, seen := instances[n]; !seen {
				instances[n] = descriptor.Str(m, "instance_uuid")
			}
		}
	}

	st := &e.st
	st.mu.Lock()
	defer st.mu.Unlock()
	s := st.services[id]
	if s == nil {
		return statusReply(StatusError, "Service instance "+id+" not found")
	}
	for _, g := range parsed.ForwardingGraphs {
		for _, p := range g.Paths {
			pts := append([]descriptor.PathPoint(nil), p.Points...)
			sort.SliceStable(pts, func(i, j int) bool { return pts[i].Position < pts[j].Position })
			for _, pt := range pts {
				vnfID, cp := descriptor.SplitRef(pt.Ref)
				if vnfID == "" || vnfID == "ns" {
					// A service-level connection point: bare in the
					// 2017 format, "ns:" in the 2016 one. The IA chains
					// only the <vnf_id>:<cp> references.
					continue
				}
				if cp == "" {
					return statusReply(StatusError, "Bad connection point reference "+strconv.Quote(pt.Ref))
				}
				name, ok := names[vnfID]
				if !ok {
					return statusReply(StatusError, "Bad connection point reference "+strconv.Quote(pt.Ref)+": no network function "+vnfID)
				}
				inst := instances[name]
				if f := st.functions[inst]; inst == "" || f == nil || f.service != id {
					return statusReply(StatusError, "VNF not found: "+vnfID+" ("+name+")")
				}
			}
		}
	}
	s.chained = true
	return completed
}

// refuse logs why a request is malformed and answers the common error
// shape.
func (r *request) refuse(why string) StatusReply {
	r.bad("%s", why)
	return statusReply(StatusError, MsgMalformedRequest+": "+why)
}

// chainDeconfigure undoes chaining: {service_instance_id}. The IA
// deconfigures the network VIMs of the service's (possibly zero) compute
// VIMs, so an unknown or unchained service succeeds too: a retried
// termination must not wedge on it.
func (e *Emulator) chainDeconfigure(r *request) any {
	id := descriptor.Str(r.body, "service_instance_id")
	if id == "" {
		return r.refuse("service_instance_id is missing")
	}
	e.st.mu.Lock()
	defer e.st.mu.Unlock()
	if s := e.st.services[id]; s != nil {
		s.chained = false
	}
	return completed
}

// wanConfigure sets up the WAN between the service's VIMs (§8.6):
//
//	service_instance_id, vim_list: [{uuid, order}], nap?
//
// Failures use the WIM adaptor's shapes: "fail" for a payload it cannot
// parse, "FAILED" for duplicate or unreachable VIMs. The service must be
// known (prepared).
func (e *Emulator) wanConfigure(r *request) any {
	parseError := statusReply(StatusFail, MsgPayloadParseError)
	id := descriptor.Str(r.body, "service_instance_id")
	entries, ok := listOf(r.body, "vim_list")
	nap, hasNap := r.body["nap"]
	if id == "" || !ok || (hasNap && nap != nil && descriptor.AsMap(nap) == nil) {
		r.bad("service_instance_id, vim_list or nap malformed")
		return parseError
	}
	type entry struct {
		uuid  string
		order int
	}
	list := make([]entry, 0, len(entries))
	for i, x := range entries {
		m := descriptor.AsMap(x)
		u := descriptor.Str(m, "uuid")
		if u == "" {
			r.bad("vim_list[%d].uuid is missing", i)
			return parseError
		}
		if v, present := m["order"]; present && v != nil {
			if _, num := descriptor.Number(m, "order"); !num {
				r.bad("vim_list[%d].order is %T, not a number", i, v)
				return parseError
			}
		}
		list = append(list, entry{uuid: u, order: descriptor.Int(m, "order")})
	}
	sort.SliceStable(list, func(i, j int) bool { return list[i].order < list[j].order })
	seen := make(map[string]bool, len(list))
	for _, x := range list {
		if seen[x.uuid] {
			return statusReply(StatusFAILED, MsgDuplicateVIMs)
		}
		seen[x.uuid] = true
	}

	st := &e.st
	st.mu.Lock()
	defer st.mu.Unlock()
	s := st.services[id]
	if s == nil {
		return statusReply(StatusFAILED, "Service instance "+id+" not found")
	}
	for _, x := range list {
		if !st.wanReachable(x.uuid) {
			// (sic) the WIM adaptor's spelling.
			return statusReply(StatusFAILED, "Can't find the WIM to wich VIM "+x.uuid+" is attached")
		}
	}
	s.wan = true
	s.wanVIMs = s.wanVIMs[:0]
	for _, x := range list {
		s.wanVIMs = append(s.wanVIMs, x.uuid)
	}
	return completed
}

// wanDeconfigure undoes the WAN configuration: {service_instance_id}. The
// WIM adaptor always answers COMPLETED, known service or not.
func (e *Emulator) wanDeconfigure(r *request) any {
	id := descriptor.Str(r.body, "service_instance_id")
	if id == "" {
		r.bad("service_instance_id is missing")
		return statusReply(StatusFail, MsgPayloadParseError)
	}
	e.st.mu.Lock()
	defer e.st.mu.Unlock()
	if s := e.st.services[id]; s != nil {
		s.wan = false
		s.wanVIMs = nil
	}
	return completed
}
