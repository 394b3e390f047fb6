package smr

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/manoctl/manoctl/reconcile/bus"
	"github.com/manoctl/manoctl/reconcile/sm"
)

// vhost is the SMR's state for one instance's managers: the vhost ssm-<uuid>
// or fsm-<uuid>, the SMR's connection to it, and the managers running on it.
type vhost struct {
	name string
	kind sm.Kind
	uuid string

	// op serialises the requests about one instance: a terminate that
	// arrives while an instantiate still waits for registrations runs
	// after it, so it never misses a manager.
	op sync.Mutex

	// The fields below are guarded by SMR.mu.
	users   int // requests holding the state (acquire / leave)
	created bool
	bus     bus.Bus
	ep      *bus.Endpoint
	running map[string]*running // by instance name
}

// running is a started manager.
type running struct {
	spec     ManagerSpec
	key      string // registry key <id><uuid>
	inst     Instance
	stopping bool
}

// acquire returns the state of the instance's vhost, creating the (empty)
// state if needed, with its op lock held; the broker vhost is created by
// ensure. Every acquire is paired with leave.
func (s *SMR) acquire(kind sm.Kind, uuid string) *vhost {
	name := kind.Vhost(uuid)
	s.mu.Lock()
	v, ok := s.hosts[name]
	if !ok {
		v = &vhost{name: name, kind: kind, uuid: uuid, running: make(map[string]*running)}
		s.hosts[name] = v
	}
	v.users++
	s.mu.Unlock()
	v.op.Lock()
	return v
}

// leave ends a request's use of v; the state is forgotten once nobody uses
// it and nothing runs on it.
func (s *SMR) leave(v *vhost) {
	s.mu.Lock()
	v.users--
	if v.users == 0 && !v.created && len(v.running) == 0 && s.hosts[v.name] == v {
		delete(s.hosts, v.name)
	}
	s.mu.Unlock()
	v.op.Unlock()
}

// ensure creates the broker vhost, connects to it and answers
// registrations and status notices there. The caller holds v.op.
func (s *SMR) ensure(ctx context.Context, v *vhost) error {
	s.mu.Lock()
	created := v.created
	s.mu.Unlock()
	if created {
		return nil
	}
	if err := s.cfg.Vhosts.Create(ctx, v.name); err != nil {
		s.log.Error("vhost creation failed", "vhost", v.name, "err", err)
		return errors.New(sm.ErrVhostCreation)
	}
	b, err := s.cfg.Connector.Connect(ctx, v.name)
	if err != nil {
		s.log.Error("cannot connect to managers' vhost", "vhost", v.name, "err", err)
		s.deleteVhost(v.name)
		return fmt.Errorf("cannot connect to vhost %s: %v", v.name, err)
	}
	ep := bus.NewEndpoint(b, bus.AppSMR, bus.WithLogger(s.cfg.Logger))
	// err must be the function's err: a failed Handle below is reported.
	if _, err = ep.Handle(ctx, bus.TopicSMRegistration, bus.SkipOwn|bus.RequestsOnly, func(ctx context.Context, m *bus.Message) {
		s.onRegistration(ctx, v, ep, m)
	}); err == nil {
		_, err = ep.Handle(ctx, bus.TopicSMStatus, bus.SkipOwn|bus.NotificationsOnly, func(_ context.Context, m *bus.Message) {
			s.onStatus(v, m)
		})
	}
	if err != nil {
		ep.Close()
		b.Close()
		s.deleteVhost(v.name)
		return fmt.Errorf("cannot listen on vhost %s: %v", v.name, err)
	}
	s.mu.Lock()
	v.bus, v.ep, v.created = b, ep, true
	s.mu.Unlock()
	s.log.Debug("managers' vhost ready", "vhost", v.name)
	return nil
}

func (s *SMR) deleteVhost(name string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), s.cfg.StopTimeout)
	defer cancel()
	if err := s.cfg.Vhosts.Delete(ctx, name); err != nil {
		s.log.Error("vhost deletion failed", "vhost", name, "err", err)
	}
}

// release closes the connection to v and deletes the vhost once no manager
// runs there (§14.6 M5). The caller holds v.op.
func (s *SMR) release(ctx context.Context, v *vhost) error {
	s.mu.Lock()
	if len(v.running) > 0 {
		s.mu.Unlock()
		return nil
	}
	created, ep, b := v.created, v.ep, v.bus
	v.created, v.ep, v.bus = false, nil, nil
	s.mu.Unlock()
	if !created {
		return nil
	}
	ep.Close()
	b.Close()
	if err := s.cfg.Vhosts.Delete(ctx, v.name); err != nil {
		return fmt.Errorf("smr: delete vhost %s: %w", v.name, err)
	}
	s.log.Debug("managers' vhost deleted", "vhost", v.name)
	return nil
}

// onRegistration answers a manager's registration (§7.3).
func (s *SMR) onRegistration(ctx context.Context, v *vhost, ep *bus.Endpoint, m *bus.Message) {
	var req sm.RegistrationRequest
	var reply sm.RegistrationReply
	switch err := m.Decode(&req); {
	case err != nil:
		reply = sm.RegistrationReply{Status: sm.StatusFailed, Error: "Invalid registration request format"}
	case req.SpecificManagerID != "" && req.SFUUID != v.uuid:
		// A manager registering for another instance (or without
		// sf_uuid) would never match <id><uuid>; say so.
		reply = sm.RegistrationReply{Status: sm.StatusFailed,
			Error: fmt.Sprintf("sf_uuid %q does not match vhost %s", req.SFUUID, v.name)}
	case req.SpecificManagerType != "" && req.SpecificManagerType != string(v.kind):
		reply = sm.RegistrationReply{Status: sm.StatusFailed,
			Error: fmt.Sprintf("an %s cannot register on vhost %s", req.SpecificManagerType, v.name)}
	default:
		reply = s.reg.register(req)
	}
	if reply.Status == sm.StatusRegistered {
		s.log.Info("manager registered", "id", req.SpecificManagerID, "vhost", v.name, "uuid", reply.UUID)
	} else {
		s.log.Warn("registration refused", "id", req.SpecificManagerID, "vhost", v.name, "error", reply.Error)
	}
	err := ep.Reply(ctx, m, reply.Wire())
	if err != nil {
		s.log.Error("registration reply not sent", "vhost", v.name, "err", err)
	}
	if reply.Status == sm.StatusRegistered {
		s.reg.commit(req.SpecificManagerID+req.SFUUID, err == nil)
	}
}

