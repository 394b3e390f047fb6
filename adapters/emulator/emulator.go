package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/manoctl/manoctl/reconcile/bus"
)

// Binding is the pattern of the emulator's one subscription: the VIM
// adaptor's queue is bound to infrastructure.# (wire-protocol §1.3), and
// the emulator dispatches on the exact topic.
const Binding = "infrastructure.#"

// Emulator is an infrastructure adaptor with state. Create it with New,
// attach it to a bus with Start, and stop it with Close. All methods are
// safe for concurrent use.
type Emulator struct {
	cfg      config
	inv      Inventory
	handlers map[string]*handler
	knobs    knobs
	st       state

	// life guards the lifecycle fields; handlers take it shared to
	// register in-flight work with wg, Close takes it exclusively.
	life     sync.RWMutex
	b        bus.Bus
	sub      bus.Subscription
	stateSub bus.Subscription
	ctx      context.Context // cancelled by Close: ends delayed work
	cancel   context.CancelFunc
	started  bool
	closed   bool
	wg       sync.WaitGroup
}

type config struct {
	log         *slog.Logger
	seed        uint64
	seedStr     string
	wimAppID    bool
	concurrency int
}

// Option configures an Emulator.
type Option func(*config)

// WithLogger sets where the emulator reports ignored, malformed and
// failed messages. The default discards.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.log = l } }

// WithSeed makes the fake ids and addresses of deployments (vnfc ids,
// server ids, IP and MAC addresses) a different but equally deterministic
// function of the request. The default seed is 0.
func WithSeed(seed uint64) Option { return func(c *config) { c.seed = seed } }

// WithWIMAppID answers the WAN topics (infrastructure.wan.*,
// infrastructure.service.wan.*) with app id sonata.kernel.WimAdapter, as
// the separate Java WIM adaptor does. By default every reply carries
// sonata.kernel.InfrAdaptor, as the IA stand-in of the observed trace did.
func WithWIMAppID() Option { return func(c *config) { c.wimAppID = true } }

// WithConcurrency lets the emulator handle up to n requests at once (the
// Java IA runs each request in its own thread). The default, 1, handles
// them in arrival order, which keeps call numbering and state changes
// deterministic for tests.
func WithConcurrency(n int) Option { return func(c *config) { c.concurrency = n } }

// New builds an emulator over inv. It fails if the inventory is invalid.
func New(inv Inventory, opts ...Option) (*Emulator, error) {
	if err := inv.Validate(); err != nil {
		return nil, err
	}
	cfg := config{log: slog.New(slog.DiscardHandler), concurrency: 1}
	for _, o := range opts {
		o(&cfg)
	}
	cfg.seedStr = strconv.FormatUint(cfg.seed, 10)
	e := &Emulator{cfg: cfg, inv: cloneInventory(inv)}
	e.handlers = e.handlerTable()
	e.st.reset(e.inv)
	e.ctx, e.cancel = context.WithCancel(context.Background())
	return e, nil
}

// Start subscribes the emulator to b. It may be called once.
func (e *Emulator) Start(ctx context.Context, b bus.Bus) error {
	e.life.Lock()
	defer e.life.Unlock()
	switch {
	case e.closed:
		return fmt.Errorf("emulator: start: %w", bus.ErrClosed)
	case e.started:
		return errors.New("emulator: start: already started")
	}
	// b is set before the subscription exists: deliveries never see it
	// unset.
	e.b = b
	sub, err := b.Subscribe(ctx, Binding, e.onMessage, bus.WithConcurrency(e.cfg.concurrency))
	if err != nil {
		e.b = nil
		return fmt.Errorf("emulator: subscribe %s: %w", Binding, err)
	}
	e.sub = sub
	// manoctl's own query, which the Java IA does not answer: the
	// functions the infrastructure runs, so that a daemon can detect
	// drift (control.TopicEmulatorState).
	q, err := b.Subscribe(ctx, StateTopic, e.onStateQuery)
	if err != nil {
		sub.Unsubscribe()
		e.b = nil
		return fmt.Errorf("emulator: subscribe %s: %w", StateTopic, err)
	}
	e.stateSub = q
	e.started = true
	return nil
}

// StateTopic is manoctl's query of the emulated infrastructure's
// functions; the answer is {"functions": [<function ids>], "instances":
// [{id, service_instance_id, vim_uuid}]}.
const StateTopic = "manoctl.emulator.state"

