package emulator_test

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/manoctl/manoctl/adapters/emulator"
	"github.com/manoctl/manoctl/adapters/membus"
	"github.com/manoctl/manoctl/reconcile/bus"
	"github.com/manoctl/manoctl/schema/descriptor"
)

// The sonata-demo service of the observed trace: three one-VDU VNFs of
// 1 core and 2 GB each (son-mano-framework's SLM test descriptors).
const (
	svcA = "11111111-0000-4000-8000-00000000000a"
	svcB = "11111111-0000-4000-8000-00000000000b"
	fwID = "22222222-0000-4000-8000-000000000001"
	ipID = "22222222-0000-4000-8000-000000000002"
	tdID = "22222222-0000-4000-8000-000000000003"
)

var (
	athens    = emulator.DeriveVIMUUID("athens")
	paderborn = emulator.DeriveVIMUUID("paderborn")
)

// replyTimeout bounds every request in the tests; the emulator answers at
// once, so it only matters when something is broken.
const replyTimeout = 10 * time.Second

// harness is one membus broker with an emulator, a client endpoint
// impersonating the FLM and SLM, and a tap that records all
// infrastructure traffic.
type harness struct {
	t   testing.TB
	br  *membus.Broker
	emu *emulator.Emulator
	cl  *bus.Endpoint
	tap *tap
}

func newHarness(t testing.TB, inv emulator.Inventory, opts ...emulator.Option) *harness {
	t.Helper()
	br := membus.New()
	t.Cleanup(func() { br.Close() })
	h := &harness{t: t, br: br}
	h.tap = newTap(t, br.Default())
	h.emu = emulator.StartTest(t, br.Default(), inv, opts...)
	h.cl = bus.NewEndpoint(br.Default(), bus.AppSLM, bus.WithTimeouts(func(string) time.Duration { return replyTimeout }))
	t.Cleanup(func() { h.cl.Close() })
	return h
}

// request sends a request and returns the reply and its body decoded as a
// generic value.
func (h *harness) request(topic string, payload any) (*bus.Message, any) {
	h.t.Helper()
	m, err := h.cl.Request(context.Background(), topic, payload)
	if err != nil {
		h.t.Fatalf("%s: %v", topic, err)
	}
	var body any
	if err := m.Decode(&body); err != nil {
		h.t.Fatalf("%s: reply does not decode: %v", topic, err)
	}
	return m, body
}

// status sends a request whose reply is a mapping and returns it.
func (h *harness) status(topic string, payload any) map[string]any {
	h.t.Helper()
	_, body := h.request(topic, payload)
	m, ok := body.(map[string]any)
	if !ok {
		h.t.Fatalf("%s: reply %T %v, want a mapping", topic, body, body)
	}
	return m
}

// mustComplete asserts a COMPLETED status reply.
func (h *harness) mustComplete(topic string, payload any) {
	h.t.Helper()
	if r := h.status(topic, payload); r["request_status"] != "COMPLETED" {
		h.t.Fatalf("%s: %v, want COMPLETED", topic, r)
	}
}

// mustFail asserts a status reply with the given status and message.
func (h *harness) mustFail(topic string, payload any, status, message string) {
	h.t.Helper()
	r := h.status(topic, payload)
	if r["request_status"] != status || (message != "" && r["message"] != message) {
		h.t.Fatalf("%s: %v, want %s %q", topic, r, status, message)
	}
}

// barrier makes a request on topic and waits until the tap has seen its
// reply. The emulator handles requests in order, so every reply to an
// earlier request is in the tap by then: a missing one was never sent.
func (h *harness) barrier() {
	h.t.Helper()
	m, _ := h.request(bus.TopicIAResourceAvailability, map[string]any{})
	h.tap.waitFor(m.CorrelationID)
}

// send publishes a request without waiting for the reply.
func (h *harness) send(topic string, payload any) string {
	h.t.Helper()
	c, err := h.cl.Start(context.Background(), topic, payload)
	if err != nil {
		h.t.Fatal(err)
	}
	c.Close()
	return c.CorrelationID
}

// publish puts a hand-made message on the bus.
func (h *harness) publish(m *bus.Message) {
	h.t.Helper()
	if err := h.br.Default().Publish(context.Background(), m); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) prepare(svc string, vims ...string) {
	h.t.Helper()
	var list []any
	for _, v := range vims {
		list = append(list, map[string]any{"uuid": v, "vm_images": []any{
			map[string]any{"image_uuid": "eu.sonata-nfv_firewall-vnf_0.2_vdu01", "image_url": "http://example/fw.qcow2"},
		}})
	}
	h.mustComplete(bus.TopicIAServicePrepare, map[string]any{"instance_id": svc, "vim_list": list})
}

func (h *harness) deploy(svc, vim, file, instance string) map[string]any {
	h.t.Helper()
	return h.status(bus.TopicIAFunctionDeploy, deployRequest(h.t, svc, vim, file, instance))
}

// tap records every message on infrastructure.#.
type tap struct {
	mu   sync.Mutex
	cond *sync.Cond
	msgs []*bus.Message
}

func newTap(t testing.TB, b bus.Bus) *tap {
	tp := &tap{}
	tp.cond = sync.NewCond(&tp.mu)
	_, err := b.Subscribe(context.Background(), emulator.Binding, func(_ context.Context, m *bus.Message) {
		tp.mu.Lock()
		tp.msgs = append(tp.msgs, m)
		tp.cond.Broadcast()
		tp.mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	return tp
}

// replies returns the messages from the IA with correlation id corr.
func (tp *tap) replies(corr string) []*bus.Message {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	var out []*bus.Message
	for _, m := range tp.msgs {
		if m.CorrelationID == corr && bus.IsIA(m.AppID) {
			out = append(out, m)
		}
	}
	return out
}

// fromIA returns every message the IA published.
func (tp *tap) fromIA() []*bus.Message {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	var out []*bus.Message
	for _, m := range tp.msgs {
		if bus.IsIA(m.AppID) {
			out = append(out, m)
		}
	}
	return out
}

// waitFor blocks until a reply with corr has been recorded; the test's
// deadline bounds it.
func (tp *tap) waitFor(corr string) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	for {
		for _, m := range tp.msgs {
			if m.CorrelationID == corr && bus.IsIA(m.AppID) {
				return
			}
		}
		tp.cond.Wait()
	}
}

// loadDoc reads a testdata descriptor as the generic tree that travels on
// the bus.
func loadDoc(t testing.TB, file string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := bus.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return doc
}

// deployRequest is the FLM's infrastructure.function.deploy body.
func deployRequest(t testing.TB, svc, vim, file, instance string) map[string]any {
	vnfd := descriptor.Copy(loadDoc(t, file))
	vnfd["instance_uuid"] = instance
	return map[string]any{"service_instance_id": svc, "vim_uuid": vim, "vnfd": vnfd}
}

// keys returns the sorted keys of a mapping.
func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// usage returns core_used and memory_used of vim from compute.list.
func (h *harness) usage(vim string) (cores, memory int) {
	h.t.Helper()
	_, body := h.request(bus.TopicIAComputeList, map[string]any{})
	for _, e := range body.([]any) {
		m := e.(map[string]any)
		if m["vim_uuid"] == vim {
			return m["core_used"].(int), m["memory_used"].(int)
		}
	}
	h.t.Fatalf("compute.list has no VIM %s", vim)
	return 0, 0
}
