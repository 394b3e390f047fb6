package wire

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/manoctl/manoctl/reconcile/bus"
	"github.com/manoctl/manoctl/schema/descriptor"
)

// NAP is a network attachment point of a service: where traffic enters
// (ingress) or leaves (egress).
type NAP struct {
	Location string `yaml:"location" json:"location"`
	NAP      string `yaml:"nap" json:"nap"`
}

// CreateRequest is the body of service.instances.create (§4.4, §9.2): the
// NSD, one VNFD<i> key per network function, ingresses and egresses. The
// gatekeeper keys VNFDs VNFD0..n-1; the SLM accepts any key starting with
// VNFD.
//
// Manoctl is manoctl's own optional extension; Python SLMs ignore unknown
// keys, as they ignore the gatekeeper's user_data.
type CreateRequest struct {
	NSD       descriptor.Doc
	VNFDs     []descriptor.Doc // in key order: VNFD0, VNFD1, ...
	VNFDKeys  []string
	Ingresses []NAP
	Egresses  []NAP
	UserData  map[string]any
	Manoctl   *CreateOptions
	// Extra holds any other top-level keys, kept for forwarding.
	Extra map[string]any
}

// CreateOptions is the manoctl extension of a create request.
type CreateOptions struct {
	// InstanceName is the desired-state name of the service (the key of
	// the plan's diff).
	InstanceName string `yaml:"instance_name,omitempty" json:"instance_name,omitempty"`
	// Placement carries the placement wishes of the manifest.
	Placement *PlacementSpec `yaml:"placement,omitempty" json:"placement,omitempty"`
	// SpecDigest identifies the desired-state entry the service was
	// created from, so a later plan can tell whether it changed.
	SpecDigest string `yaml:"spec_digest,omitempty" json:"spec_digest,omitempty"`
}

// PlacementSpec is a service's placement wish.
type PlacementSpec struct {
	Policy       string      `yaml:"policy,omitempty" json:"policy,omitempty"`
	Priority     []string    `yaml:"priority,omitempty" json:"priority,omitempty"`
	AllowedVIMs  []string    `yaml:"allowed_vims,omitempty" json:"allowed_vims,omitempty"`
	BlockedVIMs  []string    `yaml:"blocked_vims,omitempty" json:"blocked_vims,omitempty"`
	Affinity     [][2]string `yaml:"affinity,omitempty" json:"affinity,omitempty"`
	AntiAffinity [][2]string `yaml:"anti_affinity,omitempty" json:"anti_affinity,omitempty"`
}

// MarshalYAML writes the request as the gatekeeper does.
func (r CreateRequest) MarshalYAML() (any, error) { return r.toMap(), nil }

// MarshalJSON is needed for the generic conversion path.
func (r CreateRequest) toMap() map[string]any {
	m := make(map[string]any, len(r.VNFDs)+6)
	for k, v := range r.Extra {
		m[k] = v
	}
	m["NSD"] = r.NSD
	for i, v := range r.VNFDs {
		key := "VNFD" + strconv.Itoa(i)
		if i < len(r.VNFDKeys) && r.VNFDKeys[i] != "" {
			key = r.VNFDKeys[i]
		}
		m[key] = v
	}
	m["ingresses"] = napsOrNil(r.Ingresses)
	m["egresses"] = napsOrNil(r.Egresses)
	if r.UserData != nil {
		m["user_data"] = r.UserData
	}
	if r.Manoctl != nil {
		m["manoctl"] = r.Manoctl.Map()
	}
	return m
}

// Map returns the options as a generic mapping, as they travel inside the
// request's generic form.
func (o *CreateOptions) Map() map[string]any {
	m := map[string]any{}
	if o.InstanceName != "" {
		m["instance_name"] = o.InstanceName
	}
	if o.SpecDigest != "" {
		m["spec_digest"] = o.SpecDigest
	}
	if p := o.Placement; p != nil {
		pm := map[string]any{}
		if p.Policy != "" {
			pm["policy"] = p.Policy
		}
		for k, l := range map[string][]string{"priority": p.Priority, "allowed_vims": p.AllowedVIMs, "blocked_vims": p.BlockedVIMs} {
			if len(l) > 0 {
				pm[k] = toAnyList(l)
			}
		}
		for k, pairs := range map[string][][2]string{"affinity": p.Affinity, "anti_affinity": p.AntiAffinity} {
			if len(pairs) > 0 {
				out := make([]any, len(pairs))
				for i, pr := range pairs {
					out[i] = []any{pr[0], pr[1]}
				}
				pm[k] = out
			}
		}
		m["placement"] = pm
	}
	return m
}

