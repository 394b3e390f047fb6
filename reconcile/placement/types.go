package placement

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/manoctl/manoctl/schema/descriptor"
)

// UnableToPlace is the 2017 gatekeeper string for a failed placement
// (§14.5 L4). The plugin keeps it on the wire; logs and plans show the
// *InfeasibleError text instead.
const UnableToPlace = "Unable to perform placement."

// VIM is one compute VIM as the IA reports it (compute.list, §8.3).
type VIM struct {
	// UUID is the IA's vim_uuid; the mapping's values are UUIDs. Required
	// and unique within a pool.
	UUID string
	// Name (vim_name) and City (vim_city) are for humans; Name and UUID are
	// what Request.Allowed, Blocked and Priority match.
	Name string
	City string
	// Endpoint (vim_endpoint) is an address; its IPv4 part is compared with
	// other endpoints and NAPs for proximity. A URL or host:port is fine.
	Endpoint string
	// CoresTotal and CoresUsed are core_total and core_used. A VIM whose
	// totals are not positive or whose used values are negative (the IA's
	// 0 and -1 for an unreachable PoP) is unusable: it receives nothing and
	// takes no part in the load spread.
	CoresTotal, CoresUsed int
	// MemoryTotalMB and MemoryUsedMB are memory_total and memory_used, in MB
	// as the IA reports them (Nova absolute limits).
	MemoryTotalMB, MemoryUsedMB float64
	// StorageTotalMB and StorageUsedMB are optional: with a total of 0 the
	// VIM reports no storage and storage is not checked on it.
	StorageTotalMB, StorageUsedMB float64
}

// Label is the VIM's name, or its UUID when it has none.
func (v VIM) Label() string {
	if v.Name != "" {
		return v.Name
	}
	return v.UUID
}

// Function is one VNF instance of the request.
type Function struct {
	// ID is the function instance id; the mapping is keyed by it.
	ID string
	// VNFID is the NSD's network_functions vnf_id; affinity, anti-affinity
	// and preferences name functions by it.
	VNFID string
	// VNFD identifies the function's descriptor, for explanations.
	VNFD descriptor.Identity
	// Demand is the sum over all VDUs (descriptor.VNFD.Demand): memory and
	// storage in MB.
	Demand descriptor.Demand
	// VDUs is the number of VDUs, the function's weight in the priority
	// objective (the 2018 model counted VDUs); 0 counts as 1.
	VDUs int
}

// Label names the function in explanations: its vnf_id, else its VNFD
// name, else its ID.
func (f Function) Label() string {
	switch {
	case f.VNFID != "":
		return f.VNFID
	case f.VNFD.Name != "":
		return f.VNFD.Name
	}
	return f.ID
}

// Policy is the operator policy.
type Policy string

// The policies. The zero Policy is LoadBalanced.
const (
	// LoadBalanced minimises the load spread over all VIMs (§5.4 "load
	// balanced").
	LoadBalanced Policy = "load-balanced"
	// FillFirst maximises the load spread, which fills the fullest VIM
	// first (§5.4 "fill first").
	FillFirst Policy = "fill-first"
	// Priority maximises Σ VDUs × VIM priority from Request.Priority (§5.4
	// "priority").
	Priority Policy = "priority"
	// FirstFit is the 2017 algorithm with demand over all VDUs and memory in
	// MB (§5.2, §14.5 L1/L2); it ignores weights and preferences.
	FirstFit Policy = "first-fit"
)

// ParsePolicy accepts the manoctl names and the 2018 spellings ("load
// balanced", "fill first"); "" is LoadBalanced.
func ParsePolicy(s string) (Policy, error) {
	switch p := Policy(s); p {
	case "":
		return LoadBalanced, nil
	case LoadBalanced, FillFirst, Priority, FirstFit:
		return p, nil
	}
	switch strings.ToLower(strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '_' || r == '-' }), "-")) {
	case "", "load-balanced":
		return LoadBalanced, nil
	case "fill-first":
		return FillFirst, nil
	case "priority":
		return Priority, nil
	case "first-fit":
		return FirstFit, nil
	}
	return "", fmt.Errorf("placement: unknown policy %q (want load-balanced, fill-first, priority or first-fit)", s)
}