func (e *Emulator) onStateQuery(ctx context.Context, msg *bus.Message) {
	if msg.ReplyTo == "" || msg.AppID == bus.AppIA {
		return
	}
	snap := e.Snapshot()
	ids := make([]string, 0, len(snap.Functions))
	instances := make([]map[string]string, 0, len(snap.Functions))
	for _, f := range snap.Functions {
		ids = append(ids, f.InstanceUUID)
		instances = append(instances, map[string]string{"id": f.InstanceUUID, "service_instance_id": f.ServiceInstanceID, "vim_uuid": f.VIMUUID})
	}
	e.b.Publish(ctx, &bus.Message{Topic: msg.ReplyTo, AppID: bus.AppIA, CorrelationID: msg.CorrelationID,
		ContentType: bus.ContentTypeJSON, Payload: map[string]any{"functions": ids, "instances": instances}})
}

// Close unsubscribes, abandons delayed and held replies, and waits for
// handlers in flight. It does not close the bus.
func (e *Emulator) Close() error {
	e.life.Lock()
	if e.closed {
		e.life.Unlock()
		return nil
	}
	e.closed = true
	sub, q := e.sub, e.stateSub
	e.life.Unlock()
	var err error
	if q != nil {
		q.Unsubscribe()
	}
	if sub != nil {
		if uerr := sub.Unsubscribe(); uerr != nil && !errors.Is(uerr, bus.ErrClosed) {
			err = fmt.Errorf("emulator: unsubscribe: %w", uerr)
		}
	}
	e.cancel()
	e.wg.Wait()
	return err
}

// enter registers one unit of in-flight work; it fails once Close has
// begun, so that Close's Wait never races an Add.
func (e *Emulator) enter() bool {
	e.life.RLock()
	defer e.life.RUnlock()
	if e.closed {
		return false
	}
	e.wg.Add(1)
	return true
}

// goAfter runs f on its own goroutine once d has passed and every channel
// in holds is closed; it gives up when the emulator closes.
func (e *Emulator) goAfter(d time.Duration, holds []<-chan struct{}, f func(ctx context.Context)) {
	if !e.enter() {
		return
	}
	go func() {
		defer e.wg.Done()
		if d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-e.ctx.Done():
				t.Stop()
				return
			}
		}
		for _, h := range holds {
			select {
			case <-h:
			case <-e.ctx.Done():
				return
			}
		}
		f(e.ctx)
	}()
}

// handler describes one topic.
type handler struct {
	// serve applies the request and returns the reply payload.
	serve func(r *request) any
	// errStatus is request_status of the topic's error replies.
	errStatus string
	// badRequest answers an undecodable body; a zero value means
	// {errStatus, "Malformed request: <why>"}.
	badRequest StatusReply
	// strictJSON marks topics whose Java handler parses with org.json:
	// a wire body that is not JSON is refused as the original would.
	strictJSON bool
	// ignoresBody marks topics whose body the IA never reads.
	ignoresBody bool
	// wan marks WIM-adaptor topics (WithWIMAppID).
	wan bool
}

