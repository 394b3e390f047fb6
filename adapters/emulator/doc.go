// Package emulator is manoctl's infrastructure adaptor (IA): a stateful
// stand-in for the Java VIM and WIM adaptors of son-sp-infrabstract that
// answers every infrastructure.* topic the MANO plugins use, on any
// bus.Bus. It is the embedded default IA (in process, on adapters/membus)
// and runs as its own process over RabbitMQ (`manoctl emulator`).
//
// On the wire it behaves as the real IA does (wire-protocol §1.7, §8): it
// consumes infrastructure.# and answers each request on the request's
// reply_to, with the request's correlation id, no reply_to, app id
// sonata.kernel.InfrAdaptor, and a body in the encoding the IA uses for
// that reply (JSON status replies, YAML data replies, bus.EncodingFor). It
// ignores messages without app_id and its own (and the WIM adaptor's)
// echoes, and messages without reply_to, which nobody could receive an
// answer to.
//
// Unlike the 2017 mock wrappers (§8.5, §14.7 I4) it keeps state and
// answers every request:
//
//   - VIMs have capacity (from an Inventory, or registered through
//     compute.add). compute.list reports usage, which function.deploy
//     takes (the sum of the VNFD's VDUs, memory in MB) and
//     function.remove and service.remove give back; a deploy that does
//     not fit is refused.
//   - The lifecycle rules of the real IA hold: service.prepare must precede
//     function.deploy on the same VIM, chaining resolves its functions,
//     service.remove of an unknown instance is an error.
//   - The deploy reply carries a VNFR with vnfc_instance entries and fake,
//     well-formed, deterministic addresses.
//
// Topics, requests and replies (status = {request_status, message}):
//
//	compute.list            any                    YAML list of ComputeResources
//	compute.add             JSON VIM keys (§8.3)   JSON {request_status, uuid}
//	compute.remove          JSON {uuid}            JSON {request_status}
//	network.add / .remove   JSON (§8.3)            as compute.add / .remove
//	network.list            any                    YAML list
//	compute.resourceAvailability any               YAML {status: OK}
//	service.prepare         YAML                   JSON status
//	function.deploy         YAML                   YAML DeployReply, or status
//	function.remove         YAML (Aug 2018)        JSON status
//	function.scale          any                    JSON status ERROR (never sent, §14.7 I3)
//	service.chain.configure YAML                   JSON status
//	service.chain.deconfigure JSON                 JSON status
//	service.remove          JSON                   JSON status
//	service.deploy          any                    JSON status ERROR "This function is deprecated"
//	service.wan.configure   YAML                   JSON status (FAILED / fail on errors)
//	service.wan.deconfigure YAML                   JSON status
//	wan.add / .remove / .attach JSON               JSON status
//	wan.list                any                    YAML list of WIMRecord
//
// Other infrastructure topics are answered with an ERROR status (the IA
// stays silent), except infrastructure.monitoring.*, which the IA only
// logs.
//
// Tests and the reconciler read the state through Snapshot and its
// narrower variants, and inject drift with LoseFunction. Runtime knobs
// (Inject, SetLatency, SetLatencyFunc, ClearFaults, Reset) make the
// emulator slow, wrong, silent, garbled, repetitive or late on chosen
// calls, to drive failure-injection tests; none of them blocks the
// delivery loop. A manoctl-specific query topic that exposes Snapshot over
// the bus (for refresh and heal against a separate emulator process) is
// planned and not implemented yet.
package emulator