// Preference objectives, as NSD soft_constraints name them; the 2018 model
// handled both identically and so does manoctl.
const (
	Proximity = "proximity"
	Affinity  = "affinity"
)

// Actors of a preference besides vnf_ids: the service's ingress and egress
// NAPs.
const (
	ActorSource      = "source"
	ActorDestination = "destination"
)

// Preference is a soft constraint of the developer objective (NSD
// soft_constraints, §5.4): keep two actors close. It never makes a
// placement infeasible.
type Preference struct {
	// Objective is Proximity or Affinity.
	Objective string
	// Actors are two vnf_ids, or a vnf_id and ActorSource/ActorDestination.
	Actors [2]string
}

// Weights weigh the operator term (the policy) against the developer term
// (preferences). The zero value means 1 and 1.
type Weights struct {
	Operator, Developer float64
}

// Request is one placement: the functions of one service and the policy
// and constraints to place them by. The VIMs are the Pool's.
type Request struct {
	// Functions in request order; order matters only for ties and
	// first-fit.
	Functions []Function
	// Policy is the operator policy; "" is LoadBalanced, and the 2018
	// spellings ("load balanced", "fill first") are accepted.
	Policy Policy
	// Priority lists VIM names or UUIDs, best first (Policy Priority).
	Priority []string
	// Allowed, if not empty, lists the only VIMs (names or UUIDs) that may
	// receive functions; Blocked lists VIMs that may not (the 2018 customer
	// blacklist matched names, the 2019 one UUIDs: both work).
	Allowed, Blocked []string
	// Affinity pairs of vnf_ids must share a VIM; AntiAffinity pairs must
	// not. A pair naming one vnf_id twice applies to every two functions
	// with that vnf_id. Both are hard constraints.
	Affinity, AntiAffinity [][2]string
	// Preferences are soft; see Preference.
	Preferences []Preference
	// Ingress and Egress are the NAP IPv4 addresses of ActorSource and
	// ActorDestination (nap.ingresses[0].nap, nap.egresses[0].nap).
	// Preferences on an actor whose address is empty are dropped, as in
	// 2018.
	Ingress, Egress string
	// Weights of the two objective terms.
	Weights Weights
	// MaxNodes bounds each search run, in search nodes; 0 means
	// DefaultMaxNodes. The bound is a count, so results never depend on
	// machine speed.
	MaxNodes int
	// Brief keeps only the chosen VIM and the runner-up in each
	// Decision's Candidates, for plan-scale previews. The search is
	// unaffected.
	Brief bool
}

// DefaultMaxNodes is the search budget of each search run when
// Request.MaxNodes is 0: about 0.1 to 0.3 s at worst. It covers
// exhaustive search of 6 functions over 6 VIMs even without any pruning
// (55,986 nodes); SONATA-sized services need tens to hundreds (see the
// package documentation).
const DefaultMaxNodes = 1 << 17

// Score is the objective of one placement of the whole request.
type Score struct {
	// Total is the weighted objective; lower is better.
	Total float64
	// Spread is Σ over pairs of usable VIMs of |load_p − load_q| after the
	// placement (minimised by LoadBalanced, maximised by FillFirst).
	Spread float64
	// Priority is Σ VDUs × VIM priority (maximised by Priority).
	Priority float64
	// Proximity is the sum of the preference rewards, each in [0, 1]
	// (maximised when Weights.Developer > 0).
	Proximity float64
}

// Sub returns s − o, component-wise.
func (s Score) Sub(o Score) Score {
	return Score{Total: s.Total - o.Total, Spread: s.Spread - o.Spread, Priority: s.Priority - o.Priority, Proximity: s.Proximity - o.Proximity}
}

