// Package daemon runs manoctl persistently next to a RabbitMQ broker: the
// chosen MANO plugins on the broker (wire-compatible with the original
// gatekeeper, IA, SSMs and FSMs), records in a state directory, the
// control protocol for the CLI and the TUI, optional continuous
// reconciliation of a manifest, the plugin manager's REST interface, and
// /metrics and /healthz.
package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/manoctl/manoctl/adapters/amqp"
	"github.com/manoctl/manoctl/adapters/pmrest"
	"github.com/manoctl/manoctl/adapters/smruntime"
	"github.com/manoctl/manoctl/adapters/sprest"
	"github.com/manoctl/manoctl/reconcile/bus"
	"github.com/manoctl/manoctl/reconcile/control"
	"github.com/manoctl/manoctl/reconcile/desired"
	"github.com/manoctl/manoctl/reconcile/gk"
	"github.com/manoctl/manoctl/reconcile/mano"
	"github.com/manoctl/manoctl/reconcile/placement"
	"github.com/manoctl/manoctl/reconcile/placeplugin"
	"github.com/manoctl/manoctl/reconcile/plan"
	"github.com/manoctl/manoctl/reconcile/records"
	"github.com/manoctl/manoctl/reconcile/slm"
	"github.com/manoctl/manoctl/reconcile/wire"
)

// Plugin names of --plugins, beyond mano's (pm, slm, flm, placement).
const (
	PluginSMR  = "smr"
	PluginPLEX = "plex"
)

// AllPlugins is the default --plugins.
var AllPlugins = []string{mano.PluginPM, mano.PluginSLM, mano.PluginFLM, mano.PluginPlacement, PluginPLEX, PluginSMR}

// Config configures a daemon.
type Config struct {
	// Broker is the AMQP URL (default: $broker_host, then
	// amqp://guest:guest@localhost:5672/%2F); Exchange the exchange
	// (default: $broker_exchange, then son-kernel).
	Broker, Exchange string
	StateDir         string
	// OperationHistory is how many ended operations of each service the
	// records keep (records.Options.OperationHistory).
	OperationHistory int
	Plugins          []string
	// Manifest, when set, is reconciled continuously every
	// ReconcileInterval and on change.
	Manifest          string
	ReconcileInterval time.Duration
	// ReadyFile is written (JSON) once the daemon serves.
	ReadyFile string
	// MetricsAddr serves /metrics and /healthz (loopback; "" disables).
	MetricsAddr string
	// PMRestAddr serves the plugin manager's REST API ("" disables).
	PMRestAddr string
	// SMRuntimeConfig maps manager images to local executables; without
	// it managers must be started elsewhere and register themselves.
	SMRuntimeConfig string
	// SPRest writes records and monitoring to a SONATA service platform
	// over REST when enabled (url_nsr_repository, ...).
	SPRest sprest.Config
	// Timeouts of bus requests; default bus.DefaultTimeout.
	Timeouts func(string) time.Duration
	// DrainTimeout bounds the wait for running workflows at shutdown.
	DrainTimeout time.Duration
	Version      string
	Logger       *slog.Logger
}

// Daemon is a running daemon.
type Daemon struct {
	cfg      Config
	log      *slog.Logger
	store    *records.Store
	bus      *amqp.Bus
	conn     *amqp.Connector
	platform *mano.Platform
	stack    *smruntime.Stack
	rest     *sprest.Client
	server   *control.Server
	loop     *control.Loop
	gk       *gk.Client
	probe    *bus.Endpoint
	metrics  *metrics
	http     []*http.Server
	pmrest   *pmrest.Server
	cancel   context.CancelFunc
	failed   chan error // the records can no longer be written
	wg       sync.WaitGroup
	applyMu  sync.Mutex

	metricsAddr, restAddr string
}