func toAnyList(l []string) []any {
	out := make([]any, len(l))
	for i, s := range l {
		out[i] = s
	}
	return out
}

// Map returns the request as the generic mapping that goes on the wire.
func (r CreateRequest) Map() map[string]any { return r.toMap() }

func napsOrNil(n []NAP) any {
	if n == nil {
		return []any{}
	}
	out := make([]any, len(n))
	for i, x := range n {
		out[i] = map[string]any{"location": x.Location, "nap": x.NAP}
	}
	return out
}

// ParseCreateRequest reads a create request from its generic form, with the
// SLM's validation of §4.4 step 1 left to the caller: it only reports what
// is structurally unreadable.
func ParseCreateRequest(m map[string]any) (*CreateRequest, error) {
	if m == nil {
		return nil, fmt.Errorf("payload is not a dict")
	}
	r := &CreateRequest{Extra: map[string]any{}}
	var keys []string
	for k, v := range m {
		switch {
		case k == "NSD":
			r.NSD = descriptor.AsMap(v)
		case strings.HasPrefix(k, "VNFD"):
			keys = append(keys, k)
		case k == "ingresses":
			r.Ingresses = parseNAPs(v)
		case k == "egresses":
			r.Egresses = parseNAPs(v)
		case k == "user_data":
			r.UserData = descriptor.AsMap(v)
		case k == "manoctl":
			opts, err := parseCreateOptions(v)
			if err != nil {
				return nil, err
			}
			r.Manoctl = opts
		default:
			r.Extra[k] = v
		}
	}
	// VNFD0..VNFD9, VNFD10...: order by the number when there is one.
	sort.Slice(keys, func(i, j int) bool { return vnfdKeyLess(keys[i], keys[j]) })
	for _, k := range keys {
		r.VNFDKeys = append(r.VNFDKeys, k)
		r.VNFDs = append(r.VNFDs, descriptor.AsMap(m[k]))
	}
	return r, nil
}

func vnfdKeyLess(a, b string) bool {
	na, ea := strconv.Atoi(strings.TrimPrefix(a, "VNFD"))
	nb, eb := strconv.Atoi(strings.TrimPrefix(b, "VNFD"))
	if ea == nil && eb == nil {
		return na < nb
	}
	return a < b
}

func parseNAPs(v any) []NAP {
	// null, empty and the string '[]' count as absent (§4.4).
	l, ok := v.([]any)
	if !ok {
		return nil
	}
	var out []NAP
	for _, e := range l {
		m := descriptor.AsMap(e)
		if m == nil {
			continue
		}
		out = append(out, NAP{Location: descriptor.Str(m, "location"), NAP: descriptor.Str(m, "nap")})
	}
	return out
}

func parseCreateOptions(v any) (*CreateOptions, error) {
	switch o := v.(type) {
	case *CreateOptions:
		return o, nil
	case CreateOptions:
		return &o, nil
	}
	m := descriptor.AsMap(v)
	if m == nil {
		return nil, fmt.Errorf("manoctl: not a mapping")
	}
	o := &CreateOptions{InstanceName: descriptor.Str(m, "instance_name"), SpecDigest: descriptor.Str(m, "spec_digest")}
	if p := descriptor.AsMap(m["placement"]); p != nil {
		o.Placement = &PlacementSpec{
			Policy:      descriptor.Str(p, "policy"),
			Priority:    strings_(p["priority"]),
			AllowedVIMs: strings_(p["allowed_vims"]),
			BlockedVIMs: strings_(p["blocked_vims"]),
		}
		o.Placement.Affinity = pairs(p["affinity"])
		o.Placement.AntiAffinity = pairs(p["anti_affinity"])
	}
	return o, nil
}

func strings_(v any) []string {
	l, _ := v.([]any)
	var out []string
	for _, e := range l {
		out = append(out, descriptor.ToString(e))
	}
	if out == nil {
		if s, ok := v.([]string); ok {
			return s
		}
	}
	return out
}

func pairs(v any) [][2]string {
	if p, ok := v.([][2]string); ok {
		return p
	}
	l, _ := v.([]any)
	var out [][2]string
	for _, e := range l {
		s := strings_(e)
		if len(s) == 2 {
			out = append(out, [2]string{s[0], s[1]})
		}
	}
	return out
}