// Result is a successful placement.
type Result struct {
	// Policy is the policy that was applied.
	Policy Policy
	// Mapping maps function IDs to VIM UUIDs: the mano.service.place reply.
	Mapping map[string]string
	// Decisions explain each function, in request order.
	Decisions []Decision
	// Usage lists the VIMs that receive functions, in VIM list order,
	// before and after this placement.
	Usage []VIMUsage
	// Score is the objective of the chosen placement.
	Score Score
	// Exact reports that the search finished: Score is optimal and ties
	// were broken as documented. False means the node budget ran out:
	// either before the optimum was proven (the result is the best found,
	// improved by single moves until none helps) or, rarer, while breaking
	// a tie (the score is optimal; the tie-break may not be the
	// documented one).
	Exact bool
	// Nodes is the number of search nodes visited, for diagnostics.
	Nodes int

	pool    *Pool
	version uint64
}

// Decision explains where one function went and why.
type Decision struct {
	// Function is the function's ID, Label its vnf_id or name.
	Function, Label string
	// VIM is the chosen VIM's UUID.
	VIM string
	// With lists the labels of the functions that hard affinity placed
	// together with this one; they moved as a unit in every comparison.
	With []string
	// Policy and Score are the request's: Score is the score of the whole
	// placement.
	Policy Policy
	Score  Score
	// Candidates has one entry per VIM in VIM list order (only the chosen
	// one and the runner-up with Request.Brief): the chosen VIM, and for
	// each other VIM what moving this function there would give, the other
	// functions staying. Read-only: functions of one group share it.
	Candidates []Candidate
	// Chosen and RunnerUp index Candidates; RunnerUp is -1 when no other
	// VIM is feasible.
	Chosen, RunnerUp int
}

// String summarises the decision for logs and plans, e.g.
// "vnf1 → Aveiro (load spread 1.460); runner-up Athens: load spread 1.540
// (+0.080)".
func (d Decision) String() string {
	if d.Chosen < 0 || d.Chosen >= len(d.Candidates) {
		return d.Label + " → " + d.VIM
	}
	c := d.Candidates[d.Chosen]
	s := d.Label + " → " + c.Name + " (" + c.describe() + ")"
	if len(d.With) > 0 {
		s += " with " + strings.Join(d.With, ", ")
	}
	if d.RunnerUp >= 0 && d.RunnerUp < len(d.Candidates) {
		r := d.Candidates[d.RunnerUp]
		s += "; runner-up " + r.Name + ": " + r.describe()
	} else {
		s += "; no other VIM fits"
	}
	return s
}

// Verdict classifies one VIM for one function.
type Verdict uint8

// Verdicts, from best to worst. Feasible verdicts come first.
const (
	// Chosen: the VIM the function was placed on.
	Chosen Verdict = iota
	// Tie: feasible with the same score; lost the tie-break (later in VIM
	// list order).
	Tie
	// Worse: feasible with a worse score.
	Worse
	// Later: feasible but later in VIM list order (first-fit).
	Later
	// Unusable: the VIM reports no usable capacity.
	Unusable
	// NotAllowed: the VIM is not in Request.Allowed.
	NotAllowed
	// Blocked: the VIM is in Request.Blocked.
	Blocked
	// NoCores, NoMemory, NoStorage: not enough left of that resource.
	NoCores
	NoMemory
	NoStorage
	// AntiAffinity: a function the request keeps apart is on that VIM.
	AntiAffinity
	// Untried: the VIM passes every check, but the search budget ran out
	// before a complete placement using it was found (InfeasibleError with
	// Proven false only).
	Untried
)

var verdictNames = [...]string{
	Chosen: "chosen", Tie: "tie", Worse: "worse", Later: "later",
	Unusable: "unusable", NotAllowed: "not-allowed", Blocked: "blocked",
	NoCores: "no-cores", NoMemory: "no-memory", NoStorage: "no-storage",
	AntiAffinity: "anti-affinity", Untried: "untried",
}

func (v Verdict) String() string {
	if int(v) < len(verdictNames) {
		return verdictNames[v]
	}
	return fmt.Sprintf("Verdict(%d)", uint8(v))
}

// Feasible reports whether the function could be placed on the VIM.
func (v Verdict) Feasible() bool { return v <= Later }

