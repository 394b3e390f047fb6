package schema

import (
	"strings"

	"gopkg.in/yaml.v3"
)

// Keys that only one kind has at its root (son-schema v3.0).
var (
	pdKeys = []string{"package_content", "entry_service_template", "package_resolvers",
		"package_dependencies", "artifact_dependencies", "maintainer", "sealed", "md5", "signature", "schema"}
	vnfdKeys = []string{"virtual_deployment_units", "function_specific_managers", "deployment_flavours", "monitoring_rules"}
	nsdKeys  = []string{"network_functions", "service_specific_managers", "network_services", "forwarding_graphs",
		"vnf_depedency", "services_depedency", "auto_scale_policy"}
	vnfrKeys = []string{"virtual_deployment_units", "parent_ns", "vnf_address", "deployment_favour", "deployment_flavour"}
)

// DetectKind tells what a document is from its content: the keys at its
// root and the descriptor_version convention ("vnfd-schema-01",
// "nsr-schema-01"), never the file name. Records have no vendor and carry
// a status or an id; a document with only the identity fields is the
// simplest NSD. tng is the descriptor_schema of a 5GTANGO document
// ("" otherwise), which is not son-schema v3.0 at all.
func DetectKind(root *yaml.Node) (kind Kind, tng string) {
	m := root
	if m.Kind == yaml.DocumentNode && len(m.Content) > 0 {
		m = m.Content[0]
	}
	m = deref(m)
	if m.Kind != yaml.MappingNode {
		return KindUnknown, ""
	}
	keys := make(map[string]string, len(m.Content)/2)
	for i := 0; i+1 < len(m.Content); i += 2 {
		v := deref(m.Content[i+1])
		val := ""
		if v.Kind == yaml.ScalarNode {
			val = v.Value
		}
		keys[m.Content[i].Value] = val
	}
	has := func(names ...string) bool {
		for _, k := range names {
			if _, ok := keys[k]; ok {
				return true
			}
		}
		return false
	}
	if ds, ok := keys["descriptor_schema"]; ok && !has("descriptor_version") {
		if ds == "" {
			ds = "(not a string)"
		}
		return KindUnknown, ds
	}
	hint := KindUnknown
	dv := strings.ToLower(keys["descriptor_version"])
	for _, k := range []Kind{KindNSR, KindVNFR, KindVNFD, KindNSD, KindPD} {
		if strings.HasPrefix(dv, string(k)+"-schema") {
			hint = k
			break
		}
	}
	record := hint == KindNSR || hint == KindVNFR ||
		(!has("vendor", "name") && has("status", "id", "parent_ns", "descriptor_reference"))
	if record {
		if hint == KindVNFR || (hint != KindNSR && has(vnfrKeys...)) {
			return KindVNFR, ""
		}
		return KindNSR, ""
	}
	count := func(names []string) int {
		n := 0
		for _, k := range names {
			if _, ok := keys[k]; ok {
				n++
			}
		}
		return n
	}
	// The licence spelling differs by kind (licences in the NSD, licenses
	// in the VNFD) and is the weakest signal: it only breaks ties.
	nsd, vnfd := 2*count(nsdKeys), 2*count(vnfdKeys)
	if has("licences") {
		nsd++
	}
	if has("licenses") {
		vnfd++
	}
	switch {
	case hint == KindPD || has(pdKeys...):
		return KindPD, ""
	case hint == KindVNFD || (hint != KindNSD && vnfd > nsd):
		return KindVNFD, ""
	case hint == KindNSD || nsd > 0 || has("descriptor_version", "vendor", "name", "version", "connection_points", "virtual_links"):
		return KindNSD, ""
	}
	return KindUnknown, ""
}

// ParseKind reads a --kind value.
func ParseKind(s string) (Kind, bool) {
	for _, k := range Kinds {
		if strings.EqualFold(s, string(k)) {
			return k, true
		}
	}
	return KindUnknown, false
}