// Start brings a daemon up; Stop (or ctx's end, through Run) brings it
// down.
func Start(ctx context.Context, cfg Config) (d *Daemon, err error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Timeouts == nil {
		cfg.Timeouts = bus.DefaultTimeout
	}
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = 30 * time.Second
	}
	if len(cfg.Plugins) == 0 {
		cfg.Plugins = AllPlugins
	}
	for _, p := range cfg.Plugins {
		if !slices.Contains(AllPlugins, p) {
			return nil, fmt.Errorf("daemon: unknown plugin %q (want some of %v)", p, AllPlugins)
		}
	}
	// The clean-up holds its own reference: a failed Start returns a nil
	// *Daemon, and stopping that would panic.
	dd := &Daemon{cfg: cfg, log: cfg.Logger, metrics: newMetrics(), failed: make(chan error, 1)}
	d = dd
	defer func() {
		if err != nil {
			dd.Stop()
			d = nil
		}
	}()
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("daemon: state: %w", err)
	}
	if d.store, err = records.Open(cfg.StateDir, records.Options{Command: "manoctl daemon", OperationHistory: cfg.OperationHistory}); err != nil {
		return nil, fmt.Errorf("daemon: state %s: %w", cfg.StateDir, err)
	}
	interrupted, err := d.markInterrupted()
	if err != nil {
		return nil, err
	}
	acfg := amqp.Config{URL: cfg.Broker, Exchange: cfg.Exchange, Name: "manoctl daemon", Logger: cfg.Logger}
	if d.bus, err = amqp.Dial(ctx, acfg); err != nil {
		return nil, fmt.Errorf("daemon: broker: %w", err)
	}
	d.conn = amqp.NewConnector(acfg)
	mcfg := mano.Config{
		Records: mano.NewStore(d.store), PluginStore: mano.NewStore(d.store),
		Placer: placeplugin.Algorithm(placement.LoadBalanced), Timeouts: cfg.Timeouts, Observe: d.metrics.observeRequest,
		Logger: cfg.Logger, Register: true, SharedQueues: true,
	}
	var recs slm.Records = mcfg.Records
	if cfg.SPRest.Enabled() {
		cfg.SPRest.Logger = cfg.Logger
		d.rest = sprest.New(cfg.SPRest)
		rr := d.rest.Records(recs)
		recs = rr
		if cfg.SPRest.MonitoringEnabled() {
			mcfg.Monitor = d.rest.Monitor()
		}
		d.resyncREST(rr)
	}
	mcfg.Records = recs
	for _, p := range cfg.Plugins {
		switch p {
		case mano.PluginPM, mano.PluginSLM, mano.PluginFLM, mano.PluginPlacement:
			mcfg.Plugins = append(mcfg.Plugins, p)
		}
	}
	if slices.Contains(cfg.Plugins, PluginSMR) || slices.Contains(cfg.Plugins, PluginPLEX) {
		if err := d.configureManagers(&mcfg); err != nil {
			return nil, err
		}
	}
	if d.platform, err = mano.Start(ctx, d.bus, mcfg); err != nil {
		return nil, fmt.Errorf("daemon: plugins: %w", err)
	}
	d.gk = gk.New(d.bus, control.AppDaemon)
	d.probe = bus.NewEndpoint(d.bus, control.AppDaemon+".refresh", bus.WithTimeouts(cfg.Timeouts))
	scfg := control.ServerConfig{Bus: d.bus, Store: d.store, GK: d.gk, Refresh: d.refresh, ApplyLock: &d.applyMu,
		Version: cfg.Version, Plugins: cfg.Plugins, Manifest: cfg.Manifest, Logger: cfg.Logger}
	if d.platform.PM != nil {
		scfg.PM = d.platform.PM
	}
	d.server = control.NewServer(scfg)
	if err := d.server.Start(ctx); err != nil {
		return nil, fmt.Errorf("daemon: control: %w", err)
	}
	lctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	d.wg.Add(1)
	go d.watchOperations(lctx)
	d.wg.Add(1)
	go d.watchStore(lctx)
	if cfg.Manifest == "" {
		// Without a manifest nothing plans soon; ask the IA once so that
		// get vims shows the infrastructure. The IA may not be up yet.
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			if _, err := d.refresh(lctx, nil); err != nil {
				d.log.Debug("no infrastructure adaptor answered at start", "error", err)
			}
		}()
	}
	if cfg.Manifest != "" {
		// The rate limits scale with the interval the operator chose, up to
		// the loop's defaults: a short interval asks for quick convergence.
		lc := control.LoopConfig{Manifest: cfg.Manifest, Interval: cfg.ReconcileInterval, Logger: cfg.Logger}
		if iv := cfg.ReconcileInterval; iv > 0 {
			lc.MinGap = min(5*time.Second, iv)
			lc.Backoff = min(10*time.Second, 2*iv)
		}
		d.loop = control.NewLoop(d.server, lc)
	}
	rolledBack := d.rollBack(lctx, interrupted)
	if d.loop != nil {
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			// The roll-backs first: a reconcile racing them would have its
			// heals rejected (a workflow runs on the service) and back off.
			select {
			case <-rolledBack:
			case <-lctx.Done():
				return
			}
			d.loop.Run(lctx)
		}()
	}
	if cfg.MetricsAddr != "" {
		if d.metricsAddr, err = d.serveHTTP(cfg.MetricsAddr, d.metricsHandler()); err != nil {
			return nil, fmt.Errorf("daemon: metrics: %w", err)
		}
	}
	if cfg.PMRestAddr != "" && d.platform.PM != nil {
		d.pmrest = pmrest.NewServer(d.platform.PM, pmrest.ServerConfig{Addr: cfg.PMRestAddr, Logger: cfg.Logger})
		if err := d.pmrest.Start(ctx); err != nil {
			return nil, fmt.Errorf("daemon: plugin manager REST: %w", err)
		}
		d.restAddr = d.pmrest.Addr()
	}
	if cfg.ReadyFile != "" {
		if err := d.writeReady(); err != nil {
			return nil, err
		}
	}
	d.log.Info("manoctl daemon ready", "broker", d.bus.Broker(), "exchange", d.bus.Exchange(), "state_dir", cfg.StateDir,
		"plugins", cfg.Plugins, "manifest", cfg.Manifest, "metrics", d.metricsAddr, "pm_rest", d.restAddr)
	return d, nil
}

