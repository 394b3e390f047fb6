package sm

import (
	"fmt"
	"regexp"
	"strings"
)

// namePattern is what sonsmbase accepts for service, function and manager
// names; anything else makes the manager exit (§7.3).
var namePattern = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// idPattern is the shape of every 2017 manager id (§7.4):
// son<ssm|fsm><service>[<function>]<name><digits>.
var idPattern = regexp.MustCompile(`^son(ssm|fsm)[a-zA-Z0-9_.-]*?[0-9]+$`)

// ValidName reports whether s is a valid service, function or manager
// name.
func ValidName(s string) bool { return namePattern.MatchString(s) }

// ID computes a manager id as sonsmbase does (§7.4):
//
//	son + kind + service + [function] + name + number
//
// e.g. ID(KindSSM, "service1", "", "placement", "1") is
// sonssmservice1placement1 and ID(KindFSM, "service1", "firewall",
// "configuration", "1") is sonfsmservice1firewallconfiguration1.
func ID(kind Kind, service, function, name, number string) string {
	if kind == KindSSM {
		function = ""
	}
	return "son" + string(kind) + service + function + name + number
}

// CheckID checks that a descriptor's manager id has the 2017 shape for its
// kind. The SMR matches registrations against <id><uuid>, so an id that a
// manager cannot compute would only surface as a registration timeout.
func CheckID(kind Kind, id string) error {
	m := idPattern.FindStringSubmatch(id)
	if m == nil {
		return fmt.Errorf("manager id %q is not of the form son%s<service>%s<name><number>", id, kind, map[Kind]string{KindFSM: "<function>"}[kind])
	}
	if Kind(m[1]) != kind {
		return fmt.Errorf("manager id %q names an %s, but it is declared as an %s", id, m[1], kind)
	}
	return nil
}

// CheckRegistration checks a registration request against the naming rule:
// the names are valid and specific_manager_id is the id they compute, with
// a decimal number (§7.3, §7.4). The error text is what the SMR answers.
func CheckRegistration(r RegistrationRequest) error {
	kind := Kind(r.SpecificManagerType)
	if kind != KindSSM && kind != KindFSM {
		return fmt.Errorf("specific_manager_type must be ssm or fsm, not %q", r.SpecificManagerType)
	}
	fn := ""
	if r.FunctionName != nil {
		fn = *r.FunctionName
	}
	names := []string{r.ServiceName, r.SpecificManagerName}
	if kind == KindFSM {
		names = append(names, fn)
	}
	for _, n := range names {
		if !ValidName(n) {
			return fmt.Errorf("invalid name %q in registration of %s", n, r.SpecificManagerID)
		}
	}
	prefix := ID(kind, r.ServiceName, fn, r.SpecificManagerName, "")
	num, ok := strings.CutPrefix(r.SpecificManagerID, prefix)
	if !ok || num == "" || strings.Trim(num, "0123456789") != "" {
		return fmt.Errorf("specific_manager_id %q is not %s<number>", r.SpecificManagerID, prefix)
	}
	return nil
}
