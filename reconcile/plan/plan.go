// Package plan computes what must change for the records to match the
// desired state: a pure diff of a desired.State against a snapshot of the
// records (and, when available, a refresh of the infrastructure), with a
// reason for every change, a placement preview for every function that
// will be deployed, and the resulting use of every VIM.
//
// The plan is data. It is stamped with the records' lineage and index and
// with the digests of the manifest and descriptors it was computed from,
// so that apply can refuse a plan the world has moved past. Nothing here
// performs I/O.
package plan

import (
	"fmt"
	"time"
)

// FormatVersion is the version of the plan's JSON form; it changes
// incompatibly only with a new major version.
const FormatVersion = "1.0"

// Action is what a change does to a service.
type Action string

const (
	// Create instantiates a service the records do not have.
	Create Action = "create"
	// Destroy terminates a service the desired state no longer has.
	Destroy Action = "destroy"
	// Update changes a running service in place (service.instances.update):
	// new descriptor content for the same NSD, or new placement wishes.
	Update Action = "update"
	// Scale changes the number of instances of network functions
	// (service.instance.scale).
	Scale Action = "scale"
	// Replace terminates the service and creates it again: what changed
	// cannot be applied in place (another NSD, other ingresses/egresses).
	Replace Action = "replace"
	// Heal is a replace whose reason is the service's health: its last
	// operation failed, or the infrastructure lost functions (drift).
	Heal Action = "heal"
	// NoOp means the service is as desired; it is listed only in detail
	// views.
	NoOp Action = "no-op"
)

// Symbol is the marker the human view shows for the action, in the style
// of `nomad job plan`.
func (a Action) Symbol() string {
	switch a {
	case Create:
		return "+"
	case Destroy:
		return "-"
	case Update, Scale:
		return "~"
	case Replace, Heal:
		return "-/+"
	}
	return " "
}

// Plan is the result of a diff. Fields documented "informational" must not
// be used to decide what apply does; apply acts on Changes only.
type Plan struct {
	FormatVersion string `json:"format_version"`
	// Lineage and Index identify the records snapshot the plan was made
	// against; apply refuses the plan when the records have moved on.
	Lineage string `json:"lineage"`
	Index   uint64 `json:"index"`
	// ManifestPath (informational) and ManifestDigest identify the
	// desired state; DescriptorDigests map vendor.name.version to the
	// content digest of each descriptor the desired services use.
	ManifestPath      string            `json:"manifest_path"`
	ManifestDigest    string            `json:"manifest_digest"`
	DescriptorDigests map[string]string `json:"descriptor_digests"`
	// CreatedAt is informational.
	CreatedAt time.Time `json:"created_at"`
	// Refreshed reports whether the infrastructure was consulted (VIM use
	// and, where the IA can tell, which functions still exist).
	Refreshed bool `json:"refreshed"`

	// Changes in the order apply runs them: destroys (which free
	// capacity) first, then the rest in service-name order.
	Changes []*Change `json:"changes"`
	// Unchanged lists services that need nothing (informational).
	Unchanged []string `json:"unchanged,omitempty"`
	// VIMs shows each VIM's use before and after the plan.
	VIMs []VIMDelta `json:"vims"`
	// Summary counts the changes by action.
	Summary Summary `json:"summary"`
	// Infeasible reports that some change cannot be placed; such a plan is
	// not applyable.
	Infeasible bool `json:"infeasible"`
}

// Summary counts changes by action.
type Summary struct {
	Create  int `json:"create"`
	Destroy int `json:"destroy"`
	Update  int `json:"update"`
	Scale   int `json:"scale"`
	Replace int `json:"replace"`
	Heal    int `json:"heal"`
}

// Summarize counts changes by action.
func Summarize(cs []*Change) Summary {
	var s Summary
	for _, c := range cs {
		switch c.Action {
		case Create:
			s.Create++
		case Destroy:
			s.Destroy++
		case Update:
			s.Update++
		case Scale:
			s.Scale++
		case Replace:
			s.Replace++
		case Heal:
			s.Heal++
		}
	}
	return s
}

// Total is the number of changes.
func (s Summary) Total() int {
	return s.Create + s.Destroy + s.Update + s.Scale + s.Replace + s.Heal
}

// HasChanges reports whether applying the plan would change anything.
func (p *Plan) HasChanges() bool { return len(p.Changes) > 0 }

// Applyable reports whether apply may run the plan.
func (p *Plan) Applyable() bool { return !p.Infeasible }