// configureManagers adds the specific-manager stack: the SMR on real
// vhosts of the broker, managers started as local processes (with a
// runtime configuration) or externally.
func (d *Daemon) configureManagers(mcfg *mano.Config) error {
	vm, err := amqp.NewVhostManager(context.Background(), amqp.ManagerConfig{})
	if err != nil {
		return fmt.Errorf("daemon: vhost management: %w", err)
	}
	stackCfg := smruntime.StackConfig{
		Default: d.bus, Connector: d.conn,
		Vhosts: &smruntime.AMQPVhosts{Manager: vm, SMUser: "specific-management", SMPassword: "sonata",
			Users: []string{brokerUser(d.cfg.Broker)}},
		Exchange: d.bus.Exchange(), Timeouts: d.cfg.Timeouts, Logger: d.cfg.Logger,
		NoPLEX: !slices.Contains(d.cfg.Plugins, PluginPLEX),
		BrokerURL: func(vhost string) string {
			u, err := amqp.URLWithVhost(smBrokerBase(d.cfg.Broker), vhost)
			if err != nil {
				return ""
			}
			return u
		},
	}
	if d.cfg.SMRuntimeConfig != "" {
		lc, err := smruntime.LoadLocalConfig(d.cfg.SMRuntimeConfig)
		if err != nil {
			return fmt.Errorf("daemon: %w", err)
		}
		stackCfg.Runtime = smruntime.NewLocal(lc, d.cfg.Logger)
	} else {
		stackCfg.Runtime = smruntime.NewExternal(d.cfg.Logger)
	}
	d.stack = smruntime.NewStack(stackCfg)
	d.stack.Configure(mcfg)
	if slices.Contains(d.cfg.Plugins, PluginSMR) {
		mcfg.Plugins = append(mcfg.Plugins, PluginSMR)
	}
	if d.stack.PLEX != nil {
		mcfg.Plugins = append(mcfg.Plugins, PluginPLEX)
	}
	return nil
}

