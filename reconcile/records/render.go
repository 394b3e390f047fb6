package records

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/manoctl/manoctl/schema/descriptor"
)

// Descriptor versions of the records manoctl renders.
const (
	NSRDescriptorVersion  = "nsr-schema-01"
	VNFRDescriptorVersion = "vnfr-schema-01"
)

// RenderNSR renders the SONATA NSR of svc, whose NSD is nsd, as the SLM
// writes it (wire-protocol §10.1) with manoctl's S12 correction (§14.3):
// auto_scale_policy, lifecycle_events, vnf_depedency and
// services_depedency are copied as they appear in the NSD.
//
// The result is a private tree; nsd is not modified or shared. Keys whose
// value would break the corrected record schema (descriptors.md §7) are
// omitted rather than rendered invalid: descriptor_reference when the NSD
// has no catalogue uuid, network_functions when the service has none.
func RenderNSR(svc *Service, nsd descriptor.Doc) descriptor.Doc {
	nsr := descriptor.Doc{
		"descriptor_version": NSRDescriptorVersion,
		"id":                 svc.ID,
		"status":             string(svc.RecordStatus),
		"version":            strconv.FormatUint(svc.Version, 10),
	}
	if svc.NSD.UUID != "" {
		nsr["descriptor_reference"] = svc.NSD.UUID
	}
	if len(svc.Functions) > 0 {
		nfs := make([]any, len(svc.Functions))
		for i, id := range svc.Functions {
			nfs[i] = map[string]any{"vnfr_id": id}
		}
		nsr["network_functions"] = nfs
	}
	if vls, ok := nsd["virtual_links"].([]any); ok {
		out := make([]any, 0, len(vls))
		for _, v := range vls {
			vl := descriptor.AsMap(v)
			if vl == nil {
				continue
			}
			// The SLM keeps exactly these three keys of each link.
			o := make(map[string]any, 3)
			for _, k := range []string{"id", "connectivity_type", "connection_points_reference"} {
				if x, ok := vl[k]; ok {
					o[k] = deepCopy(x)
				}
			}
			out = append(out, o)
		}
		nsr["virtual_links"] = out
	}
	for _, k := range []string{"forwarding_graphs", "monitoring_parameters", "lifecycle_events", "vnf_depedency", "services_depedency", "auto_scale_policy"} {
		if x, ok := nsd[k]; ok {
			nsr[k] = deepCopy(x)
		}
	}
	return nsr
}

// RenderVNFR renders the SONATA VNFR of fn, whose VNFD is vnfd, as the FLM
// builds it (wire-protocol §6.3): per VDU, resource_requirements and
// monitoring_parameters come from the VNFD VDU that vdu_reference names;
// virtual_links and lifecycle_events come from the VNFD; connection points
// are written in the Sep-2017 IA form {id, type, interface: {address,
// netmask?, hardware_address?}} (§14.7 I5).
//
// Where the 2017 builder produced records the corrected schema rejects,
// RenderVNFR differs (README.md, "Rendered records"): connection-point
// types outside internal/external/management are resolved from the VNFD
// or defaulted, monitoring parameters keep only the keys a VNFR allows, a
// VNFC without connection points omits the key, and the flavour is written
// under the schema's key deployment_favour.
func RenderVNFR(fn *Function, vnfd descriptor.Doc) descriptor.Doc {
	dv := fn.DescriptorVersion
	if dv == "" {
		dv = VNFRDescriptorVersion
	}
	vnfr := descriptor.Doc{
		"descriptor_version": dv,
		"id":                 fn.ID,
		"status":             string(fn.Status),
		"version":            strconv.FormatUint(fn.Version, 10),
	}
	if fn.VNFD.UUID != "" {
		vnfr["descriptor_reference"] = fn.VNFD.UUID
	}
	if fn.DeploymentFlavour != "" {
		vnfr["deployment_favour"] = fn.DeploymentFlavour
	}
	vnfdVDUs := descriptor.Maps(vnfd, "virtual_deployment_units")
	vdus := make([]any, 0, len(fn.VDUs))
	for i := range fn.VDUs {
		u := &fn.VDUs[i]
		out := map[string]any{"id": u.ID}
		if u.VMImage != "" {
			out["vm_image"] = u.VMImage
		}
		if u.Reference != "" {
			out["vdu_reference"] = u.Reference
		}
		if u.NumberOfInstances > 0 {
			out["number_of_instances"] = u.NumberOfInstances
		}
		src := matchVDU(vnfdVDUs, u)
		vnfcs := make([]any, 0, len(u.VNFCs))
		for j := range u.VNFCs {
			c := &u.VNFCs[j]
			vc := map[string]any{"id": c.ID, "vim_id": c.VIMID, "vc_id": c.VCID}
			if len(c.ConnectionPoints) > 0 {
				vc["connection_points"] = renderCPs(c.ConnectionPoints, descriptor.Maps(src, "connection_points"), "internal")
			}
			vnfcs = append(vnfcs, vc)
		}
		out["vnfc_instance"] = vnfcs
		if src != nil {
			if rr := descriptor.Map(src, "resource_requirements"); rr != nil {
				out["resource_requirements"] = recordResources(rr)
			}
			if mps, ok := src["monitoring_parameters"].([]any); ok {
				out["monitoring_parameters"] = recordMonitoring(mps)
			}
		}
		vdus = append(vdus, out)
	}
	vnfr["virtual_deployment_units"] = vdus
	if len(fn.ConnectionPoints) > 0 {
		vnfr["connection_points"] = renderCPs(fn.ConnectionPoints, descriptor.Maps(vnfd, "connection_points"), "external")
	}
	for _, k := range []string{"virtual_links", "lifecycle_events"} {
		if x, ok := vnfd[k]; ok {
			vnfr[k] = deepCopy(x)
		}
	}
	return vnfr
}

