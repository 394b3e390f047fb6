// Package placeplugin is the placement plugin (wire-protocol §5.1): it
// answers mano.service.place with a mapping of function instances to VIMs
// computed by a Placer, in the 2018 reply shape {mapping, error}
// (§14.5 L3), which the 2017 SLM reads too.
package placeplugin

import (
	"context"
	"log/slog"

	"github.com/manoctl/manoctl/reconcile/bus"
	"github.com/manoctl/manoctl/reconcile/plugin"
	"github.com/manoctl/manoctl/reconcile/wire"
)

// Info is the placement plugin's identity (§3.1).
var Info = plugin.Info{Name: bus.AppPlacement, Version: "0.1-dev", Description: "This is the Placement plugin"}

// Placer computes a mapping (function id -> VIM uuid) for a request. An
// error means no feasible placement; its text explains why and goes into
// the reply's error field and the logs.
type Placer func(req wire.PlaceRequest) (map[string]string, error)

// Plugin serves mano.service.place.
type Plugin struct {
	ep     *bus.Endpoint
	place  Placer
	log    *slog.Logger
	shared bool
}

// New attaches the plugin to b.
func New(b bus.Bus, place Placer, log *slog.Logger, sharedQueues bool) *Plugin {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Plugin{ep: bus.NewEndpoint(b, bus.AppPlacement, bus.WithLogger(log)), place: place, log: log.With("plugin", "placement"), shared: sharedQueues}
}

// Endpoint returns the plugin's endpoint.
func (p *Plugin) Endpoint() *bus.Endpoint { return p.ep }

// Start subscribes to mano.service.place.
func (p *Plugin) Start(ctx context.Context) error {
	var opts []bus.SubscribeOption
	if p.shared {
		opts = append(opts, bus.WithQueue("manoctl.placement."+bus.TopicServicePlace))
	}
	_, err := p.ep.Handle(ctx, bus.TopicServicePlace, bus.SkipOwn|bus.RequestsOnly, p.onPlace, opts...)
	return err
}

// Close stops the plugin.
func (p *Plugin) Close() error { return p.ep.Close() }

// onPlace computes synchronously: placement is pure and fast, so it runs
// in the delivery goroutine and keeps requests in order.
func (p *Plugin) onPlace(ctx context.Context, m *bus.Message) {
	var req wire.PlaceRequest
	if err := m.Decode(&req); err != nil {
		p.log.Warn("malformed placement request", "app_id", m.AppID, "err", err)
		p.ep.Reply(ctx, m, wire.PlaceReply{Mapping: nil, Error: "malformed placement request: " + err.Error()})
		return
	}
	mapping, err := p.place(req)
	if err != nil {
		p.log.Info("placement infeasible", "service", req.ServID, "reason", err)
		p.ep.Reply(ctx, m, wire.PlaceReply{Mapping: nil, Error: err.Error()})
		return
	}
	out := make(map[string]wire.VIMRef, len(mapping))
	for f, vim := range mapping {
		out[f] = wire.VIMRef{VIM: vim}
	}
	p.ep.Reply(ctx, m, wire.PlaceReply{Mapping: out, Error: nil})
}
