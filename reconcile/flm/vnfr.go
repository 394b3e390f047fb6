package flm

import (
	"strings"

	"github.com/manoctl/manoctl/schema/descriptor"
)

// BuildVNFR builds the VNFR the FLM reports from the IA's deploy reply and
// the VNFD (wire-protocol §6.3): identity and status from the IA, version
// "1", per-VDU resource requirements and monitoring parameters from the
// VNFD VDU whose id is contained in vdu_reference, vnfc instances always
// present, virtual links and lifecycle events from the VNFD. Connection
// points are written in the Sep-2017 IA form whichever form the IA used
// (§14.7 I5).
func BuildVNFR(ia, vnfd descriptor.Doc) descriptor.Doc {
	vnfr := descriptor.Doc{
		"descriptor_version":   ia["descriptor_version"],
		"id":                   ia["id"],
		"status":               ia["status"],
		"descriptor_reference": ia["descriptor_reference"],
		"version":              "1",
	}
	if v, ok := ia["deployment_flavour"]; ok {
		vnfr["deployment_flavour"] = v
	}
	vdus := []any{}
	for _, u := range descriptor.Maps(ia, "virtual_deployment_units") {
		ref := descriptor.Str(u, "vdu_reference")
		src := matchVDU(vnfd, ref, descriptor.Str(u, "id"))
		out := map[string]any{"id": u["id"]}
		if src != nil {
			if rr, ok := src["resource_requirements"]; ok {
				out["resource_requirements"] = rr
			}
			if mp, ok := src["monitoring_parameters"]; ok {
				out["monitoring_parameters"] = mp
			}
		}
		for _, k := range []string{"vm_image", "vdu_reference", "number_of_instances"} {
			if v, ok := u[k]; ok && v != nil {
				out[k] = v
			}
		}
		vnfcs := []any{}
		for _, c := range descriptor.Maps(u, "vnfc_instance") {
			cps := []any{}
			for _, cp := range descriptor.Maps(c, "connection_points") {
				cps = append(cps, normaliseCP(cp, vduCPType(src, descriptor.Str(cp, "id"))))
			}
			vnfcs = append(vnfcs, map[string]any{"id": c["id"], "vim_id": c["vim_id"], "vc_id": c["vc_id"], "connection_points": cps})
		}
		out["vnfc_instance"] = vnfcs
		vdus = append(vdus, out)
	}
	vnfr["virtual_deployment_units"] = vdus
	if cps := descriptor.Maps(ia, "connection_points"); cps != nil {
		out := make([]any, 0, len(cps))
		for _, cp := range cps {
			out = append(out, normaliseCP(cp, vnfCPType(vnfd, descriptor.Str(cp, "id"))))
		}
		vnfr["connection_points"] = out
	}
	for _, k := range []string{"virtual_links", "lifecycle_events"} {
		if v, ok := vnfd[k]; ok && v != nil {
			vnfr[k] = v
		}
	}
	return vnfr
}

func matchVDU(vnfd descriptor.Doc, ref, id string) map[string]any {
	for _, v := range descriptor.Maps(vnfd, "virtual_deployment_units") {
		vid := descriptor.Str(v, "id")
		if vid != "" && (vid == id || strings.Contains(ref, vid)) {
			return v
		}
	}
	return nil
}

// normaliseCP returns a connection point in the Sep-2017 IA form
// {id, type, interface: {address, ...}}. The 2016 form carries the address
// map in type; its cp type is then taken from the descriptor.
func normaliseCP(cp map[string]any, descType string) map[string]any {
	if addr := descriptor.AsMap(cp["type"]); addr != nil {
		t := descType
		if t == "" {
			t = "internal"
		}
		return map[string]any{"id": cp["id"], "type": t, "interface": addr}
	}
	return cp
}

func vduCPType(vdu map[string]any, id string) string {
	for _, cp := range descriptor.Maps(vdu, "connection_points") {
		if descriptor.Str(cp, "id") == id {
			return descriptor.Str(cp, "type")
		}
	}
	return ""
}

func vnfCPType(vnfd descriptor.Doc, id string) string {
	return vduCPType(vnfd, id)
}
