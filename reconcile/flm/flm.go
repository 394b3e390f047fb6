// Package flm is the function lifecycle manager (wire-protocol §6): it
// deploys one VNF at a time through the infrastructure adaptor, builds its
// VNFR, and relays start/stop/configure/scale events to the function's
// FSMs (or acknowledges them when the VNF has none).
//
// manoctl's FLM differs from the original where §14.4 says: the error of
// a failed deploy carries the IA's message (F1), specific-manager errors
// are reported instead of crashing (F2), mano.function.terminate is
// answered (F4), and mano.function.remove (HEAD, §12) removes one function.
package flm

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/manoctl/manoctl/reconcile/bus"
	"github.com/manoctl/manoctl/reconcile/plugin"
	"github.com/manoctl/manoctl/reconcile/wire"
	"github.com/manoctl/manoctl/schema/descriptor"
)

// Info is the FLM's plugin identity (§3.1).
var Info = plugin.Info{Name: bus.AppFLM, Version: "0.1-dev", Description: "This is the FLM plugin"}

// FSMs runs the function specific managers of a VNF (wire-protocol §6.2,
// §7.5). Without one, the FLM refuses VNFs that declare typed FSMs.
type FSMs interface {
	// Deploy on-boards and instantiates the typed FSMs of vnfd for the
	// function instance funcID, and lets a task FSM see the schedule.
	Deploy(ctx context.Context, funcID string, vnfd descriptor.Doc) error
	// Event calls the FSM of fsmType ("start", ...) with content; it
	// returns the FSM's error text, or "" on success.
	Event(ctx context.Context, funcID string, vnfd descriptor.Doc, fsmType string, content map[string]any) error
	// Terminate stops the function's FSMs.
	Terminate(ctx context.Context, funcID string, vnfd descriptor.Doc) error
}

// Config wires the FLM.
type Config struct {
	FSMs     FSMs
	Logger   *slog.Logger
	Timeouts func(topic string) time.Duration
	// Observe reports every bus request (metrics).
	Observe func(topic string, took time.Duration, err error)
	// SharedQueues makes several FLM instances compete (§14.1 T1).
	SharedQueues bool
}

// FLM is a running function lifecycle manager.
type FLM struct {
	ep  *bus.Endpoint
	cfg Config
	log *slog.Logger
	wg  sync.WaitGroup
}

// New attaches an FLM to b.
func New(b bus.Bus, cfg Config) *FLM {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Timeouts == nil {
		cfg.Timeouts = bus.DefaultTimeout
	}
	return &FLM{
		ep:  bus.NewEndpoint(b, bus.AppFLM, bus.WithLogger(cfg.Logger), bus.WithTimeouts(cfg.Timeouts), bus.WithObserver(cfg.Observe)),
		cfg: cfg,
		log: cfg.Logger.With("plugin", "flm"),
	}
}

// Endpoint returns the FLM's bus endpoint.
func (f *FLM) Endpoint() *bus.Endpoint { return f.ep }

// Start subscribes to the mano.function.* topics.
func (f *FLM) Start(ctx context.Context) error {
	handlers := map[string]func(context.Context, *bus.Message){
		bus.TopicFunctionDeploy:    f.deploy,
		bus.TopicFunctionStart:     func(ctx context.Context, m *bus.Message) { f.event(ctx, m, "start") },
		bus.TopicFunctionStop:      func(ctx context.Context, m *bus.Message) { f.event(ctx, m, "stop") },
		bus.TopicFunctionConfigure: func(ctx context.Context, m *bus.Message) { f.event(ctx, m, "configure") },
		bus.TopicFunctionScale:     func(ctx context.Context, m *bus.Message) { f.event(ctx, m, "scale") },
		bus.TopicFunctionTerminate: f.terminate,
		bus.TopicFunctionRemove:    f.remove,
	}
	for topic, h := range handlers {
		h := h
		var opts []bus.SubscribeOption
		if f.cfg.SharedQueues {
			opts = append(opts, bus.WithQueue("manoctl.flm."+topic))
		}
		// Each request waits for the IA or an FSM: run it in its own
		// goroutine so the subscription keeps delivering.
		_, err := f.ep.Handle(ctx, topic, bus.SkipOwn|bus.RequestsOnly, func(ctx context.Context, m *bus.Message) {
			f.wg.Add(1)
			go func() {
				defer f.wg.Done()
				h(context.WithoutCancel(ctx), m)
			}()
		}, opts...)
		if err != nil {
			return err
		}
	}
	return nil
}

