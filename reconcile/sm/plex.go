package sm

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/manoctl/manoctl/reconcile/bus"
	"github.com/manoctl/manoctl/reconcile/plugin"
	"github.com/manoctl/manoctl/schema/descriptor"
)

// PLEXInfo is the placement executive's plugin identity (§3.1, §5.3).
var PLEXInfo = plugin.Info{Name: bus.AppPLEX, Version: "v0.01", Description: "Placement Executive Plugin"}

// PLEXPluginName is the placement executive's name in mano.Config.Plugins.
const PLEXPluginName = "plex"

// PLEXConfig wires a PLEX.
type PLEXConfig struct {
	// Connector opens connections to the ssm-<uuid> vhosts; required.
	Connector bus.Connector
	// Timeouts per topic; default bus.DefaultTimeout.
	Timeouts     func(topic string) time.Duration
	Logger       *slog.Logger
	SharedQueues bool
}

// PLEX is the placement executive (§5.3) for external callers: a request
// {uuid, ...} on placement.executive.request (default vhost) is forwarded
// unchanged to placement.ssm.<uuid> on vhost ssm-<uuid>, with the
// request's correlation id, and the SSM's reply is sent back with notify
// on placement.executive.request with that correlation id. The manoctl SLM
// does not use it: it calls the placement SSM directly (§14.5 L5). Where
// the original stays silent (no uuid, no SSM vhost, no answer), PLEX
// answers {mapping: null, error: <text>}.
type PLEX struct {
	ep  *bus.Endpoint
	cfg PLEXConfig
	log *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	mu     sync.Mutex
	wg     sync.WaitGroup
	closed bool
}

// NewPLEX attaches a placement executive to b, the default vhost.
func NewPLEX(b bus.Bus, cfg PLEXConfig) *PLEX {
	if cfg.Timeouts == nil {
		cfg.Timeouts = bus.DefaultTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &PLEX{
		ep:  bus.NewEndpoint(b, bus.AppPLEX, bus.WithTimeouts(cfg.Timeouts), bus.WithLogger(cfg.Logger)),
		cfg: cfg, log: cfg.Logger.With("plugin", "plex"), ctx: ctx, cancel: cancel,
	}
}

// Name is the plugin name (mano.Extension).
func (p *PLEX) Name() string { return PLEXPluginName }

// Info is the plugin identity (mano.Extension).
func (p *PLEX) Info() plugin.Info { return PLEXInfo }

// Endpoint returns the endpoint on the default vhost.
func (p *PLEX) Endpoint() *bus.Endpoint { return p.ep }

// Start subscribes to placement.executive.request.
func (p *PLEX) Start(ctx context.Context) error {
	var opts []bus.SubscribeOption
	if p.cfg.SharedQueues {
		opts = append(opts, bus.WithQueue("manoctl.plex."+bus.TopicPlacementExecutive))
	}
	_, err := p.ep.Handle(ctx, bus.TopicPlacementExecutive, bus.SkipOwn|bus.RequestsOnly, func(_ context.Context, m *bus.Message) {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return
		}
		p.wg.Add(1)
		p.mu.Unlock()
		go func() {
			defer p.wg.Done()
			p.forward(p.ctx, m)
		}()
	}, opts...)
	return err
}

// Close stops the executive; forwards in progress are cancelled.
func (p *PLEX) Close() error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	err := p.ep.Close()
	p.cancel()
	p.wg.Wait()
	return err
}

func (p *PLEX) fail(ctx context.Context, m *bus.Message, text string) {
	p.log.Warn("placement request not forwarded", "correlation_id", m.CorrelationID, "error", text)
	p.ep.Notify(ctx, bus.TopicPlacementExecutive, map[string]any{"mapping": nil, "error": text}, m.CorrelationID)
}

func (p *PLEX) forward(ctx context.Context, m *bus.Message) {
	var body map[string]any
	if err := m.Decode(&body); err != nil || body == nil {
		p.fail(ctx, m, "placement request is not a mapping")
		return
	}
	uuid := descriptor.Str(body, "uuid")
	if uuid == "" {
		p.fail(ctx, m, "placement request without uuid")
		return
	}
	b, err := p.cfg.Connector.Connect(ctx, bus.SSMVhost(uuid))
	if err != nil {
		p.fail(ctx, m, "no placement SSM for "+uuid+": "+err.Error())
		return
	}
	defer b.Close()
	ep := bus.NewEndpoint(b, bus.AppPLEX, bus.WithTimeouts(p.cfg.Timeouts), bus.WithLogger(p.cfg.Logger))
	defer ep.Close()
	var opts []bus.CallOption
	if m.CorrelationID != "" {
		opts = append(opts, bus.WithCorrelationID(m.CorrelationID))
	}
	r, err := ep.Request(ctx, bus.PlacementSSMTopic(uuid), body, opts...)
	if err != nil {
		p.fail(ctx, m, err.Error())
		return
	}
	var reply any
	if err := r.Decode(&reply); err != nil {
		p.fail(ctx, m, "malformed placement SSM reply: "+err.Error())
		return
	}
	corr := r.CorrelationID
	if err := p.ep.Notify(ctx, bus.TopicPlacementExecutive, reply, corr); err != nil {
		p.log.Error("placement reply not sent", "correlation_id", corr, "err", err)
	}
}