// Candidate is one VIM seen from one function.
type Candidate struct {
	// VIM is the UUID, Name the label of the VIM.
	VIM, Name string
	Verdict   Verdict
	// Score is the score of the whole placement with the function moved
	// here (feasible verdicts), and Delta its difference to the chosen
	// placement's score.
	Score, Delta Score
	// Need and Free quantify NoCores (cores), NoMemory and NoStorage (MB):
	// the function's (or its group's) demand and what is left on the VIM.
	// Taken is the part of the VIM's capacity that earlier placements of
	// this same request already use.
	Need, Free, Taken float64
	// Conflict labels the function that AntiAffinity refers to.
	Conflict string

	policy Policy
}

// Reason says in a few words why the VIM was or was not chosen, e.g.
// "needs 4 cores, 2 free" or "load spread 1.480 (+0.020)".
func (c Candidate) Reason() string {
	switch c.Verdict {
	case Chosen:
		return "chosen: " + c.describe()
	case Tie:
		return "same score (" + c.describe() + "), later in VIM list order"
	case Worse:
		return "worse: " + c.describe()
	case Later:
		return "fits, but later in VIM list order (first-fit)"
	case Unusable:
		return "reports no usable capacity"
	case NotAllowed:
		return "not in the request's allowed VIMs"
	case Blocked:
		return "blocked by the request"
	case NoCores:
		return c.shortage("", "cores")
	case NoMemory:
		return c.shortage(" MB", "memory")
	case NoStorage:
		return c.shortage(" MB", "storage")
	case AntiAffinity:
		return "anti-affinity with " + c.Conflict + ", placed there"
	case Untried:
		return "fits, but the search budget ran out before a placement using it was complete"
	}
	return c.Verdict.String()
}

// shortage renders "needs 4 cores, 2 free" or "needs 4000 MB memory,
// 3900 MB free".
func (c Candidate) shortage(unit, what string) string {
	s := "needs " + num(c.Need) + unit + " " + what + ", " + num(c.Free) + unit + " free"
	if c.Taken > 0 {
		s += " (this request already takes " + num(c.Taken) + unit + ")"
	}
	return s
}

// num formats a quantity without exponent or trailing zeros.
func num(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }

// describe renders the score components that the policy decides by, with
// their difference to the chosen placement.
func (c Candidate) describe() string {
	var b strings.Builder
	delta := func(format string, d float64) {
		if c.Verdict != Chosen {
			fmt.Fprintf(&b, " ("+format+")", d)
		}
	}
	switch c.policy {
	case Priority:
		fmt.Fprintf(&b, "priority %g", c.Score.Priority)
		delta("%+g", c.Delta.Priority)
	case FirstFit:
		b.WriteString("first VIM in list order with room")
	default:
		fmt.Fprintf(&b, "load spread %.3f", c.Score.Spread)
		delta("%+.3f", c.Delta.Spread)
	}
	if c.Score.Proximity != 0 || c.Delta.Proximity != 0 {
		fmt.Fprintf(&b, ", proximity %.2f", c.Score.Proximity)
		delta("%+.2f", c.Delta.Proximity)
	}
	return b.String()
}

// Capacity is a VIM's resources at one point.
type Capacity struct {
	CoresTotal, CoresUsed         int
	MemoryTotalMB, MemoryUsedMB   float64
	StorageTotalMB, StorageUsedMB float64
}

// CoresFree is the cores headroom.
func (c Capacity) CoresFree() int { return c.CoresTotal - c.CoresUsed }

// MemoryFreeMB is the memory headroom.
func (c Capacity) MemoryFreeMB() float64 { return c.MemoryTotalMB - c.MemoryUsedMB }

// StorageFreeMB is the storage headroom (0 when storage is not reported).
func (c Capacity) StorageFreeMB() float64 { return c.StorageTotalMB - c.StorageUsedMB }

// Load is the mean of the core and memory fractions in use.
func (c Capacity) Load() float64 {
	if c.CoresTotal <= 0 || c.MemoryTotalMB <= 0 {
		return 0
	}
	return (float64(c.CoresUsed)/float64(c.CoresTotal) + c.MemoryUsedMB/c.MemoryTotalMB) / 2
}

// VIMUsage is one VIM before and after a placement.
type VIMUsage struct {
	VIM, Name string
	// Functions are the IDs of the functions placed here, in request order.
	Functions     []string
	Before, After Capacity

	delta slot // what Pool.Commit adds, exactly (integral bytes)
}
