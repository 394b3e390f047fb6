package tui

import "strings"

// viewID names a view.
type viewID int

const (
	viewPlugins viewID = iota
	viewServices
	viewFunctions
	viewOperations
	viewVIMs
	viewTraffic
	numViews
)

// viewNames are the names `:` accepts, canonical name first.
var viewNames = [numViews][]string{
	viewPlugins:    {"plugins", "plugin", "pl", "pm"},
	viewServices:   {"services", "service", "svc", "ns", "nsr"},
	viewFunctions:  {"functions", "function", "fn", "func", "vnf", "vnfr"},
	viewOperations: {"operations", "operation", "ops", "op"},
	viewVIMs:       {"vims", "vim"},
	viewTraffic:    {"traffic", "bus", "tr", "messages", "msgs"},
}

func (v viewID) String() string { return viewNames[v][0] }

func (v viewID) kind() Kind {
	switch v {
	case viewPlugins:
		return KindPlugin
	case viewServices:
		return KindService
	case viewFunctions:
		return KindFunction
	case viewOperations:
		return KindOperation
	case viewVIMs:
		return KindVIM
	}
	return numKinds
}

// commands are the other words `:` accepts.
var commands = []string{"quit", "q", "help"}

// resolveView finds a view by name, alias or unique prefix.
func resolveView(s string) (viewID, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return 0, false
	}
	for v, names := range viewNames {
		for _, n := range names {
			if n == s {
				return viewID(v), true
			}
		}
	}
	found, n := viewID(0), 0
	for v, names := range viewNames {
		for _, name := range names {
			if strings.HasPrefix(name, s) {
				found, n = viewID(v), n+1
				break
			}
		}
	}
	return found, n == 1
}

// complete returns the first canonical view name or command that extends
// s, for the command line's completion.
func complete(s string) string {
	s = strings.ToLower(s)
	if s == "" {
		return ""
	}
	for _, names := range viewNames {
		for _, n := range names {
			if strings.HasPrefix(n, s) {
				return n
			}
		}
	}
	for _, c := range commands {
		if strings.HasPrefix(c, s) {
			return c
		}
	}
	return ""
}

// keyHint is one key shown in the bottom bar and in the help.
type keyHint struct{ key, what string }

var globalKeys = []keyHint{
	{":", "switch view (:svc, :pl, :fn, :ops, :vim, :bus; tab completes)"},
	{"/", "filter rows (/!text inverts)"},
	{"enter", "details"},
	{"esc", "back: close pane, clear filter, previous view"},
	{"j/k ↑/↓", "move"},
	{"pgup/pgdn", "page"},
	{"g/G", "first/last row"},
	{"?", "help"},
	{"q", "quit"},
}

// viewKeys are the keys of one view.
func viewKeys(v viewID, readOnly bool) []keyHint {
	switch v {
	case viewServices:
		if readOnly {
			return []keyHint{{"p", "plan"}}
		}
		return []keyHint{{"p", "plan"}, {"a", "apply"}, {"d", "destroy"}}
	case viewPlugins:
		if readOnly {
			return nil
		}
		return []keyHint{{"s", "start"}, {"p", "pause"}, {"x", "stop"}}
	case viewTraffic:
		return []keyHint{{"space", "pause"}, {"c", "clear"}}
	}
	return nil
}