// interrupted is an operation a killed daemon left running: its service
// to roll back, and its request, whose requester still waits for the
// final status.
type interrupted struct {
	serviceID     string // "" when there is nothing to roll back
	topic         string // "" when no request is waiting
	correlationID string
	step, err     string
}

// requestTopics are the gatekeeper's request topics by operation kind.
var requestTopics = map[records.OperationKind]string{
	records.OpInstantiate: bus.TopicServiceCreate,
	records.OpTerminate:   bus.TopicServiceTerminate,
	records.OpScale:       bus.TopicServiceScale,
	records.OpUpdate:      bus.TopicServiceUpdate,
}

// markInterrupted finds operations a previous daemon left running (it was
// killed): they are marked interrupted, and their services rolled back
// (instantiations, terminations) or put in error for the next reconcile to
// heal (scale, update).
func (d *Daemon) markInterrupted() ([]interrupted, error) {
	it, err := d.store.OperationsByStatus(nil, records.OpRunning)
	if err != nil {
		return nil, err
	}
	var ops []*records.Operation
	for o := range it {
		ops = append(ops, o)
	}
	var out []interrupted
	rollback := 0
	_, err = d.store.Write(func(txn *records.WriteTxn) error {
		out, rollback = out[:0], 0
		for _, o := range ops {
			c := *o
			c.Steps = append([]records.Step(nil), o.Steps...)
			c.Status = records.OpInterrupted
			c.EndedAt = time.Now().UTC()
			step := "?"
			if n := len(c.Steps); n > 0 {
				step = c.Steps[n-1].Name
				if c.Steps[n-1].Status == records.StepRunning {
					c.Steps[n-1].Status = records.StepFailed
					c.Steps[n-1].Error = "interrupted"
					c.Steps[n-1].EndedAt = c.EndedAt
				}
			}
			c.FailedStep = step
			c.Error = "interrupted: the daemon stopped during this operation"
			if err := d.store.UpsertOperationTxn(txn, &c); err != nil {
				return err
			}
			in := interrupted{step: step, err: c.Error}
			if o.CorrelationID != "" {
				in.topic, in.correlationID = requestTopics[o.Kind], o.CorrelationID
			}
			svc, err := txn.Reader().ServiceByID(nil, o.ServiceID)
			if err != nil || svc == nil || svc.Status == records.ServiceTerminated {
				if svc != nil && svc.Status == records.ServiceTerminated && o.Kind == records.OpTerminate {
					// Only the operation's end was lost: the service was
					// terminated, and the requester told so (READY).
					in.topic = ""
				}
				out = append(out, in)
				continue
			}
			s := svc.Copy()
			s.Error = fmt.Sprintf("%s interrupted at %s by a daemon restart", o.Kind, step)
			if o.Kind == records.OpInstantiate || o.Kind == records.OpTerminate {
				// Rolled back: the service keeps its status (instantiating,
				// terminating), from which the SLM infers that the IA may
				// hold it prepared, so that the roll-back removes it there
				// even when no function was recorded yet.
				in.serviceID = s.ID
				rollback++
			} else {
				s.Status = records.ServiceError
			}
			if err := d.store.UpsertServiceTxn(txn, s); err != nil {
				return err
			}
			out = append(out, in)
		}
		return nil
	})
	if len(ops) > 0 {
		d.log.Warn("operations interrupted by the last shutdown", "count", len(ops), "rolling_back", rollback)
	}
	return out, err
}

