// Package placement decides on which VIM (PoP) each function of a network
// service runs. It is manoctl's in-house replacement for the 2017 first fit
// and the 2018 ILP of son-mano-placement (wire-protocol §5.2, §5.4), used by
// the placement plugin (mano.service.place) and by `manoctl plan` for its
// placement preview.
//
// The package is pure: no I/O, no bus, no clock, no randomness. The same
// input always gives the same output, explanation included.
//
// # Pipeline
//
// A request flows through fixed stages, in the spirit of Nomad's
// scheduler/feasible/stack.go: cheap filters first, the expensive search
// last, and every stage able to say why it rejected a VIM.
//
//	Request ─► validate ─► group ─► feasibility chain ─► search ─► explain ─► Result
//	                                (per group × VIM)    (B&B)                or *InfeasibleError
//
// The stages:
//
//   - validate: every problem of the request is collected into one
//     *ValidationError (unknown vnf_ids, contradictory affinity, bad
//     numbers).
//   - group: functions joined by hard affinity become one group, placed as
//     a unit (the sum of their demands on one VIM).
//   - feasibility chain (static, once per request): usable capacity report,
//     allowed list, blocked list, capacity of the VIM as the pool knows it
//     (feasible.go). The first stage that rejects a VIM is its explanation.
//   - search: branch and bound over groups (search.go). At each node the
//     dynamic stages run (capacity left after this request's earlier
//     placements, anti-affinity), the objective ranks the children, and a
//     lower bound prunes subtrees that cannot beat the best placement so
//     far. The search is exact: it proves the optimum unless the node
//     budget (Request.MaxNodes, counted, never timed) runs out.
//   - explain: for every function, every VIM is examined again with the
//     other functions where the search put them: chosen, runner-up, worse
//     by how much, or infeasible and why ("Athens: needs 4 cores, 2 free").
//
// # Objective
//
// The score is minimised: Weights.Operator × operator term +
// Weights.Developer × developer term.
//
//   - load-balanced: the operator term is the load spread, the sum over all
//     pairs of usable VIMs of |load_p − load_q|, where a VIM's load is the
//     mean of its core and memory fractions after placement (§5.4). VIMs the
//     request blocks still count: balance is the operator's, over the whole
//     infrastructure.
//   - fill-first: −spread, which piles load onto the fullest VIM that fits.
//   - priority: −Σ weight × priority(VIM); a VIM's priority is len(list) −
//     its index in Request.Priority, 0 when unlisted; a function weighs its
//     number of VDUs, as in the 2018 model.
//   - developer term: −Σ rewards of the preferences (NSD soft_constraints,
//     §5.4). A reward is the number of leading IPv4 octets two addresses
//     share, divided by 4: between two VNFs it compares their VIMs'
//     endpoints (the same VIM counts as 1), between a VNF and
//     source/destination the VIM endpoint and the ingress/egress NAP.
//   - When both terms can vary, each weight is divided by the magnitude of
//     its term's optimum solved alone (the 8908aa7 calibration), so that
//     0.5/0.5 means equal importance, not "whichever term has larger
//     numbers". Zero Weights mean 1 and 1.
//   - first-fit is the 2017 algorithm with the §14.5 L1/L2 corrections: the
//     lexicographically first feasible placement (functions in request
//     order, VIMs in list order). It equals the 2017 result whenever the
//     2017 algorithm succeeds, and backtracks where 2017 gave up. It
//     ignores weights and preferences, not hard constraints.
//
// # Determinism and ties
//
// Scores are compared on a binary grid of 2^-30 (about 1e-9). Binary,
// because loads of power-of-two capacities (8 cores, 16384 MB) are dyadic
// fractions, which sit exactly between the points of a decimal grid, where
// rounding noise of 1e-16 would split equal scores. Among placements with
// the same score, the lexicographically smallest wins, comparing functions
// in request order and VIMs in VIM list order (§14.5 L3: "ties broken by
// vim_uuid list order"). The search never depends on map iteration order.
//
// # Search
//
// Phase 1 finds the optimal score. Children are tried best first, so its
// first leaf is the greedy placement (largest group first, best VIM
// first). Pruning uses forward checking, symmetry breaking (identical VIMs
// and interchangeable functions are tried in one order only) and, for
// load-balanced, the best of three lower bounds on the spread: the
// linearisation at the partial placement, a linearisation at a
// water-filled estimate of the final loads, and a bound that treats each
// function as one lump of load (exact when many VIMs are balanced, where
// both linearisations see a gradient of 0). When another placement may
// tie, phase 2 searches in lexicographic order, up to the phase-1
// placement, for the first one with the optimal score.
//
// Measured on random requests (randomInstance in the tests, 100 seeds per
// size; nodes visited, median / 90th percentile):
//
//	functions × VIMs   load-balanced   fill-first     priority
//	3 × 3              9 / 15          9 / 13         9 / 13
//	5 × 6              74 / 149        105 / 243      35 / 102
//	4 × 50             520 / 996       639 / 1846     181 / 1360
//	8 × 10             3443 / 12908    10941 / 42792  931 / 15211
//
// A node costs about 1 µs at 10 VIMs and 2 µs at 32 (BenchmarkExact8x10,
// BenchmarkPlan10k): 8 functions over 10 VIMs take 2.5 to 20 ms on
// average, a 3 × 3 request about 5 µs with its explanation. Ten functions
// over ten VIMs can exhaust DefaultMaxNodes; the result is then the best found,
// improved by single-function moves until none helps, with Result.Exact
// false. The trade-off: the greedy path plus those moves (the result with
// a budget of one path) matched the optimum in 28% (load-balanced), 48%
// (fill-first) and 37% (priority) of 5-function × 6-VIM requests, with a
// mean score gap of 5%, 2.5% and 9% (TestGreedyQuality). Exact search is
// worth its cost at SONATA sizes.
//
// # Units
//
// Memory and storage are MB on both sides (§14.5 L1): the IA reports MB,
// and descriptor.VNFD.Demand converts VNFD sizes with their size_unit.
// Internally both are integral bytes, so capacity checks are exact. A
// function's demand is the sum of all its VDUs (§14.5 L2), placed on one
// VIM. Storage is checked only on VIMs that report it.
//
// # Incremental use
//
// A Pool holds the capacity state of the VIMs, with what every placement
// would otherwise recompute: loads sorted with prefix sums (the spread
// change of touching k VIMs costs O(k log n), not O(n²)), and classes of
// identical VIMs. Pool.Place reads it without copying; Pool.Commit applies
// a result, refusing a stale one. `manoctl plan` places many services in
// sequence against one pool: Place, Commit, Place, Commit. The one-shot
// Place builds a pool for a single request. Concurrent Pool.Place calls
// are safe; Commit must not run concurrently with anything on its pool.
//
// # Glossary
//
//   - VIM, PoP: a compute site the IA reports (compute.list, §8.3).
//   - function: one VNF instance of the request; its ID keys the mapping.
//   - group: functions that hard affinity binds to one VIM.
//   - load: (cores used/total + memory used/total) / 2 of one VIM.
//   - spread: Σ over VIM pairs of |load_p − load_q|.
//   - runner-up: the best VIM a function could move to, the others staying.
package placement