func (e *Emulator) handlerTable() map[string]*handler {
	h := map[string]*handler{
		// Management (§8.3).
		bus.TopicIAComputeList:          {serve: e.computeList, errStatus: StatusFail, ignoresBody: true},
		bus.TopicIAComputeAdd:           {serve: e.computeAdd, errStatus: StatusError, strictJSON: true},
		bus.TopicIAComputeRemove:        {serve: e.computeRemove, errStatus: StatusError, strictJSON: true},
		bus.TopicIANetworkAdd:           {serve: e.networkAdd, errStatus: StatusError, strictJSON: true},
		bus.TopicIANetworkRemove:        {serve: e.networkRemove, errStatus: StatusError, strictJSON: true},
		bus.TopicIANetworkList:          {serve: e.networkList, errStatus: StatusError, ignoresBody: true},
		bus.TopicIAResourceAvailability: {serve: e.resourceAvailability, errStatus: StatusError, ignoresBody: true},
		// Service and function lifecycle (§8.3, §8.8).
		bus.TopicIAServicePrepare:   {serve: e.servicePrepare, errStatus: StatusError},
		bus.TopicIAFunctionDeploy:   {serve: e.functionDeploy, errStatus: StatusError, badRequest: statusReply(StatusError, MsgDeploymentError)},
		bus.TopicIAFunctionRemove:   {serve: e.functionRemove, errStatus: StatusError},
		bus.TopicIAFunctionScale:    {serve: e.functionScale, errStatus: StatusError, ignoresBody: true},
		bus.TopicIAChainConfigure:   {serve: e.chainConfigure, errStatus: StatusError},
		bus.TopicIAChainDeconfigure: {serve: e.chainDeconfigure, errStatus: StatusError},
		bus.TopicIAServiceRemove:    {serve: e.serviceRemove, errStatus: StatusError, strictJSON: true},
		bus.TopicIAServiceDeploy:    {serve: e.serviceDeploy, errStatus: StatusError, ignoresBody: true},
		// WIM adaptor (§8.6).
		bus.TopicIAWanConfigure:   {serve: e.wanConfigure, errStatus: StatusFAILED, badRequest: statusReply(StatusFail, MsgPayloadParseError), wan: true},
		bus.TopicIAWanDeconfigure: {serve: e.wanDeconfigure, errStatus: StatusFAILED, badRequest: statusReply(StatusFail, MsgPayloadParseError), wan: true},
		bus.TopicIAWanAdd:         {serve: e.wanAdd, errStatus: StatusError, strictJSON: true, wan: true},
		bus.TopicIAWanRemove:      {serve: e.wanRemove, errStatus: StatusError, strictJSON: true, wan: true},
		bus.TopicIAWanAttach:      {serve: e.wanAttach, errStatus: StatusError, strictJSON: true, wan: true},
		bus.TopicIAWanList:        {serve: e.wanList, errStatus: StatusError, ignoresBody: true, wan: true},
	}
	return h
}

// unsupportedHandler answers requests on infrastructure topics the IA has
// no handler for (storage, the 2019 topics, typos). The Java IA stays
// silent; the emulator answers with the common error shape so that no
// caller waits for a timeout (§14 rules).
func unsupportedHandler(topic string) *handler {
	return &handler{errStatus: StatusError, ignoresBody: true, serve: func(*request) any {
		return statusReply(StatusError, topic+" is not supported by the manoctl IA emulator")
	}}
}

// request is one accepted request with its decoded body.
type request struct {
	msg  *bus.Message
	body map[string]any
	log  *slog.Logger
}

// bad logs why a request is refused, with the fields an operator needs to
// find the sender.
func (r *request) bad(why string, args ...any) {
	r.log.Warn("emulator: refusing request: "+fmt.Sprintf(why, args...),
		"topic", r.msg.Topic, "app_id", r.msg.AppID, "correlation_id", r.msg.CorrelationID)
}

// onMessage is the subscription handler: the IA's self-filtering and
// dispatch (§1.7, §8.2).
func (e *Emulator) onMessage(ctx context.Context, msg *bus.Message) {
	switch {
	case msg.AppID == bus.AppIA || msg.AppID == bus.AppWIM:
		return // our own replies travel on the topics we listen to
	case msg.AppID == "":
		e.cfg.log.Warn("emulator: ignoring message without app_id", "topic", msg.Topic, "correlation_id", msg.CorrelationID)
		return
	case msg.ReplyTo == "":
		// Not a request: nobody could receive an answer (the Java
		// publish to a null reply_to fails), so nothing happens either.
		e.cfg.log.Debug("emulator: ignoring message without reply_to", "topic", msg.Topic, "app_id", msg.AppID)
		return
	case strings.HasPrefix(msg.Topic, "infrastructure.monitoring."):
		e.cfg.log.Info("emulator: monitoring message logged, no reply (as the IA)", "topic", msg.Topic, "app_id", msg.AppID)
		return
	}
	if !e.enter() {
		return
	}
	defer e.wg.Done()

	h := e.handlers[msg.Topic]
	if h == nil {
		h = unsupportedHandler(msg.Topic)
	}
	t := e.knobs.next(msg.Topic)
	if t.dropRequest {
		e.cfg.log.Debug("emulator: fault: request dropped", "topic", msg.Topic, "call", t.call)
		return
	}
	if t.delay > 0 {
		delayed := t // only the delayed path's copy escapes to the heap
		e.goAfter(t.delay, nil, func(ctx context.Context) { e.serve(ctx, msg, h, &delayed) })
		return
	}
	e.serve(ctx, msg, h, &t)
}

