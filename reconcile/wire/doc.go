// Package wire defines the payloads of the SONATA topics as Go types: what
// the gatekeeper, the MANO plugins, the plugin manager and the
// infrastructure adaptor put on the bus (spec/wire-protocol.md §3–§10).
//
// The types are the contract with the Python and Java peers, so field names
// and null/absent behaviour follow the originals exactly: a field the
// original writes as null is an `any` or a pointer without omitempty; a
// field the original leaves out when empty has omitempty. Descriptors and
// records travel as generic documents (descriptor.Doc) so that keys manoctl
// does not model survive the round trip.
//
// On the in-process bus these values are passed as they are; on AMQP they
// are encoded with the codec of reconcile/bus. Every type therefore carries
// both yaml and json tags.
package wire

import (
	"time"
)

// Now is the float timestamp the Python plugins write (time.time()).
func Now() float64 {
	return float64(time.Now().UnixNano()) / 1e9
}