// onStatus records a manager's status notice (§14.6 M4).
func (s *SMR) onStatus(v *vhost, m *bus.Message) {
	var n sm.StatusNotice
	if err := m.Decode(&n); err != nil || n.Name == "" {
		s.log.Warn("malformed status notice", "vhost", v.name, "app_id", m.AppID)
		return
	}
	if !s.reg.noteStatus(n.Name, v.uuid, n.Status) {
		s.log.Warn("status notice from an unknown manager", "vhost", v.name, "name", n.Name)
		return
	}
	s.log.Info("manager status", "id", n.Name, "vhost", v.name, "status", n.Status)
}

// instancesOf returns v's running managers.
func (s *SMR) instancesOf(v *vhost) []*running {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*running, 0, len(v.running))
	for _, r := range v.running {
		out = append(out, r)
	}
	return out
}

// find returns the running manager with registry key key.
func (s *SMR) find(v *vhost, key string) *running {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range v.running {
		if r.key == key && !r.stopping {
			return r
		}
	}
	return nil
}

// start starts one manager and waits for it to register. On failure the
// manager is stopped again. The caller holds v.op.
func (s *SMR) start(ctx context.Context, v *vhost, spec ManagerSpec) (Record, error) {
	spec.Kind, spec.SFUUID, spec.Vhost = v.kind, v.uuid, v.name
	spec.Env = map[string]string{
		sm.EnvBrokerHost:     s.cfg.BrokerURL(v.name),
		sm.EnvBrokerExchange: s.cfg.Exchange,
		sm.EnvSFUUID:         v.uuid,
	}
	key := spec.ID + v.uuid
	inst, err := s.cfg.Runtime.Start(ctx, spec)
	if err != nil {
		s.log.Warn("manager not started", "id", spec.ID, "image", spec.Image, "err", err)
		return Record{}, err
	}
	s.log.Info("manager started", "id", spec.ID, "image", spec.Image, "name", inst.Name(), "vhost", v.name)
	r := &running{spec: spec, key: key, inst: inst}
	rec, err := s.reg.wait(ctx, key, inst.Done(), inst.Err, s.cfg.RegistrationTimeout)
	if err != nil {
		s.log.Warn("manager did not register", "id", spec.ID, "vhost", v.name, "err", err)
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.StopTimeout)
		defer cancel()
		if serr := inst.Stop(stopCtx); serr != nil {
			s.log.Error("manager not stopped", "id", spec.ID, "name", inst.Name(), "err", serr)
		}
		return Record{}, fmt.Errorf("%s: %v", sm.ErrRegistrationFailed, err)
	}
	s.mu.Lock()
	v.running[inst.Name()] = r
	s.mu.Unlock()
	go s.supervise(v, r)
	return rec, nil
}

// supervise notices a manager that exits on its own: its record becomes
// failed and it is forgotten, so that terminating it later is a no-op.
func (s *SMR) supervise(v *vhost, r *running) {
	<-r.inst.Done()
	s.mu.Lock()
	stopping := r.stopping
	if !stopping && v.running[r.inst.Name()] == r {
		delete(v.running, r.inst.Name())
	}
	s.mu.Unlock()
	if stopping {
		return
	}
	s.reg.setIf(r.key, RecordFailed, RecordRegistered, RecordRunning, RecordUpdated)
	s.log.Error("manager exited", "id", r.spec.ID, "name", r.inst.Name(), "vhost", v.name, "err", r.inst.Err())
	reason := "exited with no error"
	if err := r.inst.Err(); err != nil {
		reason = err.Error()
	}
	n := sm.ExitNotice{ID: r.spec.ID, UUID: v.uuid, Error: reason}
	if err := s.ep.Notify(s.ctx, v.kind.ExitedTopic(), n, ""); err != nil {
		s.log.Warn("manager exit not announced: calls to it fail at their timeout", "id", r.spec.ID, "err", err)
	}
}

// stop stops a running manager and forgets it.
func (s *SMR) stop(ctx context.Context, v *vhost, r *running) error {
	s.mu.Lock()
	r.stopping = true
	s.mu.Unlock()
	err := r.inst.Stop(ctx)
	s.mu.Lock()
	if v.running[r.inst.Name()] == r {
		delete(v.running, r.inst.Name())
	}
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("stop %s: %w", r.inst.Name(), err)
	}
	s.log.Info("manager stopped", "id", r.spec.ID, "name", r.inst.Name(), "vhost", v.name)
	return nil
}

// randomName is the temporary instance name of an update (§7.2: a random
// 10-character name).
func randomName() string {
	const letters = "abcdefghijklmnopqrstuvwxyz"
	b := []byte(strings.ReplaceAll(newUUID(), "-", ""))
	for i := range b[:10] {
		b[i] = letters[int(b[i])%len(letters)]
	}
	return string(b[:10])
}
