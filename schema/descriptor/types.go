package descriptor

import (
	"fmt"
	"sort"
)

// NSD is the typed view of a network service descriptor.
type NSD struct {
	Doc Doc `json:"-" yaml:"-"`
	Identity
	// UUID is the catalogue uuid the gatekeeper adds; "" for plain files.
	UUID             string
	Description      string
	NetworkFunctions []FunctionRef
	ConnectionPoints []ConnectionPoint
	VirtualLinks     []VirtualLink
	ForwardingGraphs []ForwardingGraph
	SSMs             []SpecificManager
}

// FunctionRef is one network_functions entry: a VNF of the service.
type FunctionRef struct {
	VNFID string
	Identity
}

// ConnectionPoint is an NS, VNF or VDU connection point.
type ConnectionPoint struct {
	ID        string
	Interface string
	Type      string
}

// VirtualLink joins connection points.
type VirtualLink struct {
	ID               string
	ConnectivityType string
	References       []string
}

// ForwardingGraph is a full-form forwarding graph.
type ForwardingGraph struct {
	ID    string
	Paths []ForwardingPath
}

// ForwardingPath lists connection points in traversal order.
type ForwardingPath struct {
	ID     string
	Points []PathPoint
}

// PathPoint is one hop of a forwarding path.
type PathPoint struct {
	Ref      string
	Position int
}

// SpecificManager is an SSM or FSM entry of a descriptor.
type SpecificManager struct {
	ID          string
	Image       string
	Description string
	// Options holds the key/value options in order; Type is the value of
	// the option with key "type" ("" when absent: the MANO never starts
	// such a manager, wire-protocol §7.4).
	Options []Option
	Type    string
}

// Option is a key/value option of a specific manager.
type Option struct{ Key, Value string }

// OptionValue returns the value of the option key and whether it is set.
func (m SpecificManager) OptionValue(key string) (string, bool) {
	for _, o := range m.Options {
		if o.Key == key {
			return o.Value, true
		}
	}
	return "", false
}

// VNFD is the typed view of a function descriptor.
type VNFD struct {
	Doc Doc `json:"-" yaml:"-"`
	Identity
	UUID             string
	Description      string
	VDUs             []VDU
	ConnectionPoints []ConnectionPoint
	VirtualLinks     []VirtualLink
	FSMs             []SpecificManager
}

// VDU is a virtual deployment unit with its resource demand normalised:
// memory and storage in MB, the unit the IA reports (wire-protocol §14.5 L1).
type VDU struct {
	ID               string
	VMImage          string
	VMImageFormat    string
	VMImageMD5       string
	VCPUs            int
	MemoryMB         float64
	StorageMB        float64
	ScaleMin         int
	ScaleMax         int // 0: unlimited
	ConnectionPoints []ConnectionPoint
}

// Demand is the resources a VNF needs: the sum over its VDUs (§14.5 L2).
type Demand struct {
	Cores     int
	MemoryMB  float64
	StorageMB float64
}

// Add returns d + o.
func (d Demand) Add(o Demand) Demand {
	return Demand{Cores: d.Cores + o.Cores, MemoryMB: d.MemoryMB + o.MemoryMB, StorageMB: d.StorageMB + o.StorageMB}
}

// Demand sums the VDUs of the VNF, each counted once.
func (v *VNFD) Demand() Demand {
	var d Demand
	for _, u := range v.VDUs {
		d.Cores += u.VCPUs
		d.MemoryMB += u.MemoryMB
		d.StorageMB += u.StorageMB
	}
	return d
}

// ParseNSD reads the typed view of doc.
func ParseNSD(doc Doc) (*NSD, error) {
	if doc == nil {
		return nil, fmt.Errorf("descriptor: NSD is not a mapping")
	}
	n := &NSD{Doc: doc, Identity: IdentityOf(doc), UUID: Str(doc, "uuid"), Description: Str(doc, "description")}
	for _, f := range Maps(doc, "network_functions") {
		n.NetworkFunctions = append(n.NetworkFunctions, FunctionRef{
			VNFID:    Str(f, "vnf_id"),
			Identity: Identity{Vendor: Str(f, "vnf_vendor"), Name: Str(f, "vnf_name"), Version: Str(f, "vnf_version")},
		})
	}
	n.ConnectionPoints = parseCPs(doc)
	n.VirtualLinks = parseLinks(doc)
	for _, g := range Maps(doc, "forwarding_graphs") {
		fg := ForwardingGraph{ID: Str(g, "fg_id")}
		for _, p := range Maps(g, "network_forwarding_paths") {
			fp := ForwardingPath{ID: Str(p, "fp_id")}
			for _, c := range Maps(p, "connection_points") {
				fp.Points = append(fp.Points, PathPoint{Ref: Str(c, "connection_point_ref"), Position: Int(c, "position")})
			}
			fg.Paths = append(fg.Paths, fp)
		}
		n.ForwardingGraphs = append(n.ForwardingGraphs, fg)
	}
	n.SSMs = parseManagers(doc, "service_specific_managers")
	return n, nil
}

