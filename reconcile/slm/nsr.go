package slm

import (
	"strconv"
	"strings"

	"github.com/manoctl/manoctl/schema/descriptor"
)

// buildNSR builds the NSR the SLM stores (wire-protocol §10.1) with
// manoctl's correction S12: auto_scale_policy, lifecycle_events and the
// *_depedency lists are copied as the NSD has them, under the schema's
// spellings.
func buildNSR(servID string, nsd descriptor.Doc, funcIDs []string, version int) descriptor.Doc {
	nsr := descriptor.Doc{
		"descriptor_version":   "nsr-schema-01",
		"id":                   servID,
		"status":               "normal operation",
		"version":              strconv.Itoa(version),
		"descriptor_reference": descriptor.Str(nsd, "uuid"),
	}
	nfs := make([]any, 0, len(funcIDs))
	for _, id := range funcIDs {
		nfs = append(nfs, map[string]any{"vnfr_id": id})
	}
	nsr["network_functions"] = nfs
	if vls := descriptor.Maps(nsd, "virtual_links"); len(vls) > 0 {
		out := make([]any, 0, len(vls))
		for _, vl := range vls {
			// Only the full form has these keys; reference-form links
			// (vl_group/vl_name) are copied whole.
			if _, ok := vl["id"]; !ok {
				out = append(out, vl)
				continue
			}
			out = append(out, map[string]any{
				"id":                          vl["id"],
				"connectivity_type":           vl["connectivity_type"],
				"connection_points_reference": vl["connection_points_reference"],
			})
		}
		nsr["virtual_links"] = out
	}
	for _, key := range []string{"forwarding_graphs", "monitoring_parameters", "auto_scale_policy", "lifecycle_events", "vnf_depedency", "services_depedency"} {
		if v, ok := nsd[key]; ok && v != nil {
			nsr[key] = v
		}
	}
	return nsr
}

// withStatus returns a copy of a record with status and version set.
func withStatus(rec descriptor.Doc, status string, version string) descriptor.Doc {
	c := descriptor.Copy(rec)
	c["status"] = status
	if version != "" {
		c["version"] = version
	}
	// Repository-added keys are stripped before every PUT (§4.5 step 9).
	delete(c, "uuid")
	delete(c, "created_at")
	delete(c, "updated_at")
	return c
}

// bumpVersion increments a string version counter ("2" -> "3").
func bumpVersion(v any) string {
	n, err := strconv.Atoi(strings.TrimSpace(descriptor.ToString(v)))
	if err != nil {
		return "1"
	}
	return strconv.Itoa(n + 1)
}

// imageUUID is the SLM's image naming convention for IA prepare (§4.11).
func imageUUID(vnfd *descriptor.VNFD, vduID string) string {
	return vnfd.Vendor + "_" + vnfd.Name + "_" + vnfd.Version + "_" + vduID
}