// matchVDU finds the VNFD VDU of a deployed VDU. The 2017 FLM takes any
// VNFD VDU whose id is a substring of vdu_reference ("<vnfd name>:<vdu
// id>"), which can pick the wrong one when an id is part of another or of
// the VNFD name; manoctl prefers the exact "<name>:<id>" (or bare id)
// match and falls back to the longest substring match.
func matchVDU(vnfdVDUs []map[string]any, u *VDU) map[string]any {
	ref := u.Reference
	if ref == "" {
		ref = u.ID
	}
	var best map[string]any
	bestLen := -1
	for _, v := range vnfdVDUs {
		id := descriptor.Str(v, "id")
		if id == "" {
			continue
		}
		if ref == id || strings.HasSuffix(ref, ":"+id) {
			return v
		}
		if strings.Contains(ref, id) && len(id) > bestLen {
			best, bestLen = v, len(id)
		}
	}
	return best
}

// recordCPTypes are the connection-point types a record may carry.
var recordCPTypes = map[string]bool{"internal": true, "external": true, "management": true}

// renderCPs writes connection points in the Sep-2017 IA form. The type is
// the IA's when it is a record type; otherwise (the 2016 form has none,
// and the IA's Java model also allows "interface") the type of the
// descriptor's connection point with the same id, when that is a record
// type; otherwise def: VNFC interfaces are internal to the function, the
// function's own connection points face outside it.
func renderCPs(cps []ConnectionPoint, desc []map[string]any, def string) []any {
	out := make([]any, 0, len(cps))
	for i := range cps {
		cp := &cps[i]
		typ := cp.Type
		if !recordCPTypes[typ] {
			typ = def
			for _, d := range desc {
				if descriptor.Str(d, "id") == cp.ID {
					if t := descriptor.Str(d, "type"); recordCPTypes[t] {
						typ = t
					}
					break
				}
			}
		}
		iface := map[string]any{"address": cp.Address}
		if cp.Netmask != "" {
			iface["netmask"] = cp.Netmask
		}
		if cp.HardwareAddress != "" {
			iface["hardware_address"] = cp.HardwareAddress
		}
		out = append(out, map[string]any{"id": cp.ID, "type": typ, "interface": iface})
	}
	return out
}

// recordResources copies a VNFD VDU's resource_requirements. VNFR
// hypervisor and vswitch versions are bare version numbers, while VNFDs may
// write a comparison (">=2.0"); the operator is dropped.
func recordResources(rr map[string]any) map[string]any {
	out := deepCopy(rr).(map[string]any)
	for _, k := range []string{"hypervisor_parameters", "vswitch_capabilities"} {
		if m := descriptor.AsMap(out[k]); m != nil {
			if v, ok := m["version"].(string); ok {
				m["version"] = strings.TrimLeft(v, "<>=! ")
			}
		}
	}
	return out
}

// recordMonitoring copies VDU monitoring parameters with the keys a VNFR
// allows (the VNFD's command is not one of them).
func recordMonitoring(mps []any) []any {
	out := make([]any, 0, len(mps))
	for _, mp := range mps {
		m := descriptor.AsMap(mp)
		if m == nil {
			continue
		}
		o := make(map[string]any, 4)
		for _, k := range []string{"name", "unit", "frequency", "frequency_unit"} {
			if v, ok := m[k]; ok {
				o[k] = deepCopy(v)
			}
		}
		out = append(out, o)
	}
	return out
}

// deepCopy copies generic trees, so that rendered records never share
// mutable parts with stored descriptors.
func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, val := range x {
			m[k] = deepCopy(val)
		}
		return m
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, val := range x {
			m[fmt.Sprint(k)] = deepCopy(val)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, val := range x {
			l[i] = deepCopy(val)
		}
		return l
	case time.Time:
		return x
	default:
		return v
	}
}

