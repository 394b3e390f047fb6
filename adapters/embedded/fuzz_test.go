package embedded_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/manoctl/manoctl/adapters/embedded"
	"github.com/manoctl/manoctl/adapters/emulator"
	"github.com/manoctl/manoctl/adapters/membus"
	"github.com/manoctl/manoctl/adapters/smruntime"
	"github.com/manoctl/manoctl/reconcile/bus"
	"github.com/manoctl/manoctl/reconcile/mano"
	"github.com/manoctl/manoctl/reconcile/slm"
)

// fuzzTopics are the topics the MANO plugins and the IA emulator consume:
// the SLM's gatekeeper topics, the FLM's, the plugin manager's, the
// placement plugin's and executive's, the specific manager registry's and
// the emulator's. A fuzz input picks one by index.
var fuzzTopics = []string{
	bus.TopicServiceCreate, bus.TopicServiceTerminate, bus.TopicServiceUpdate, bus.TopicServiceScale,
	bus.TopicServicePause, bus.TopicServiceRestart,
	bus.TopicFunctionDeploy, bus.TopicFunctionStart, bus.TopicFunctionStop, bus.TopicFunctionConfigure,
	bus.TopicFunctionScale, bus.TopicFunctionTerminate, bus.TopicFunctionRemove,
	bus.TopicPluginRegister, bus.TopicPluginDeregister, "heartbeat", // a registered plugin's heartbeat topic
	bus.TopicServicePlace, bus.TopicPlacementExecutive,
	bus.TopicSMRSSMOnboard, bus.TopicSMRSSMInstantiate, bus.TopicSMRSSMUpdate, bus.TopicSMRSSMTerminate,
	bus.TopicSMRFSMOnboard, bus.TopicSMRFSMInstantiate, bus.TopicSMRFSMUpdate, bus.TopicSMRFSMTerminate,
	bus.TopicMonitoring,
	bus.TopicIAComputeList, bus.TopicIAResourceAvailability, bus.TopicIAComputeAdd, bus.TopicIAComputeRemove,
	bus.TopicIAServicePrepare, bus.TopicIAFunctionDeploy, bus.TopicIAFunctionRemove, bus.TopicIAFunctionScale,
	bus.TopicIAChainConfigure, bus.TopicIAChainDeconfigure, bus.TopicIAServiceRemove,
	bus.TopicIAWanConfigure, bus.TopicIAWanDeconfigure, bus.TopicIAWanList, emulator.StateTopic,
}

// panicLog records handler panics, which the transports recover and log
// ("membus: handler panic") so that one bad message cannot kill a
// subscription; for the fuzz target they are failures all the same.
type panicLog struct {
	mu     sync.Mutex
	panics []string
}

func (l *panicLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *panicLog) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *panicLog) WithGroup(string) slog.Handler            { return l }
func (l *panicLog) Handle(_ context.Context, r slog.Record) error {
	if !strings.Contains(r.Message, "panic") {
		return nil
	}
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	l.mu.Lock()
	l.panics = append(l.panics, b.String())
	l.mu.Unlock()
	return nil
}

func (l *panicLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	p := l.panics
	l.panics = nil
	return p
}

// fuzzPlatform is the whole embedded platform with the specific-manager
// plugins, short timeouts, and a tap on the default vhost that tells when
// the bus has gone quiet.
type fuzzPlatform struct {
	broker    *membus.Broker
	mano      *mano.Platform
	panics    *panicLog
	heartbeat string

	mu    sync.Mutex
	last  time.Time
	count int
}

var (
	fuzzOnce sync.Once
	fuzzP    *fuzzPlatform
	fuzzErr  error
)

// sharedFuzzPlatform starts the platform once per process: fuzz workers
// are processes, and starting it per input would drown the target.
func sharedFuzzPlatform() (*fuzzPlatform, error) {
	fuzzOnce.Do(func() { fuzzP, fuzzErr = startFuzzPlatform() })
	return fuzzP, fuzzErr
}

