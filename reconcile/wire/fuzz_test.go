package wire_test

import (
	"errors"
	"testing"

	"github.com/manoctl/manoctl/reconcile/bus"
	"github.com/manoctl/manoctl/reconcile/sm"
	"github.com/manoctl/manoctl/reconcile/wire"
	"github.com/manoctl/manoctl/schema/descriptor"
)

// decodeTarget is one (topic, payload type) pair a MANO plugin decodes:
// decode runs the same call the handler makes on a received message and
// then touches what the handler reads first.
type decodeTarget struct {
	topic  string
	decode func(m *bus.Message) error
}

// into returns a decode function for payload type T.
func into[T any](use func(*T)) func(*bus.Message) error {
	return func(m *bus.Message) error {
		var v T
		if err := m.Decode(&v); err != nil {
			return err
		}
		if use != nil {
			use(&v)
		}
		return nil
	}
}

func docs(ds ...descriptor.Doc) {
	for _, d := range ds {
		_ = descriptor.IdentityOf(d)
		_ = descriptor.ManagerTypes(d, "function_specific_managers")
		_ = descriptor.ManagerTypes(d, "service_specific_managers")
	}
}

// decodeTargets lists what the SLM, FLM, PM, placement plugin, SMR and the
// specific-manager clients decode, requests and replies alike (handlers in
// reconcile/slm, flm, pm, placeplugin, smr and sm).
var decodeTargets = []decodeTarget{
	// SLM (reconcile/slm): gatekeeper requests.
	{bus.TopicServiceCreate, func(m *bus.Message) error {
		r, err := wire.DecodeCreateRequest(m)
		if err == nil {
			docs(r.NSD)
			docs(r.VNFDs...)
			if r.NSD != nil {
				_, _ = descriptor.ParseNSD(r.NSD)
			}
			_ = r.Map()
		}
		return err
	}},
	{bus.TopicServiceUpdate, func(m *bus.Message) error { _, err := wire.DecodeCreateRequest(m); return err }},
	{bus.TopicServiceTerminate, into(func(r *wire.TerminateRequest) { _ = r.ID() })},
	{bus.TopicServiceScale, into[wire.ScaleRequest](nil)},
	// SLM: replies to its own requests.
	{bus.TopicServicePlace, into(func(r *wire.PlaceReply) { _ = wire.ErrorText(r.Error) })},
	{bus.TopicFunctionDeploy, into(func(r *wire.FunctionDeployReply) { _ = wire.FunctionFailed(r.Status, r.Error) })},
	{bus.TopicFunctionStart, into(func(r *wire.FunctionEventReply) { _ = wire.FunctionFailed(r.Status, r.Error) })},
	{bus.TopicIAServicePrepare, into(func(r *wire.IAStatusReply) { _ = r.OK() })},
	{bus.TopicIAComputeList, into[[]wire.VIMResources](nil)},
	{bus.TopicServiceCreate, into[wire.StatusMessage](nil)},
	// FLM (reconcile/flm).
	{bus.TopicFunctionDeploy, into(func(r *wire.FunctionDeployRequest) { docs(r.VNFD) })},
	{bus.TopicFunctionStart, into(func(r *wire.FunctionEventRequest) { docs(r.VNFD) })},
	{bus.TopicFunctionTerminate, into[wire.FunctionTerminateRequest](nil)},
	{bus.TopicFunctionRemove, into[wire.FunctionRemoveRequest](nil)},
	{bus.TopicIAFunctionDeploy, into(func(r *wire.IADeployReply) { docs(r.VNFR) })},
	// Plugin manager (reconcile/pm) and plugin base (reconcile/plugin).
	{bus.TopicPluginRegister, into[wire.RegisterRequest](nil)},
	{bus.TopicPluginRegister, into(func(r *wire.RegisterReply) { _ = wire.ErrorText(r.Error) })},
	{bus.TopicPluginDeregister, into[wire.DeregisterRequest](nil)},
	{bus.TopicPluginDeregister, into[wire.PMReply](nil)},
	{bus.PluginHeartbeatTopic("u"), into[wire.Heartbeat](nil)},
	{bus.TopicPluginStatus, into[wire.PluginStatus](nil)},
	// Placement plugin (reconcile/placeplugin).
	{bus.TopicServicePlace, into(func(r *wire.PlaceRequest) {
		docs(r.NSD)
		for _, f := range r.Functions {
			docs(f.VNFD)
		}
	})},
	// SMR (reconcile/smr): registry requests are read generically.
	{bus.TopicSMRSSMOnboard, into(func(g *map[string]any) {
		docs(descriptor.AsMap((*g)["NSD"]), descriptor.AsMap((*g)["VNFD"]))
		_ = descriptor.Str(*g, "UUID")
	})},
	{bus.TopicSMRegistration, into[sm.RegistrationRequest](nil)},
	{bus.TopicSMStatus, into[sm.StatusNotice](nil)},
	// Specific-manager clients (reconcile/sm): replies of the registry
	// and of the managers.
	{bus.TopicSMRSSMInstantiate, into(func(r *map[string]sm.SMRResult) {
		for _, x := range *r {
			_, _ = x.OK(), x.ErrorText()
		}
	})},
	{bus.GenericSSMTopic("s"), into[sm.TaskReply](nil)},
	{bus.GenericSSMTopic("s"), into[sm.ConfigureReply](nil)},
	{bus.GenericFSMTopic("f"), into[sm.FSMReply](nil)},
	{bus.MonitorSSMTopic("s"), into[sm.Feedback](nil)},
	{bus.TopicPlacementExecutive, into[sm.PlacementRequest](nil)},
}

