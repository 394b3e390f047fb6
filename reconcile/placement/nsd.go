package placement

import "github.com/manoctl/manoctl/schema/descriptor"

// FunctionOf builds the Function for function instance id of the NSD's
// vnf_id, from its VNFD: the demand is the sum over all VDUs (§14.5 L2),
// with memory and storage in MB (L1).
func FunctionOf(id, vnfID string, vnfd *descriptor.VNFD) Function {
	f := Function{ID: id, VNFID: vnfID}
	if vnfd != nil {
		f.VNFD, f.Demand, f.VDUs = vnfd.Identity, vnfd.Demand(), len(vnfd.VDUs)
	}
	return f
}

// PreferencesOf reads an NSD's soft_constraints (the 2018 developer
// objective, §5.4):
//
//	soft_constraints:
//	  - objective: proximity | affinity
//	    involved_actors: [<vnf_id | source | destination>, <...>]
//
// Entries that do not have exactly two actors are skipped: the 2018 model
// only ever read pairs. Unknown objectives and vnf_ids are left for
// Pool.Place to report.
func PreferencesOf(nsd descriptor.Doc) []Preference {
	var out []Preference
	for _, c := range descriptor.Maps(nsd, "soft_constraints") {
		actors := descriptor.List(c, "involved_actors")
		if len(actors) != 2 {
			continue
		}
		out = append(out, Preference{
			Objective: descriptor.Str(c, "objective"),
			Actors:    [2]string{descriptor.ToString(actors[0]), descriptor.ToString(actors[1])},
		})
	}
	return out
}