func startFuzzPlatform() (*fuzzPlatform, error) {
	ctx := context.Background()
	p := &fuzzPlatform{panics: &panicLog{}, last: time.Now()}
	log := slog.New(p.panics)
	p.broker = membus.New(membus.WithLogger(log))
	timeouts := func(string) time.Duration { return 300 * time.Millisecond }
	ia, err := emulator.New(inventory(), emulator.WithLogger(log))
	if err != nil {
		return nil, err
	}
	if err := ia.Start(ctx, p.broker.Default()); err != nil {
		return nil, err
	}
	stack := smruntime.NewStack(smruntime.StackConfig{
		Default: p.broker.Default(), Connector: p.broker, Vhosts: smruntime.MembusVhosts{Broker: p.broker},
		Runtime: smruntime.NewInProcess(nil, log), BrokerURL: smruntime.MembusURL,
		RegistrationTimeout: 300 * time.Millisecond, Timeouts: timeouts, Logger: log,
	})
	cfg := mano.Config{Placer: embedded.DefaultPlacer(), Records: slm.NewMemRecords(), Timeouts: timeouts,
		Logger: log, Register: true, HeartbeatInterval: time.Hour}
	stack.Configure(&cfg)
	if p.mano, err = mano.Start(ctx, p.broker.Default(), cfg); err != nil {
		return nil, err
	}
	if bases := p.mano.Plugins(); len(bases) > 0 {
		p.heartbeat = bus.PluginHeartbeatTopic(bases[0].UUID())
	}
	if _, err := p.broker.Default().Subscribe(ctx, "#", func(context.Context, *bus.Message) {
		p.mu.Lock()
		p.last = time.Now()
		p.count++
		p.mu.Unlock()
	}); err != nil {
		return nil, err
	}
	return p, nil
}

// settle waits until no workflow runs and the bus has been quiet for a
// moment, so that what an input set off is over before the next one.
// It reports false if that takes longer than any input may take.
func (p *fuzzPlatform) settle() bool {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		p.mu.Lock()
		quiet := time.Since(p.last) > 3*time.Millisecond
		p.mu.Unlock()
		if quiet && len(p.mano.SLM.Active()) == 0 {
			return true
		}
		time.Sleep(time.Millisecond)
	}
	return false
}