// serve handles one request and sends its reply as the treatment says.
func (e *Emulator) serve(ctx context.Context, msg *bus.Message, h *handler, t *treatment) {
	r := &request{msg: msg, log: e.cfg.log}
	var reply any
	var raw []byte
	switch {
	case msg.CorrelationID == "":
		// Nobody can match the reply, so the request must not take
		// effect; the error still shows up in traces (the SLM's answer
		// to the same mistake, §14.3 S3).
		r.bad("no correlation_id")
		reply = statusReply(h.errStatus, MsgNoCorrelationID)
	case t.fail != nil && t.fail.kind == faultMalformed:
		raw = malformedBody(msg.Topic)
	case t.fail != nil:
		reply = statusReply(h.errStatus, t.fail.message)
	default:
		reply = e.apply(r, h)
	}
	reply = wireDoc(reply)
	if t.dropReply {
		e.cfg.log.Debug("emulator: fault: reply dropped", "topic", msg.Topic, "call", t.call)
		return
	}
	out := &bus.Message{
		Topic:         msg.ReplyTo,
		AppID:         bus.AppIA,
		CorrelationID: msg.CorrelationID,
		ContentType:   contentType(msg.Topic, t.keepReplyTo),
		Payload:       reply,
		Body:          raw,
		// The Java IA publishes persistent messages (§1.3).
		Persistent: true,
	}
	if h.wan && e.cfg.wimAppID {
		out.AppID = bus.AppWIM
	}
	if t.keepReplyTo {
		out.ReplyTo = msg.ReplyTo
	}
	if t.delayed() {
		copies := t.copies
		e.goAfter(t.lateBy, t.holds, func(ctx context.Context) { e.publish(ctx, out, copies) })
		return
	}
	e.publish(ctx, out, t.copies)
}

// apply decodes the body and runs the topic's handler.
func (e *Emulator) apply(r *request, h *handler) any {
	if h.ignoresBody {
		return h.serve(r)
	}
	if h.strictJSON && r.msg.Body != nil && !json.Valid(bytes.TrimSpace(r.msg.Body)) {
		r.bad("body is not JSON")
		return h.malformed("body must be JSON")
	}
	var body map[string]any
	if err := r.msg.Decode(&body); err != nil {
		r.bad("undecodable body: %v", err)
		return h.malformed("body is not a YAML or JSON mapping")
	}
	if body == nil {
		body = map[string]any{} // "null" or "~": every key is missing
	}
	r.body = body
	return h.serve(r)
}

func (h *handler) malformed(why string) StatusReply {
	if h.badRequest.RequestStatus != "" {
		return h.badRequest
	}
	return statusReply(h.errStatus, MsgMalformedRequest+": "+why)
}

// publish sends copies of msg; each copy is its own message, as a
// duplicate from a broker would be.
func (e *Emulator) publish(ctx context.Context, msg *bus.Message, copies int) {
	for i := 0; i < copies; i++ {
		m := *msg
		if err := e.b.Publish(ctx, &m); err != nil {
			e.cfg.log.Warn("emulator: reply not sent", "topic", msg.Topic, "correlation_id", msg.CorrelationID, "err", err)
			return
		}
	}
}

// contentType labels a reply honestly (§1.8): YAML for data replies, JSON
// for status replies, as bus.EncodingFor says per topic. A reply that keeps
// reply_to looks like a request to a transport, which encodes it as one.
func contentType(topic string, keepsReplyTo bool) string {
	if bus.EncodingFor(topic, keepsReplyTo) == bus.JSON {
		return bus.ContentTypeJSON
	}
	return bus.ContentTypeYAML
}

// malformedBody is an error reply with wrapper text pasted in unescaped,
// which neither JSON nor YAML can parse.
func malformedBody(topic string) []byte {
	return []byte(`{"request_status":"ERROR","message":"Error in wrapper: "` + topic + `" failed: 'unexpected' "token"}`)
}

func cloneInventory(inv Inventory) Inventory {
	out := Inventory{VIMs: append([]VIMConfig(nil), inv.VIMs...)}
	for _, w := range inv.WIMs {
		w.VIMs = append([]string(nil), w.VIMs...)
		out.WIMs = append(out.WIMs, w)
	}
	return out
}
