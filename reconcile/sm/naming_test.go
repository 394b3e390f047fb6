package sm_test

import (
	"testing"

	"github.com/manoctl/manoctl/reconcile/sm"
)

func TestID(t *testing.T) {
	for _, c := range []struct {
		kind                          sm.Kind
		service, function, name, n, w string
	}{
		{sm.KindSSM, "service1", "", "placement", "1", "sonssmservice1placement1"},
		{sm.KindSSM, "service1", "ignored", "dumb", "1", "sonssmservice1dumb1"},
		{sm.KindFSM, "service1", "function1", "dumb", "1", "sonfsmservice1function1dumb1"},
		{sm.KindFSM, "service1", "firewall", "configuration", "1", "sonfsmservice1firewallconfiguration1"},
		{sm.KindFSM, "demo", "iperf", "start", "12", "sonfsmdemoiperfstart12"},
	} {
		if got := sm.ID(c.kind, c.service, c.function, c.name, c.n); got != c.w {
			t.Errorf("ID(%v) = %s, want %s", c, got, c.w)
		}
	}
}

func TestCheckID(t *testing.T) {
	for _, c := range []struct {
		kind sm.Kind
		id   string
		ok   bool
	}{
		{sm.KindSSM, "sonssmservice1dumb1", true},
		{sm.KindFSM, "sonfsmservice1function1dumb1", true},
		{sm.KindSSM, "ssm1", false},                           // the son-schema example's id
		{sm.KindSSM, "sonssmservice1dumb", false},             // no number
		{sm.KindSSM, "sonfsmservice1function1dumb1", false},   // wrong kind
		{sm.KindFSM, "sonssmvcdntask-config-monitor1", false}, // wrong kind
		{sm.KindSSM, "sonssmvcdntask-config-monitor1", true},
	} {
		if err := sm.CheckID(c.kind, c.id); (err == nil) != c.ok {
			t.Errorf("CheckID(%s, %s) = %v", c.kind, c.id, err)
		}
	}
}

func TestCheckRegistration(t *testing.T) {
	fn := "firewall"
	ok := sm.RegistrationRequest{SpecificManagerType: "fsm", ServiceName: "service1", FunctionName: &fn,
		SpecificManagerName: "configuration", SpecificManagerID: "sonfsmservice1firewallconfiguration1", Version: "0.1"}
	if err := sm.CheckRegistration(ok); err != nil {
		t.Fatal(err)
	}
	bad := []func(r *sm.RegistrationRequest){
		func(r *sm.RegistrationRequest) { r.SpecificManagerID = "sonfsmservice1firewallconfiguration" },
		func(r *sm.RegistrationRequest) { r.SpecificManagerID = "sonfsmservice1firewallconfigurationx" },
		func(r *sm.RegistrationRequest) { r.SpecificManagerType = "xsm" },
		func(r *sm.RegistrationRequest) { r.ServiceName = "-service" },
		func(r *sm.RegistrationRequest) { x := "fire wall"; r.FunctionName = &x },
	}
	for i, f := range bad {
		r := ok
		f(&r)
		if err := sm.CheckRegistration(r); err == nil {
			t.Errorf("case %d accepted: %+v", i, r)
		}
	}
	// SSMs: the function name plays no part.
	ssm := sm.RegistrationRequest{SpecificManagerType: "ssm", ServiceName: "service1", FunctionName: nil,
		SpecificManagerName: "dumb", SpecificManagerID: "sonssmservice1dumb1"}
	if err := sm.CheckRegistration(ssm); err != nil {
		t.Error(err)
	}
}