// Close stops the FLM and waits for requests in progress.
func (f *FLM) Close() error {
	err := f.ep.Close()
	f.wg.Wait()
	return err
}

func (f *FLM) failDeploy(ctx context.Context, m *bus.Message, errText string) {
	f.log.Warn("deploy failed", "correlation_id", m.CorrelationID, "error", errText)
	f.ep.Reply(ctx, m, wire.FunctionDeployReply{Status: bus.StatusFailed, Error: errText, Timestamp: wire.Now()})
}

// deploy runs §6.2: FSMs (if any), infrastructure.function.deploy, the
// VNFR, and the reply to the SLM.
func (f *FLM) deploy(ctx context.Context, m *bus.Message) {
	var req wire.FunctionDeployRequest
	if err := m.Decode(&req); err != nil {
		f.failDeploy(ctx, m, "malformed deploy request: "+err.Error())
		return
	}
	if req.ID == "" || req.VNFD == nil || req.VIMUUID == "" {
		f.failDeploy(ctx, m, "deploy request needs vnfd, id and vim_uuid")
		return
	}
	hasFSMs := len(descriptor.ManagerTypes(req.VNFD, "function_specific_managers")) > 0
	if hasFSMs {
		if f.cfg.FSMs == nil {
			f.failDeploy(ctx, m, fmt.Sprintf("VNFD %s declares function specific managers, which this FLM does not run", descriptor.IdentityOf(req.VNFD)))
			return
		}
		if err := f.cfg.FSMs.Deploy(ctx, req.ID, req.VNFD); err != nil {
			f.failDeploy(ctx, m, err.Error())
			return
		}
	}
	iaVNFD := descriptor.Copy(req.VNFD)
	iaVNFD["instance_uuid"] = req.ID
	var reply wire.IADeployReply
	rm, err := f.ep.Request(ctx, bus.TopicIAFunctionDeploy, wire.IADeployRequest{
		ServiceInstanceID: req.ServID, VIMUUID: req.VIMUUID, VNFD: iaVNFD,
	})
	if err == nil {
		if derr := rm.Decode(&reply); derr != nil {
			// Unescaped wrapper text makes malformed YAML (§14.7 I2).
			reply = wire.IADeployReply{RequestStatus: "ERROR", Message: string(rm.Body)}
		}
	}
	switch {
	case err != nil:
		f.rollbackFSMs(ctx, req.ID, req.VNFD, hasFSMs)
		f.failDeploy(ctx, m, err.Error())
		return
	case reply.RequestStatus != bus.StatusCompleted:
		f.rollbackFSMs(ctx, req.ID, req.VNFD, hasFSMs)
		msg := reply.Message
		if msg == "" {
			msg = "IA returned " + reply.RequestStatus
		}
		f.failDeploy(ctx, m, msg)
		return
	case reply.VNFR == nil:
		f.rollbackFSMs(ctx, req.ID, req.VNFD, hasFSMs)
		f.failDeploy(ctx, m, "IA deploy reply carries no vnfr")
		return
	}
	vnfr := BuildVNFR(reply.VNFR, req.VNFD)
	f.ep.Reply(ctx, m, wire.FunctionDeployReply{VNFR: vnfr, Status: reply.RequestStatus, Error: nil})
}