// rollBack terminates the services whose instantiation or termination a
// crash cut short: whatever they left in the infrastructure is removed,
// and the reconcile loop (or the next apply) creates them again. Then the
// requester of each interrupted operation gets the final ERROR status the
// SLM would have sent had the operation failed, instead of waiting for
// its own timeout. The channel closes when every roll-back ended.
func (d *Daemon) rollBack(ctx context.Context, ops []interrupted) <-chan struct{} {
	done := make(chan struct{})
	ep := bus.NewEndpoint(d.bus, bus.AppSLM)
	var wg sync.WaitGroup
	for _, o := range ops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			then := "the next reconcile heals the service"
			if o.serviceID != "" {
				res, err := d.gk.Terminate(ctx, o.serviceID, nil)
				if err == nil {
					err = res.Err()
				}
				if err != nil {
					d.log.Error("roll back of an interrupted operation failed; the next reconcile heals it", "service", o.serviceID, "error", err)
					then = "its roll-back failed, the next reconcile heals the service"
				} else {
					d.log.Info("rolled back an interrupted operation", "service", o.serviceID)
					then = "the service was rolled back"
				}
			}
			if o.topic == "" {
				return
			}
			st := wire.StatusMessage{Status: bus.StatusError, Error: fmt.Sprintf("%s: %s; %s", o.step, o.err, then), Timestamp: wire.Now()}
			if err := ep.Notify(ctx, o.topic, st, o.correlationID); err != nil {
				d.log.Warn("could not send the final status of an interrupted request", "topic", o.topic, "correlation_id", o.correlationID, "error", err)
			}
		}()
	}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		wg.Wait()
		ep.Close()
		close(done)
	}()
	return done
}

// resyncREST queues the repository writes of every stored service: the
// REST queue lives in memory and a restart must not lose a write.
func (d *Daemon) resyncREST(rr *sprest.Records) {
	it, err := d.store.Services(nil)
	if err != nil {
		return
	}
	st := mano.NewStore(d.store)
	for s := range it {
		if ss, err := st.LoadService(context.Background(), s.ID); err == nil {
			rr.Resync(ss)
		}
	}
}

// refresh asks the IA for VIM use (compute.list) and, when the IA is
// manoctl's emulator, for the functions it runs.
func (d *Daemon) refresh(ctx context.Context, st *desired.State) (*plan.Infra, error) {
	var top []wire.VIMResources
	m, err := d.probe.Request(ctx, bus.TopicIAComputeList, map[string]any{}, bus.WithTimeout(10*time.Second))
	if err != nil {
		return nil, fmt.Errorf("infrastructure adaptor: %w", err)
	}
	if err := m.Decode(&top); err != nil {
		return nil, fmt.Errorf("infrastructure adaptor: compute.list: %w", err)
	}
	d.recordVIMs(top, st)
	infra := &plan.Infra{VIMs: placeplugin.VIMs(top)}
	if m, err := d.probe.Request(ctx, control.TopicEmulatorState, map[string]any{}, bus.WithTimeout(2*time.Second)); err == nil {
		var st control.EmulatorState
		if m.Decode(&st) == nil {
			infra.Functions = map[string]bool{}
			for _, id := range st.Functions {
				infra.Functions[id] = true
			}
			d.reapOrphans(ctx, st.Instances)
		}
	}
	return infra, nil
}

// reapOrphans removes what the IA runs for services the records hold as
// terminated. Such functions are orphans: a deploy the SLM gave up on (it
// timed out, the broker restarted, the daemon was killed and its
// operation rolled back) that the IA completed afterwards. No record owns
// them, so nothing else would ever remove them. They are removed as a
// termination would, with the IA's service.remove for their service
// instance. Services the records do not know are left alone: they are not
// this MANO's.
func (d *Daemon) reapOrphans(ctx context.Context, instances []control.EmulatorFunction) {
	byService := map[string]int{}
	for _, f := range instances {
		byService[f.ServiceInstanceID]++
	}
	r := d.store.Snapshot().Reader()
	for svc, n := range byService {
		s, err := r.ServiceByID(nil, svc)
		if err != nil || s == nil || s.Status != records.ServiceTerminated {
			continue
		}
		m, err := d.probe.Request(ctx, bus.TopicIAServiceRemove, wire.IAServiceRemoveRequest{InstanceUUID: svc})
		var rep wire.IAStatusReply
		if err == nil {
			err = m.Decode(&rep)
		}
		if err == nil && !rep.OK() {
			err = fmt.Errorf("%s: %s", rep.RequestStatus, rep.Message)
		}
		if err != nil {
			d.log.Warn("could not remove orphaned functions; the next refresh retries", "service", svc, "functions", n, "error", err)
			continue
		}
		d.metrics.observeOrphans(n)
		d.log.Warn("removed orphaned functions of a terminated service", "service", svc, "functions", n)
	}
}

