package smr

import (
	"context"
	"sync"

	"github.com/google/uuid"

	"github.com/manoctl/manoctl/reconcile/bus"
	"github.com/manoctl/manoctl/reconcile/sm"
	"github.com/manoctl/manoctl/schema/descriptor"
)

func newUUID() string { return uuid.NewString() }

// spec turns a descriptor entry into a ManagerSpec (without instance
// fields).
func spec(kind sm.Kind, m descriptor.SpecificManager) ManagerSpec {
	return ManagerSpec{Kind: kind, ID: m.ID, Image: m.Image, Options: m.Options}
}

// onboard answers *.on-board: every manager entry of the descriptor is
// checked (id shape, and the runtime's own check, such as an image pull).
func (s *SMR) onboard(ctx context.Context, m *bus.Message, kind sm.Kind) {
	req, err := decodeRequest(m)
	if err != nil {
		s.reply(ctx, m, failure(missingText(kind)))
		return
	}
	_, managers, ok := managersOf(kind, req)
	if !ok {
		s.reply(ctx, m, failure(missingText(kind)))
		return
	}
	out := make(map[string]sm.SMRResult, len(managers))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, e := range managers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := sm.SMRResult{Status: sm.StatusOnboarded, Error: sm.NoError}
			err := sm.CheckID(kind, e.ID)
			if err == nil {
				if o, ok := s.cfg.Runtime.(Onboarder); ok {
					err = o.Onboard(ctx, spec(kind, e))
				}
			}
			if err != nil {
				res = sm.SMRResult{Status: sm.StatusFailed, Error: err.Error()}
			}
			mu.Lock()
			out[e.ID] = res
			mu.Unlock()
		}()
	}
	wg.Wait()
	s.reply(ctx, m, out)
}

// instanceRequest reads a request about the managers of one service or
// function instance (instantiate, update, terminate): it answers the
// requests that name no managers or no instance itself, and otherwise
// returns the managers and the instance's vhost, acquired: the caller
// leaves it.
func (s *SMR) instanceRequest(ctx context.Context, m *bus.Message, kind sm.Kind) ([]descriptor.SpecificManager, *vhost, bool) {
	req, err := decodeRequest(m)
	if err != nil {
		s.reply(ctx, m, failure(missingText(kind)))
		return nil, nil, false
	}
	_, managers, ok := managersOf(kind, req)
	if !ok {
		s.reply(ctx, m, failure(missingText(kind)))
		return nil, nil, false
	}
	if req.UUID == "" {
		s.reply(ctx, m, failure("UUID not found"))
		return nil, nil, false
	}
	return managers, s.acquire(kind, req.UUID), true
}

// instantiate answers *.instantiate: every manager entry is started on the
// instance's vhost and must register there.
func (s *SMR) instantiate(ctx context.Context, m *bus.Message, kind sm.Kind) {
	managers, v, ok := s.instanceRequest(ctx, m, kind)
	if !ok {
		return
	}
	defer s.leave(v)
	out := make(map[string]sm.SMRResult, len(managers))
	failAll := func(text string) {
		for _, e := range managers {
			out[e.ID] = sm.SMRResult{Status: sm.StatusFailed, UUID: sm.NoError, Error: text}
		}
	}
	if err := s.ensure(ctx, v); err != nil {
		failAll(err.Error())
		s.reply(ctx, m, out)
		return
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	seen := map[string]bool{}
	for _, e := range managers {
		if seen[e.ID] {
			continue // one manager per id and instance: the first entry wins
		}
		seen[e.ID] = true
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := s.instantiateOne(ctx, v, kind, e)
			mu.Lock()
			out[e.ID] = res
			mu.Unlock()
		}()
	}
	wg.Wait()
	// Nothing runs if everything failed: give the vhost back.
	if err := s.release(ctx, v); err != nil {
		s.log.Error("release vhost", "err", err)
	}
	s.reply(ctx, m, out)
}

func (s *SMR) instantiateOne(ctx context.Context, v *vhost, kind sm.Kind, e descriptor.SpecificManager) sm.SMRResult {
	if err := sm.CheckID(kind, e.ID); err != nil {
		return sm.SMRResult{Status: sm.StatusFailed, UUID: sm.NoError, Error: err.Error()}
	}
	key := e.ID + v.uuid
	if s.find(v, key) != nil {
		// A repeated request (a re-published one, §14.1 T9): the manager
		// runs already.
		if rec, ok := s.reg.get(key); ok && rec.alive() {
			return sm.SMRResult{Status: sm.StatusInstantiated, UUID: rec.UUID, Error: sm.NoError}
		}
	}
	sp := spec(kind, e)
	sp.Name = key
	rec, err := s.start(ctx, v, sp)
	if err != nil {
		return sm.SMRResult{Status: sm.StatusFailed, UUID: sm.NoError, Error: err.Error()}
	}
	s.reg.set(key, RecordRunning)
	return sm.SMRResult{Status: sm.StatusInstantiated, UUID: rec.UUID, Error: sm.NoError}
}