// FuzzPluginMessages publishes one raw body, as a request (reply_to set)
// or a notification, on one of the topics the plugins and the emulator
// consume, on the in-process bus of a running platform, and lets the
// handlers do what they do with it: decode it, reply, start workflows.
// No handler may panic (the transport would recover it, and the request
// would never be answered), and whatever the input started must end.
// Seeds: testdata/fuzz/FuzzPluginMessages.
//
//	go test -run '^$' -fuzz FuzzPluginMessages -fuzztime 5m -fuzzminimizetime 10x ./adapters/embedded
//
// Each input takes a few milliseconds (the bus must go quiet), so keep
// -fuzzminimizetime short: the default minimizes every new input for up
// to a minute.
func FuzzPluginMessages(f *testing.F) {
	demoReq, err := embedded.SonataDemo("testdata/sonata-demo")
	if err != nil {
		f.Fatal(err)
	}
	demoBody, err := json.Marshal(demoReq)
	if err != nil {
		f.Fatal(err)
	}
	topicIndex := func(topic string) uint8 {
		for i, t := range fuzzTopics {
			if t == topic {
				return uint8(i)
			}
		}
		panic(topic)
	}
	const request = 1
	f.Add(topicIndex(bus.TopicServiceCreate), uint8(request), "", demoBody)
	f.Add(topicIndex(bus.TopicServiceCreate), uint8(request), "", []byte(`{"NSD": {"network_functions": [{"vnf_id": "a"}]}, "VNFD0": {"virtual_deployment_units": [{"id": "x", "resource_requirements": {"cpu": {"vcpus": -1}}}]}}`))
	f.Add(topicIndex(bus.TopicServiceTerminate), uint8(request), "", []byte(`{"instance_id": "00000000-0000-0000-0000-000000000000"}`))
	f.Add(topicIndex(bus.TopicServiceScale), uint8(request), "", []byte(`{"service_instance_uuid": "x", "scaling_type": "ADD_VNF", "vnf_id": "a", "number_of_instances": 1000000}`))
	f.Add(topicIndex(bus.TopicServiceUpdate), uint8(request), "corr", []byte(`{"Instance_id": "x", "NSD": {}}`))
	f.Add(topicIndex(bus.TopicFunctionDeploy), uint8(request), "", []byte(`{"vnfd": {"virtual_deployment_units": [{"id": "v"}]}, "id": "f", "vim_uuid": "nope", "serv_id": "s"}`))
	f.Add(topicIndex(bus.TopicFunctionStart), uint8(request), "", []byte(`{"vnf_id": "f", "vnfd": {"function_specific_managers": [{"id": "m", "options": [{"key": "type", "value": "start"}]}]}, "data": null}`))
	f.Add(topicIndex(bus.TopicFunctionRemove), uint8(request), "", []byte(`{"vnf_id": "f", "vim_id": "v"}`))
	f.Add(topicIndex(bus.TopicPluginRegister), uint8(request), "", []byte(`{"name": "x", "version": 1, "description": ["a"]}`))
	f.Add(topicIndex(bus.TopicPluginDeregister), uint8(request), "", []byte(`{"uuid": "nope"}`))
	f.Add(topicIndex("heartbeat"), uint8(0), "", []byte(`{"uuid": "u", "state": "READY"}`))
	f.Add(topicIndex(bus.TopicServicePlace), uint8(request), "", []byte(`{"nsd": {"network_functions": [{"vnf_id": "a"}]}, "functions": [{"id": "f", "vnf_id": "a", "vnfd": {"virtual_deployment_units": [{"resource_requirements": {"cpu": {"vcpus": 2}, "memory": {"size": 1, "size_unit": "TB"}}}]}}], "topology": [{"vim_uuid": "v", "core_total": 4, "core_used": 9, "memory_total": 1, "memory_used": 0}], "operator_policies": {"policy": "Priority", "policy_list": []}, "constraints": {"affinity": [["f", "f"]], "anti_affinity": [["f", "f"]]}}`))
	f.Add(topicIndex(bus.TopicSMRSSMInstantiate), uint8(request), "", []byte(`{"NSD": {"service_specific_managers": [{"id": "sonssm", "image": "nope", "options": [{"key": "type", "value": "task"}]}]}, "UUID": "u"}`))
	f.Add(topicIndex(bus.TopicSMRFSMOnboard), uint8(request), "", []byte(`{"VNFD": [{"function_specific_managers": [{"id": "x"}]}, null, 3]}`))
	f.Add(topicIndex(bus.TopicIAFunctionDeploy), uint8(request), "", []byte(`{"vim_uuid": "x", "vnfd": {"instance_uuid": "i", "virtual_deployment_units": [{"id": "v", "resource_requirements": {"cpu": {"vcpus": 1e9}}}]}}`))
	f.Add(topicIndex(bus.TopicIAComputeAdd), uint8(request), "", []byte(`{"vim_type": "Heat", "configuration": {"tenant_ext_router": 1}, "city": null}`))
	f.Add(topicIndex(bus.TopicMonitoring), uint8(0), "", []byte(`{"alert": {}}`))
	f.Fuzz(func(t *testing.T, pick uint8, flags uint8, corrID string, body []byte) {
		p, err := sharedFuzzPlatform()
		if err != nil {
			t.Fatal(err)
		}
		topic := fuzzTopics[int(pick)%len(fuzzTopics)]
		if topic == "heartbeat" {
			topic = p.heartbeat
		}
		if corrID == "" {
			corrID = uuid.NewString() // the SLM ignores a correlation id it has seen
		}
		m := &bus.Message{Topic: topic, AppID: bus.AppGatekeeper, CorrelationID: corrID,
			ContentType: bus.ContentTypeJSON, Body: body}
		if flags&request != 0 {
			m.ReplyTo = topic
		}
		p.mu.Lock()
		p.last = time.Now()
		p.mu.Unlock()
		if err := p.broker.Default().Publish(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		if !p.settle() {
			t.Fatalf("%s: still busy 20s after the input: workflows %v", topic, p.mano.SLM.Active())
		}
		if panics := p.panics.take(); len(panics) > 0 {
			t.Fatalf("%s: handler panicked:\n%s", topic, strings.Join(panics, "\n"))
		}
	})
}