func (f *FLM) rollbackFSMs(ctx context.Context, id string, doc descriptor.Doc, hasFSMs bool) {
	if f.cfg.FSMs == nil || !hasFSMs {
		return
	}
	if err := f.cfg.FSMs.Terminate(ctx, id, doc); err != nil {
		f.log.Error("rollback: terminate FSMs", "function", id, "err", err)
	}
}

// noFSMMessages are the original's texts (§6.4), including the stop one
// that says "start event".
var noFSMMessages = map[string]string{
	"start":     ": No start FSM provided, start event ignored.",
	"stop":      ": No stop FSM provided, start event ignored.",
	"configure": ": No config FSM provided, config event ignored.",
	"scale":     ": No scale FSM provided, scale event ignored.",
}

// event handles start/stop/configure/scale (§6.4).
func (f *FLM) event(ctx context.Context, m *bus.Message, kind string) {
	var req wire.FunctionEventRequest
	if err := m.Decode(&req); err != nil {
		f.ep.Reply(ctx, m, wire.FunctionEventReply{Timestamp: wire.Now(), Error: "malformed request: " + err.Error(), Status: bus.StatusFAILED})
		return
	}
	reply := wire.FunctionEventReply{Timestamp: wire.Now(), VNFID: req.VNFID, Status: bus.StatusCompleted}
	if req.VNFD == nil {
		reply.Status, reply.Error = bus.StatusFAILED, "request carries no readable vnfd"
		f.ep.Reply(ctx, m, reply)
		return
	}
	if !containsType(descriptor.ManagerTypes(req.VNFD, "function_specific_managers"), kind) || f.cfg.FSMs == nil {
		reply.Message = noFSMMessages[kind]
		f.ep.Reply(ctx, m, reply)
		return
	}
	if err := f.cfg.FSMs.Event(ctx, req.VNFID, req.VNFD, kind, req.Data); err != nil {
		reply.Status, reply.Error = bus.StatusFAILED, err.Error()
	}
	f.ep.Reply(ctx, m, reply)
}

// terminate answers mano.function.terminate, whose original workflow was
// empty (§14.4 F4).
func (f *FLM) terminate(ctx context.Context, m *bus.Message) {
	var req wire.FunctionTerminateRequest
	_ = m.Decode(&req)
	f.ep.Reply(ctx, m, wire.FunctionEventReply{Timestamp: wire.Now(), VNFID: req.ID, Status: bus.StatusCompleted, Message: "terminate is a no-op"})
}

// remove removes one function: its FSMs, then the VNF through
// infrastructure.function.remove.
func (f *FLM) remove(ctx context.Context, m *bus.Message) {
	var req wire.FunctionRemoveRequest
	if err := m.Decode(&req); err != nil || req.VNFID == "" {
		f.ep.Reply(ctx, m, wire.FunctionEventReply{Timestamp: wire.Now(), Error: "malformed remove request", Status: bus.StatusFAILED})
		return
	}
	reply := wire.FunctionEventReply{Timestamp: wire.Now(), VNFID: req.VNFID, Status: bus.StatusCompleted}
	var ia wire.IAStatusReply
	rm, err := f.ep.Request(ctx, bus.TopicIAFunctionRemove, wire.IAFunctionRemoveRequest{
		ServiceInstanceID: req.ServID, VIMUUID: req.VIMID, VNFUUID: req.VNFID,
	})
	if err == nil {
		err = rm.Decode(&ia)
	}
	switch {
	case err != nil:
		reply.Status, reply.Error = bus.StatusFAILED, err.Error()
	case !ia.OK():
		msg := ia.Message
		if msg == "" {
			msg = "IA returned " + ia.RequestStatus
		}
		reply.Status, reply.Error = bus.StatusFAILED, msg
	}
	f.ep.Reply(ctx, m, reply)
}

func containsType(types []string, t string) bool {
	for _, x := range types {
		if x == t {
			return true
		}
	}
	return false
}