// recordVIMs keeps the VIM records (get vims, the VIM names get and
// describe show) as the IA last reported them. The 2017 IA may leave
// vim_name out; a manifest VIM of the same uuid names it then.
func (d *Daemon) recordVIMs(top []wire.VIMResources, st *desired.State) {
	names := map[string]string{}
	if st != nil {
		for _, v := range st.VIMs {
			id := v.UUID
			if id == "" {
				id = desired.VIMUUID(v.Name)
			}
			names[id] = v.Name
		}
	}
	_, err := d.store.Write(func(txn *records.WriteTxn) error {
		for _, v := range top {
			name := v.VIMName
			if name == "" {
				name = names[v.VIMUUID]
			}
			if old, _ := txn.Reader().VIMByUUID(nil, v.VIMUUID); name == "" && old != nil {
				name = old.Name
			}
			if err := d.store.UpsertVIMTxn(txn, &records.VIM{UUID: v.VIMUUID, Name: name, City: v.VIMCity, Endpoint: v.VIMEndpoint, Domain: v.VIMDomain,
				CoresTotal: int64(v.CoreTotal), CoresUsed: int64(v.CoreUsed), MemoryTotalMB: int64(v.MemoryTotal), MemoryUsedMB: int64(v.MemoryUsed)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		d.log.Warn("could not record the VIMs", "error", err)
	}
}

// watchStore stops the daemon when its records can no longer be written
// (the journal refuses every write after one failed, e.g. on a full
// disk): a daemon that cannot record what it does must not go on doing
// it. Run returns the error, manoctl daemon exits non-zero, and its
// supervisor starts it again; the new daemon reopens the state directory
// and rolls back what this one left running.
func (d *Daemon) watchStore(ctx context.Context) {
	defer d.wg.Done()
	select {
	case <-ctx.Done():
		return
	case <-d.store.Snapshot().AbandonCh():
	}
	if ctx.Err() != nil {
		return // closing
	}
	// A transaction with no change returns the journal's failure.
	_, err := d.store.Write(func(*records.WriteTxn) error { return nil })
	if err == nil {
		err = errors.New("records closed")
	}
	d.failed <- fmt.Errorf("daemon: state directory %s can no longer be written: %w", d.cfg.StateDir, err)
}

// Failed delivers an error when the daemon can no longer run: its records
// can no longer be written. Run stops the daemon then.
func (d *Daemon) Failed() <-chan error { return d.failed }

// watchOperations feeds the workflow metrics from record changes.
func (d *Daemon) watchOperations(ctx context.Context) {
	defer d.wg.Done()
	seen := map[string]int{}
	for ctx.Err() == nil {
		sub := d.store.Subscribe(8192)
		for {
			select {
			case <-ctx.Done():
				sub.Close()
				return
			case batch, ok := <-sub.C:
				if !ok {
					goto resubscribe
				}
				for _, e := range batch.Events {
					if o, ok := e.Object.(*records.Operation); ok && e.Table == records.TableOperations {
						d.metrics.observeOperation(o, seen)
					}
				}
			}
		}
	resubscribe:
		if !errors.Is(sub.Err(), records.ErrSubscriptionOverflow) {
			return
		}
	}
}

func (d *Daemon) serveHTTP(addr string, h http.Handler) (string, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return "", fmt.Errorf("%s is not a loopback address", addr)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	d.http = append(d.http, srv)
	go srv.Serve(l)
	return l.Addr().String(), nil
}

func (d *Daemon) health() error {
	if !d.bus.Connected() {
		return errors.New("not connected to the broker")
	}
	if d.platform == nil {
		return errors.New("plugins not started")
	}
	return nil
}

// Ready is what the ready file holds.
type Ready struct {
	PID         int       `json:"pid"`
	Broker      string    `json:"broker"`
	Exchange    string    `json:"exchange"`
	StateDir    string    `json:"state_dir"`
	MetricsAddr string    `json:"metrics_addr,omitempty"`
	PMRestAddr  string    `json:"pm_rest_addr,omitempty"`
	Lineage     string    `json:"lineage"`
	Started     time.Time `json:"started"`
}

func (d *Daemon) writeReady() error {
	r := Ready{PID: os.Getpid(), Broker: d.bus.Broker(), Exchange: d.bus.Exchange(), StateDir: d.cfg.StateDir,
		MetricsAddr: d.metricsAddr, PMRestAddr: d.restAddr, Lineage: d.store.Lineage(), Started: time.Now().UTC()}
	b, _ := json.MarshalIndent(r, "", "  ")
	tmp := d.cfg.ReadyFile + ".tmp"
	if err := os.MkdirAll(filepath.Dir(d.cfg.ReadyFile), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("daemon: ready file: %w", err)
	}
	return os.Rename(tmp, d.cfg.ReadyFile)
}

// MetricsAddr is where /metrics is served.
func (d *Daemon) MetricsAddr() string { return d.metricsAddr }

// Store is the daemon's records.
func (d *Daemon) Store() *records.Store { return d.store }

// Loop is the reconcile loop (nil without a manifest).
func (d *Daemon) Loop() *control.Loop { return d.loop }

// Stop shuts down gracefully: no new requests, running workflows drain
// (bounded by DrainTimeout), plugins deregister, the broker connection
// and the state directory close.
func (d *Daemon) Stop() error {
	var errs []error
	if d.cancel != nil {
		d.cancel()
	}
	if d.cfg.ReadyFile != "" {
		os.Remove(d.cfg.ReadyFile)
	}
	for _, s := range d.http {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		s.Shutdown(ctx)
		cancel()
	}
	if d.pmrest != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		d.pmrest.Close(ctx)
		cancel()
	}
	if d.server != nil {
		errs = append(errs, d.server.Close())
	}
	d.wg.Wait()
	if d.platform != nil {
		done := make(chan error, 1)
		go func() { done <- d.platform.Close() }()
		select {
		case err := <-done:
			errs = append(errs, err)
		case <-time.After(d.cfg.DrainTimeout):
			errs = append(errs, fmt.Errorf("daemon: workflows still running after %s; stopping anyway (the next start rolls them back)", d.cfg.DrainTimeout))
		}
	}
	if d.stack != nil {
		errs = append(errs, d.stack.Close())
	}
	if d.gk != nil {
		d.gk.Close()
	}
	if d.probe != nil {
		d.probe.Close()
	}
	if d.rest != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		errs = append(errs, d.rest.Close(ctx))
		cancel()
	}
	if d.bus != nil {
		errs = append(errs, d.bus.Close())
	}
	if d.store != nil {
		errs = append(errs, d.store.Close())
	}
	return errors.Join(errs...)
}

// Run starts a daemon and stops it when ctx ends.
func Run(ctx context.Context, cfg Config) error {
	d, err := Start(ctx, cfg)
	if err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		d.log.Info("manoctl daemon stopping")
		return d.Stop()
	case err := <-d.failed:
		d.log.Error("manoctl daemon stopping: it can no longer record what it does; restart it once the cause is fixed", "error", err)
		d.Stop()
		return err
	}
}