// TerminateRequest is the body of service.instance.terminate (§4.5, §9.3).
// The gatekeeper repeats the create structure; only instance_id is used.
// service_instance_uuid is the 2019 spelling, accepted too.
type TerminateRequest struct {
	InstanceID          string `yaml:"instance_id,omitempty" json:"instance_id,omitempty"`
	ServiceInstanceUUID string `yaml:"service_instance_uuid,omitempty" json:"service_instance_uuid,omitempty"`
}

// ID returns the instance to terminate, whichever key carried it.
func (t TerminateRequest) ID() string {
	if t.InstanceID != "" {
		return t.InstanceID
	}
	return t.ServiceInstanceUUID
}

// StatusMessage is what the SLM tells the requester of a workflow (§4.10):
// a stream of {status, error, timestamp} ending in READY (with nsr and
// vnfrs after a create) or ERROR.
type StatusMessage struct {
	Status    string  `yaml:"status" json:"status"`
	Error     any     `yaml:"error" json:"error"`
	Timestamp float64 `yaml:"timestamp" json:"timestamp"`
	// NSR and VNFRs come with the final READY of an instantiation.
	NSR   descriptor.Doc   `yaml:"nsr,omitempty" json:"nsr,omitempty"`
	VNFRs []descriptor.Doc `yaml:"vnfrs,omitempty" json:"vnfrs,omitempty"`
	// ScalingType echoes a scale request in its first reply (2019, §12).
	ScalingType string `yaml:"scaling_type,omitempty" json:"scaling_type,omitempty"`
}

// ErrorText renders the error field, which the originals send as a string
// or as {http_code, message}.
func ErrorText(e any) string {
	switch x := e.(type) {
	case nil:
		return ""
	case string:
		return x
	case map[string]any:
		if msg, ok := x["message"]; ok {
			return descriptor.ToString(msg)
		}
	}
	return fmt.Sprint(e)
}

// ScaleRequest is the body of service.instance.scale (2019 vocabulary,
// §12): add or remove instances of one VNF of a running service.
type ScaleRequest struct {
	ServiceInstanceUUID string `yaml:"service_instance_uuid" json:"service_instance_uuid"`
	ScalingType         string `yaml:"scaling_type" json:"scaling_type"`
	VNFDUUID            string `yaml:"vnfd_uuid,omitempty" json:"vnfd_uuid,omitempty"`
	// VNFID names the network function (NSD vnf_id) to scale out;
	// VNFUUID the function instance to remove when scaling in.
	VNFID             string            `yaml:"vnf_id,omitempty" json:"vnf_id,omitempty"`
	VNFUUID           string            `yaml:"vnf_uuid,omitempty" json:"vnf_uuid,omitempty"`
	NumberOfInstances int               `yaml:"number_of_instances,omitempty" json:"number_of_instances,omitempty"`
	Constraints       map[string]string `yaml:"constraints,omitempty" json:"constraints,omitempty"`
	// Manoctl is manoctl's extension: the desired-state spec digest the
	// service has once the scaling succeeds.
	Manoctl *CreateOptions `yaml:"manoctl,omitempty" json:"manoctl,omitempty"`
}

// UpdateRequest is the body of service.instances.update: a new NSD (and
// VNFDs) for a running instance. Sep-2017 gatekeepers spell the id
// Instance_id; later ones add instance_id (§9.3).
type UpdateRequest struct {
	InstanceID  string
	InstanceID2 string
	NSD         descriptor.Doc
	VNFDs       []descriptor.Doc
}

// MarshalJSON writes the request as the gatekeeper's generic mapping.
func (r CreateRequest) MarshalJSON() ([]byte, error) { return json.Marshal(r.toMap()) }

// DecodeCreateRequest reads a create request from a message, without a
// conversion when the sender published a CreateRequest in-process.
func DecodeCreateRequest(m *bus.Message) (*CreateRequest, error) {
	switch p := m.Payload.(type) {
	case CreateRequest:
		return &p, nil
	case *CreateRequest:
		return p, nil
	}
	var generic any
	if err := m.Decode(&generic); err != nil {
		return nil, err
	}
	mm := descriptor.AsMap(generic)
	if mm == nil {
		return nil, fmt.Errorf("payload is not a dict")
	}
	return ParseCreateRequest(mm)
}