// Change is one service's change.
type Change struct {
	// Service is the instance name (the manifest key).
	Service string `json:"service"`
	// ServiceID is the running instance a destroy, update, scale, replace
	// or heal acts on; "" for a create.
	ServiceID string `json:"service_id,omitempty"`
	Action    Action `json:"action"`
	// Reasons explain the change, one sentence each, for people.
	Reasons []string `json:"reasons"`
	// NSD before and after ("" when absent).
	Before string `json:"nsd_before,omitempty"`
	After  string `json:"nsd_after,omitempty"`
	// Scale lists instance-count changes per network function.
	Scale []ScaleDelta `json:"scale,omitempty"`
	// Replaced lists the network functions (vnf_ids) whose running
	// instances an update replaces by one new instance each (their VNFD
	// changed) or that it adds.
	Replaced []string `json:"replaced,omitempty"`
	// Placement previews where each function to be deployed would go.
	Placement []FunctionPlacement `json:"placement,omitempty"`
	// Infeasible explains why the change cannot be placed ("" if it can).
	Infeasible string `json:"infeasible,omitempty"`
	// SpecDigest is the desired spec the change applies.
	SpecDigest string `json:"spec_digest,omitempty"`
}

// ScaleDelta is one network function's instance count change.
type ScaleDelta struct {
	VNFID string `json:"vnf_id"`
	From  int    `json:"from"`
	To    int    `json:"to"`
}

// FunctionPlacement previews one function's placement.
type FunctionPlacement struct {
	VNFID    string  `json:"vnf_id"`
	VNFD     string  `json:"vnfd"`
	VIM      string  `json:"vim"`
	VIMUUID  string  `json:"vim_uuid"`
	Why      string  `json:"why"`
	RunnerUp string  `json:"runner_up,omitempty"`
	Cores    int     `json:"cores"`
	MemoryMB float64 `json:"memory_mb"`
}

// VIMDelta is a VIM's use before and after the plan.
type VIMDelta struct {
	Name           string  `json:"name"`
	UUID           string  `json:"uuid"`
	CoresTotal     int     `json:"cores_total"`
	CoresBefore    int     `json:"cores_used_before"`
	CoresAfter     int     `json:"cores_used_after"`
	MemoryTotalMB  float64 `json:"memory_total_mb"`
	MemoryBeforeMB float64 `json:"memory_used_before_mb"`
	MemoryAfterMB  float64 `json:"memory_used_after_mb"`
}

// CoresHeadroom and MemoryHeadroomMB are what is left after the plan.
func (v VIMDelta) CoresHeadroom() int { return v.CoresTotal - v.CoresAfter }

// MemoryHeadroomMB is the memory left after the plan.
func (v VIMDelta) MemoryHeadroomMB() float64 { return v.MemoryTotalMB - v.MemoryAfterMB }

// StaleError is returned by Check when a saved plan no longer fits the
// records or the desired state; the CLI exits 4.
type StaleError struct {
	Reasons []string
}

func (e *StaleError) Error() string {
	msg := "saved plan is stale"
	for i, r := range e.Reasons {
		if i == 0 {
			msg += ": "
		} else {
			msg += "; "
		}
		msg += r
	}
	return msg
}

// Check verifies that a saved plan still applies: same lineage, same
// records index, same manifest and descriptor digests.
func (p *Plan) Check(lineage string, index uint64, manifestDigest string, descriptorDigests map[string]string) error {
	var reasons []string
	// A plan made before the state directory existed has no lineage; it
	// applies to the directory the first apply creates, at index 0.
	if p.Lineage != "" && p.Lineage != lineage {
		reasons = append(reasons, fmt.Sprintf("it was made for state lineage %s, the state directory has lineage %s", p.Lineage, lineage))
	} else if p.Index != index {
		reasons = append(reasons, fmt.Sprintf("the records moved from index %d to %d since the plan was made (another apply ran, or this plan was already applied)", p.Index, index))
	}
	if p.ManifestDigest != manifestDigest {
		reasons = append(reasons, fmt.Sprintf("the manifest %s changed since the plan was made", p.ManifestPath))
	}
	for id, d := range p.DescriptorDigests {
		if now, ok := descriptorDigests[id]; !ok || now != d {
			reasons = append(reasons, fmt.Sprintf("descriptor %s changed since the plan was made", id))
		}
	}
	if len(reasons) > 0 {
		return &StaleError{Reasons: reasons}
	}
	return nil
}