// FunctionFromIAVNFR reads the vnfr of an IA infrastructure.function.deploy
// reply (wire-protocol §8.3) into a Function: id, status,
// descriptor_version, descriptor_reference (as VNFD.UUID), the flavour,
// VDUs with their VNFC instances and the function's connection points.
// Connection points are read in both forms: the 2016 form {id, type:
// {address, netmask?}} of old fixtures and the Sep-2017 form {id, type,
// interface: {address, netmask?, hardware_address?}} (§14.7 I5).
//
// The caller fills in what the vnfr does not say: ServiceID, VNFID,
// VNFD.Digest and Identity, VIM, Instance (from the reply's instanceName
// and instanceVimUuid), Demand and Version. A missing status reads as
// offline (the Heat wrapper's value for a deployed function); a status
// outside the VNFR enum is an error, as is a vnfr without an id.
func FunctionFromIAVNFR(ia descriptor.Doc) (*Function, error) {
	if ia == nil {
		return nil, errors.New("records: IA vnfr is not a mapping")
	}
	f := &Function{
		ID:                descriptor.Str(ia, "id"),
		DescriptorVersion: descriptor.Str(ia, "descriptor_version"),
		Status:            RecordStatus(descriptor.Str(ia, "status")),
	}
	f.VNFD.UUID = descriptor.Str(ia, "descriptor_reference")
	f.DeploymentFlavour = descriptor.Str(ia, "deployment_flavour")
	if f.DeploymentFlavour == "" {
		f.DeploymentFlavour = descriptor.Str(ia, "deployment_favour")
	}
	var errs []error
	if f.ID == "" {
		errs = append(errs, errors.New("no id"))
	}
	switch {
	case f.Status == "":
		f.Status = RecordOffline
	case !f.Status.ValidVNFR():
		errs = append(errs, fmt.Errorf("status %q is not a VNFR status", f.Status))
	}
	if v, ok := ia["virtual_deployment_units"]; ok && v != nil {
		if _, isList := v.([]any); !isList {
			errs = append(errs, errors.New("virtual_deployment_units is not a list"))
		}
	}
	for i, vdu := range descriptor.Maps(ia, "virtual_deployment_units") {
		u := VDU{
			ID:                descriptor.Str(vdu, "id"),
			Reference:         descriptor.Str(vdu, "vdu_reference"),
			NumberOfInstances: descriptor.Int(vdu, "number_of_instances"),
			VMImage:           descriptor.Str(vdu, "vm_image"),
		}
		if u.ID == "" {
			errs = append(errs, fmt.Errorf("virtual_deployment_units[%d] has no id", i))
		}
		for _, vnfc := range descriptor.Maps(vdu, "vnfc_instance") {
			u.VNFCs = append(u.VNFCs, VNFC{
				ID:               descriptor.Str(vnfc, "id"),
				VIMID:            descriptor.Str(vnfc, "vim_id"),
				VCID:             descriptor.Str(vnfc, "vc_id"),
				ConnectionPoints: iaCPs(descriptor.Maps(vnfc, "connection_points")),
			})
		}
		f.VDUs = append(f.VDUs, u)
	}
	f.ConnectionPoints = iaCPs(descriptor.Maps(ia, "connection_points"))
	if len(errs) > 0 {
		return nil, fmt.Errorf("records: IA vnfr %s: %w", f.ID, errors.Join(errs...))
	}
	return f, nil
}

// iaCPs reads connection points in either form.
func iaCPs(ms []map[string]any) []ConnectionPoint {
	var out []ConnectionPoint
	for _, m := range ms {
		cp := ConnectionPoint{ID: descriptor.Str(m, "id")}
		var iface map[string]any
		if i := descriptor.Map(m, "interface"); i != nil {
			// Sep-2017: type is the connection point type.
			iface = i
			cp.Type = descriptor.Str(m, "type")
		} else if t := descriptor.Map(m, "type"); t != nil {
			// 2016: "type" holds the interface and there is no type.
			iface = t
		} else {
			cp.Type = descriptor.Str(m, "type")
		}
		cp.Address = descriptor.Str(iface, "address")
		cp.Netmask = descriptor.Str(iface, "netmask")
		cp.HardwareAddress = descriptor.Str(iface, "hardware_address")
		out = append(out, cp)
	}
	return out
}

// DemandOf returns what a VNFD takes from a VIM: the sum over its VDUs of
// vCPUs and memory in MB (wire-protocol §14.5 L1, L2).
func DemandOf(vnfd descriptor.Doc) (Demand, error) {
	v, err := descriptor.ParseVNFD(vnfd)
	if err != nil {
		return Demand{}, err
	}
	d := v.Demand()
	return Demand{Cores: d.Cores, MemoryMB: d.MemoryMB}, nil
}
