package smruntime

import (
	"errors"
	"log/slog"
	"time"

	"github.com/manoctl/manoctl/reconcile/bus"
	"github.com/manoctl/manoctl/reconcile/mano"
	"github.com/manoctl/manoctl/reconcile/sm"
	"github.com/manoctl/manoctl/reconcile/smr"
)

// StackConfig wires the specific-manager plugins of one platform.
type StackConfig struct {
	// Default is the platform's default vhost; Connector opens the
	// managers' vhosts on the same broker.
	Default   bus.Bus
	Connector bus.Connector
	// Vhosts creates the managers' vhosts; Runtime starts managers.
	Vhosts  smr.Vhosts
	Runtime smr.Runtime
	// BrokerURL and Exchange are what managers are started with
	// (broker_host of their vhost, broker_exchange).
	BrokerURL func(vhost string) string
	Exchange  string
	// RegistrationTimeout bounds a manager's registration; default 30 s.
	RegistrationTimeout time.Duration
	// Timeouts of the calls to managers and the registry; default
	// bus.DefaultTimeout.
	Timeouts func(topic string) time.Duration
	// NoPLEX leaves the placement executive out.
	NoPLEX bool
	Logger *slog.Logger
}

// Stack is the SMR, the placement executive and the SLM- and FLM-side
// manager steps of one platform.
type Stack struct {
	SMR      *smr.SMR
	PLEX     *sm.PLEX
	Managers *sm.Managers
	FSMs     *sm.FSMs
}

// NewStack builds the stack; Configure adds it to a platform's
// configuration before mano.Start.
func NewStack(cfg StackConfig) *Stack {
	s := &Stack{
		SMR: smr.New(cfg.Default, smr.Config{
			Runtime: cfg.Runtime, Vhosts: cfg.Vhosts, Connector: cfg.Connector,
			BrokerURL: cfg.BrokerURL, Exchange: cfg.Exchange,
			RegistrationTimeout: cfg.RegistrationTimeout, Logger: cfg.Logger,
		}),
		Managers: sm.NewManagers(sm.ManagersConfig{Connector: cfg.Connector, Timeouts: cfg.Timeouts, Logger: cfg.Logger}),
		FSMs:     sm.NewFSMs(cfg.Default, sm.FSMsConfig{Connector: cfg.Connector, Timeouts: cfg.Timeouts, Logger: cfg.Logger}),
	}
	if !cfg.NoPLEX {
		s.PLEX = sm.NewPLEX(cfg.Default, sm.PLEXConfig{Connector: cfg.Connector, Timeouts: cfg.Timeouts, Logger: cfg.Logger})
	}
	return s
}

// Configure sets the platform's Managers and FSMs and adds the SMR (and
// PLEX) as extensions.
func (s *Stack) Configure(c *mano.Config) {
	c.Managers = s.Managers
	c.FSMs = s.FSMs
	c.Extensions = append(c.Extensions, s.SMR)
	if s.PLEX != nil {
		c.Extensions = append(c.Extensions, s.PLEX)
	}
}

// Close closes the SLM's and FLM's manager connections; call it after the
// platform's Close, which stops the SMR (and with it every manager) and
// PLEX.
func (s *Stack) Close() error {
	return errors.Join(s.Managers.Close(), s.FSMs.Close())
}
