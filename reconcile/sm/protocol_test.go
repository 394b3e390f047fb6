package sm_test

import (
	"reflect"
	"testing"

	"github.com/manoctl/manoctl/reconcile/bus"
	"github.com/manoctl/manoctl/reconcile/sm"
	"github.com/manoctl/manoctl/schema/descriptor"
)

func TestOK(t *testing.T) {
	for v, want := range map[any]bool{nil: true, "None": true, "": false, "Registration failed": false, 3: false} {
		if sm.OK(v) != want {
			t.Errorf("OK(%#v) = %v", v, !want)
		}
	}
	if (sm.SMRResult{Status: sm.StatusFailed, Error: "None"}).OK() {
		t.Error("a Failed entry with error 'None' is not a success")
	}
	if got := (sm.SMRResult{Status: sm.StatusFailed, Error: "None"}).ErrorText(); got != "specific manager registry answered Failed" {
		t.Error(got)
	}
}

func TestWithOption(t *testing.T) {
	nsd := descriptor.Doc{"name": "x", sm.SSMKey: []any{
		map[string]any{"id": "a", "options": []any{map[string]any{"key": "type", "value": "task"},
			map[string]any{"key": "termination", "value": "false"}}},
		map[string]any{"id": "b"},
	}}
	before := descriptor.Copy(nsd)
	got := sm.WithOption(nsd, sm.SSMKey, sm.OptionTermination, "true")
	if !reflect.DeepEqual(nsd, before) {
		t.Fatal("WithOption modified its input")
	}
	want := []any{
		map[string]any{"id": "a", "options": []any{map[string]any{"key": "type", "value": "task"},
			map[string]any{"key": "termination", "value": "true"}}},
		map[string]any{"id": "b", "options": []any{map[string]any{"key": "termination", "value": "true"}}},
	}
	if !reflect.DeepEqual(got[sm.SSMKey], want) {
		t.Errorf("got %#v", got[sm.SSMKey])
	}
	nsdParsed, err := descriptor.ParseNSD(got)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range nsdParsed.SSMs {
		if v, _ := m.OptionValue(sm.OptionTermination); v != "true" {
			t.Errorf("%s: termination %q", m.ID, v)
		}
	}
}

func TestParseSMRReply(t *testing.T) {
	body := []byte("sonssmservice1dumb1: {status: Instantiated, uuid: u1, error: 'None'}\n" +
		"sonssmservice1placement1: {status: Failed, uuid: 'None', error: Registration failed}\n")
	res, err := sm.ParseSMRReply(&bus.Message{Topic: bus.TopicSMRSSMInstantiate, Body: body})
	if err != nil {
		t.Fatal(err)
	}
	if r := res["sonssmservice1dumb1"]; !r.OK() || r.UUID != "u1" {
		t.Errorf("%+v", r)
	}
	if r := res["sonssmservice1placement1"]; r.OK() || r.ErrorText() != "Registration failed" {
		t.Errorf("%+v", r)
	}
	if _, err := sm.ParseSMRReply(&bus.Message{Body: []byte("{status: Failed, error: NSD not found}")}); err == nil || err.Error() != "NSD not found" {
		t.Errorf("unkeyed: %v", err)
	}
	if _, err := sm.ParseSMRReply(&bus.Message{Body: []byte("sonssmx1: 3")}); err == nil {
		t.Error("non-mapping entry accepted")
	}
	// The literal 'None' must survive the YAML round trip as a string.
	b, err := bus.MarshalYAML(map[string]sm.SMRResult{"sonssmx1": {Status: sm.StatusTerminated, Error: sm.NoError}})
	if err != nil {
		t.Fatal(err)
	}
	res, err = sm.ParseSMRReply(&bus.Message{Body: b})
	if err != nil || res["sonssmx1"].Error != "None" {
		t.Errorf("round trip of %q: %+v %v", b, res, err)
	}
}