// update answers *.update (§7.2): entries that carry currentId and
// currentImage replace the manager currentId with the entry's id and
// image. Entries with only one of the two options are reported (§14.6 M9);
// entries with neither are not updates and are skipped.
func (s *SMR) update(ctx context.Context, m *bus.Message, kind sm.Kind) {
	managers, v, ok := s.instanceRequest(ctx, m, kind)
	if !ok {
		return
	}
	defer s.leave(v)
	out := map[string]sm.SMRResult{}
	for _, e := range managers {
		curID, hasID := e.OptionValue(sm.OptionCurrentID)
		curImage, hasImage := e.OptionValue(sm.OptionCurrentImage)
		switch {
		case !hasID && !hasImage:
			continue
		case !hasID || !hasImage:
			out[e.ID] = sm.SMRResult{Status: sm.StatusFailed, UUID: sm.NoError, Error: "missing currentId/currentImage option"}
			continue
		}
		out[e.ID] = s.updateOne(ctx, v, kind, e, curID, curImage)
	}
	if err := s.release(ctx, v); err != nil {
		s.log.Error("release vhost", "err", err)
	}
	s.reply(ctx, m, out)
}

func (s *SMR) updateOne(ctx context.Context, v *vhost, kind sm.Kind, e descriptor.SpecificManager, curID, curImage string) sm.SMRResult {
	fail := func(text string) sm.SMRResult {
		return sm.SMRResult{Status: sm.StatusFailed, UUID: sm.NoError, Error: text}
	}
	if err := sm.CheckID(kind, e.ID); err != nil {
		return fail(err.Error())
	}
	sp := spec(kind, e)
	if o, ok := s.cfg.Runtime.(Onboarder); ok {
		if err := o.Onboard(ctx, sp); err != nil {
			return fail(err.Error())
		}
	}
	if err := s.ensure(ctx, v); err != nil {
		return fail(err.Error())
	}
	oldKey := curID + v.uuid
	old := s.find(v, oldKey)
	if e.ID == curID {
		rec, ok := s.reg.get(oldKey)
		if !ok || rec.SFUUID != v.uuid || old == nil {
			return fail("no running manager " + curID + " to update")
		}
		// Same id: the new manager registers again with update_version
		// 'true'; it runs under a temporary name until the old one is gone.
		sp.Name = randomName()
		s.reg.set(oldKey, RecordUpdated)
		rec, err := s.start(ctx, v, sp)
		if err != nil {
			s.reg.setIf(oldKey, RecordRunning, RecordUpdated)
			return fail(err.Error())
		}
		if err := s.stop(ctx, v, old); err != nil {
			s.log.Error("update: old manager not stopped", "id", curID, "err", err)
		}
		s.reg.set(oldKey, RecordRunning)
		return sm.SMRResult{Status: sm.StatusUpdated, UUID: rec.UUID, Error: sm.NoError}
	}
	// A new id: start it, then remove the old one and mark the old record
	// terminated (§14.6 M3).
	newKey := e.ID + v.uuid
	sp.Name = newKey
	rec, err := s.start(ctx, v, sp)
	if err != nil {
		return fail(err.Error())
	}
	s.reg.set(newKey, RecordRunning)
	if old != nil {
		if err := s.stop(ctx, v, old); err != nil {
			s.log.Error("update: old manager not stopped", "id", curID, "err", err)
		}
	}
	s.reg.set(oldKey, RecordTerminated)
	return sm.SMRResult{Status: sm.StatusUpdated, UUID: rec.UUID, Error: sm.NoError}
}

// terminate answers *.terminate: entries with the option
// {termination: 'true'} are stopped. Terminating a manager that does not
// run (never started, exited, already terminated) succeeds: there is
// nothing left of it.
func (s *SMR) terminate(ctx context.Context, m *bus.Message, kind sm.Kind) {
	managers, v, ok := s.instanceRequest(ctx, m, kind)
	if !ok {
		return
	}
	defer s.leave(v)
	out := map[string]sm.SMRResult{}
	for _, e := range managers {
		if t, _ := e.OptionValue(sm.OptionTermination); t != "true" {
			continue
		}
		key := e.ID + v.uuid
		res := sm.SMRResult{Status: sm.StatusTerminated, Error: sm.NoError}
		for _, r := range s.instancesOf(v) {
			if r.key != key {
				continue
			}
			if err := s.stop(ctx, v, r); err != nil {
				res = sm.SMRResult{Status: sm.StatusFailed, Error: err.Error()}
			}
		}
		if res.Error == sm.NoError {
			s.reg.set(key, RecordTerminated)
		}
		out[e.ID] = res
	}
	if err := s.release(ctx, v); err != nil {
		s.log.Error("release vhost", "err", err)
	}
	s.reply(ctx, m, out)
}