// ParseVNFD reads the typed view of doc.
func ParseVNFD(doc Doc) (*VNFD, error) { return parseVNFD(doc, true) }

// ParseVNFDResources reads only what placement and capacity accounting
// need: the identity and the VDUs' resource demands (no connection
// points, links or managers). It is the hot path of every deployment.
func ParseVNFDResources(doc Doc) (*VNFD, error) { return parseVNFD(doc, false) }

func parseVNFD(doc Doc, full bool) (*VNFD, error) {
	if doc == nil {
		return nil, fmt.Errorf("descriptor: VNFD is not a mapping")
	}
	v := &VNFD{Doc: doc, Identity: IdentityOf(doc), UUID: Str(doc, "uuid"), Description: Str(doc, "description")}
	for _, u := range Maps(doc, "virtual_deployment_units") {
		vdu := VDU{
			ID:            Str(u, "id"),
			VMImage:       Str(u, "vm_image"),
			VMImageFormat: Str(u, "vm_image_format"),
			VMImageMD5:    Str(u, "vm_image_md5"),
			ScaleMin:      1,
			ScaleMax:      1,
		}
		rr := Map(u, "resource_requirements")
		vdu.VCPUs = Int(Map(rr, "cpu"), "vcpus")
		if mem := Map(rr, "memory"); mem != nil {
			size, _ := Number(mem, "size")
			mb, err := ToMB(size, Str(mem, "size_unit"))
			if err != nil {
				return nil, fmt.Errorf("descriptor: VNFD %s VDU %s memory: %w", v.Identity, vdu.ID, err)
			}
			vdu.MemoryMB = mb
		}
		if st := Map(rr, "storage"); st != nil {
			size, _ := Number(st, "size")
			mb, err := ToMB(size, Str(st, "size_unit"))
			if err != nil {
				return nil, fmt.Errorf("descriptor: VNFD %s VDU %s storage: %w", v.Identity, vdu.ID, err)
			}
			vdu.StorageMB = mb
		}
		if s := Map(u, "scale_in_out"); s != nil {
			if _, ok := s["minimum"]; ok {
				vdu.ScaleMin = Int(s, "minimum")
			}
			if _, ok := s["maximum"]; ok {
				vdu.ScaleMax = Int(s, "maximum")
			}
		}
		if full {
			vdu.ConnectionPoints = parseCPs(u)
		}
		v.VDUs = append(v.VDUs, vdu)
	}
	if full {
		v.ConnectionPoints = parseCPs(doc)
		v.VirtualLinks = parseLinks(doc)
		v.FSMs = parseManagers(doc, "function_specific_managers")
	}
	return v, nil
}

func parseCPs(doc map[string]any) []ConnectionPoint {
	var out []ConnectionPoint
	for _, c := range Maps(doc, "connection_points") {
		out = append(out, ConnectionPoint{ID: Str(c, "id"), Interface: Str(c, "interface"), Type: Str(c, "type")})
	}
	return out
}

func parseLinks(doc map[string]any) []VirtualLink {
	var out []VirtualLink
	for _, l := range Maps(doc, "virtual_links") {
		vl := VirtualLink{ID: Str(l, "id"), ConnectivityType: Str(l, "connectivity_type")}
		for _, r := range List(l, "connection_points_reference") {
			vl.References = append(vl.References, ToString(r))
		}
		out = append(out, vl)
	}
	return out
}

func parseManagers(doc map[string]any, key string) []SpecificManager {
	var out []SpecificManager
	for _, m := range Maps(doc, key) {
		sm := SpecificManager{ID: Str(m, "id"), Image: Str(m, "image"), Description: Str(m, "description")}
		for _, o := range Maps(m, "options") {
			opt := Option{Key: Str(o, "key"), Value: Str(o, "value")}
			sm.Options = append(sm.Options, opt)
			if opt.Key == "type" && sm.Type == "" {
				sm.Type = opt.Value
			}
		}
		out = append(out, sm)
	}
	return out
}

// ManagerTypes returns the types of the typed specific managers listed
// under key (service_specific_managers or function_specific_managers)
// without parsing the rest of the descriptor.
func ManagerTypes(doc Doc, key string) []string {
	var out []string
	for _, m := range Maps(doc, key) {
		for _, o := range Maps(m, "options") {
			if Str(o, "key") == "type" {
				if t := Str(o, "value"); t != "" {
					out = append(out, t)
				}
				break
			}
		}
	}
	return out
}

// TypedManagers returns the managers that have a type option, keyed by
// type; the MANO only starts those (wire-protocol §4.4, §6.2). When two
// entries share a type the first wins, as in the original's dict.
func TypedManagers(ms []SpecificManager) map[string]SpecificManager {
	out := make(map[string]SpecificManager)
	for _, m := range ms {
		if m.Type == "" {
			continue
		}
		if _, ok := out[m.Type]; !ok {
			out[m.Type] = m
		}
	}
	return out
}

// SortedTypes returns the keys of a TypedManagers map in order.
func SortedTypes(m map[string]SpecificManager) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