// FuzzDecode feeds raw bodies, labelled with a content type, through
// Message.Decode into every payload type the plugins decode, by the wire
// path (Body) and by the in-process path (a generic Payload converted to
// the handler's type). Decoding must fail with an error or succeed, never
// panic, hang or allocate without bound (bodies over bus.MaxBodySize are
// refused). Seeds: testdata/fuzz/FuzzDecode.
//
//	go test -run '^$' -fuzz FuzzDecode -fuzztime 5m ./reconcile/wire
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"NSD": {"vendor": "v", "name": "n", "version": "1", "network_functions": [{"vnf_id": "a", "vnf_vendor": "v", "vnf_name": "x", "vnf_version": "1"}]}, "VNFD0": {"vendor": "v", "name": "x", "version": "1", "virtual_deployment_units": [{"id": "vdu01"}]}, "ingresses": [], "egresses": "[]", "manoctl": {"instance_name": "a", "placement": {"policy": "Priority", "affinity": [["a", "b"]]}}}`,
		"NSD: {vendor: v}\nVNFD1: []\nVNFD10: x\nuser_data: null\n",
		`{"instance_id": "ab", "service_instance_uuid": 1}`,
		`{"service_instance_uuid": "s", "scaling_type": "ADD_VNF", "number_of_instances": "3", "constraints": {"a": 1}}`,
		`{"vnfd": {"function_specific_managers": [{"id": "m", "options": [{"key": "type", "value": "start"}]}]}, "id": 7, "vim_uuid": null}`,
		`{"mapping": {"f": {"vim": "v"}, "g": null}, "error": {"http_code": 500, "message": "x"}}`,
		`{"request_status": "COMPLETED", "message": "", "vnfr": {"virtual_deployment_units": [{"vnfc_instance": [{}]}]}}`,
		`{"name": "son-plugin.x", "version": "1", "description": null}`,
		`{"uuid": "u", "state": "READY"}`,
		`{"nsd": {}, "functions": [{"id": "f", "vnfd": {"virtual_deployment_units": [{"resource_requirements": {"cpu": {"vcpus": 1e400}}}]}, "start": {"trigger": "yes"}}], "topology": [{"core_total": -1, "memory_total": 9223372036854775807}], "nap": {"ingresses": [{"location": 1}]}}`,
		`{"x": {"status": "Instantiated", "uuid": "u", "error": "None"}}`,
		"- a\n- &x [*x]\n",
		"a: &a [*a, *a, *a]\nb: [*a, *a]\n",
		"!!binary aGVsbG8=",
		"{\"a\": 1e999999}",
		"\xef\xbb\xbf{}",
		"",
	} {
		f.Add(uint8(0), s, []byte(s))
	}
	f.Add(uint8(1), bus.ContentTypeYAML, []byte("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"))
	f.Fuzz(func(t *testing.T, pick uint8, contentType string, body []byte) {
		target := decodeTargets[int(pick)%len(decodeTargets)]
		m := &bus.Message{Topic: target.topic, AppID: "fuzz", CorrelationID: "c", ReplyTo: target.topic,
			ContentType: contentType, Body: body}
		err := target.decode(m)
		if len(body) > bus.MaxBodySize && !errors.Is(err, bus.ErrBodyTooLarge) {
			t.Fatalf("body of %d bytes decoded: %v", len(body), err)
		}
		if err != nil && err.Error() == "" {
			t.Fatalf("error without a message")
		}
		// The in-process path: a generic value (what another component
		// may have published) converted to the handler's type.
		var generic any
		if bus.Unmarshal(body, &generic) != nil {
			return
		}
		for _, other := range decodeTargets {
			_ = other.decode(&bus.Message{Topic: other.topic, Payload: generic})
		}
	})
}

// TestDecodeBodyLimit: a body over bus.MaxBodySize is refused before it
// is parsed, on every decode path a handler uses.
func TestDecodeBodyLimit(t *testing.T) {
	big := make([]byte, bus.MaxBodySize+1)
	for i := range big {
		big[i] = ' '
	}
	copy(big, `{"instance_id": "x"}`)
	for _, target := range decodeTargets {
		m := &bus.Message{Topic: target.topic, Body: big}
		if err := target.decode(m); !errors.Is(err, bus.ErrBodyTooLarge) {
			t.Errorf("%s: %v, want ErrBodyTooLarge", target.topic, err)
		}
	}
	if _, err := wire.DecodeCreateRequest(&bus.Message{Topic: bus.TopicServiceCreate, Body: big}); !errors.Is(err, bus.ErrBodyTooLarge) {
		t.Errorf("create request: %v", err)
	}
}
