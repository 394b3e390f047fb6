// Package managers holds the example specific managers, written with
// reconcile/sm/sdk: the small main packages next to it run them as
// processes over AMQP, and tests run them in-process (adapters/smruntime
// InProcess) on the in-process bus.
//
//   - PlacementSSM (placement-ssm): places a service with a policy of its
//     own, "colocate": the whole service on the VIM with the most free
//     cores that can take all of it, else each function on the VIM with the
//     most free memory that fits it (worst fit).
//   - TaskSSM (task-ssm): reorders the instantiation schedule so that the
//     service is chained before its functions start, and configured in
//     between: ... vnf_deploy, vnf_chain, configure_ssm, vnfs_config,
//     vnfs_start, store_nsr ... (the configure steps are left out with
//     -no-configure).
//   - ConfigureSSM (configure-ssm): answers the configure call with a
//     configure trigger and payload for every function that has a
//     configure FSM, and switches the event off for the others.
//   - ConfigureFSM (configure-fsm): the FSM side; it serves the fsm_type
//     given with -type (configure, start or stop) and answers COMPLETED.
//
// Every example takes -service, -function, -name, -number and -version
// (the parts of its id, §7.4), and two test hooks: -fail-on <type> answers
// calls of that type with an error, -crash-on <type> exits with status 3
// (in-process: aborts) when called with it.
package managers

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"

	"github.com/manoctl/manoctl/reconcile/sm"
	"github.com/manoctl/manoctl/reconcile/sm/sdk"
	"github.com/manoctl/manoctl/schema/descriptor"
)

// Role is an example manager.
type Role string

// The examples.
const (
	RolePlacementSSM Role = "placement-ssm"
	RoleTaskSSM      Role = "task-ssm"
	RoleConfigureSSM Role = "configure-ssm"
	RoleConfigureFSM Role = "configure-fsm"
)

// Options are an example's command-line options.
type Options struct {
	Service, Function, Name, Number, Version string
	// Type is the fsm_type the configure FSM serves (configure, start,
	// stop).
	Type string
	// NoConfigure makes the task SSM leave out configure_ssm and
	// vnfs_config.
	NoConfigure bool
	// FailOn and CrashOn are test hooks (see the package comment).
	FailOn, CrashOn string
	// Crash is what CrashOn does; default os.Exit(3).
	Crash func(m *sdk.Manager)
}

func (r Role) kind() sm.Kind {
	if r == RoleConfigureFSM {
		return sm.KindFSM
	}
	return sm.KindSSM
}

func (r Role) defaultName() string {
	switch r {
	case RolePlacementSSM:
		return "placement"
	case RoleTaskSSM:
		return "task"
	}
	return "configure"
}

// Flags parses an example's arguments.
func Flags(r Role, args []string, stderr io.Writer) (Options, error) {
	fs := flag.NewFlagSet(string(r), flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o Options
	fs.StringVar(&o.Service, "service", "demo", "service name (part of the manager id)")
	fs.StringVar(&o.Function, "function", "iperf", "function name (FSMs; part of the manager id)")
	fs.StringVar(&o.Name, "name", r.defaultName(), "manager name (part of the manager id)")
	fs.StringVar(&o.Number, "number", "1", "id number (part of the manager id)")
	fs.StringVar(&o.Version, "version", "0.1", "manager version")
	fs.StringVar(&o.Type, "type", sm.TypeConfigure, "fsm_type served (configure-fsm)")
	fs.BoolVar(&o.NoConfigure, "no-configure", false, "task SSM: do not schedule configure_ssm and vnfs_config")
	fs.StringVar(&o.FailOn, "fail-on", "", "test hook: answer calls of this type with an error")
	fs.StringVar(&o.CrashOn, "crash-on", "", "test hook: crash when called with this type")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	return o, nil
}

// Config is the SDK configuration of an example.
func Config(r Role, o Options) sdk.Config {
	return sdk.Config{
		Kind: r.kind(), ServiceName: o.Service, FunctionName: o.Function, ManagerName: o.Name,
		Number: o.Number, Version: o.Version, Description: "manoctl example " + string(r),
	}
}

// Setup returns the function that registers the example's handlers.
func Setup(r Role, o Options) func(*sdk.Manager) error {
	if o.Crash == nil {
		o.Crash = func(*sdk.Manager) { os.Exit(3) }
	}
	return func(m *sdk.Manager) error {
		hook := func(typ string, h sdk.HandlerFunc) sdk.HandlerFunc {
			return func(ctx context.Context, req *sdk.Request) (any, error) {
				switch typ {
				case o.CrashOn:
					o.Crash(m)
					return nil, errors.New("crashed")
				case o.FailOn:
					return nil, fmt.Errorf("%s refuses %s calls (-fail-on)", m.ID(), typ)
				}
				return h(ctx, req)
			}
		}
		switch r {
		case RolePlacementSSM:
			m.HandlePlacement(hook(sm.TypePlacement, place))
		case RoleTaskSSM:
			m.Handle(sm.TypeTask, hook(sm.TypeTask, func(ctx context.Context, req *sdk.Request) (any, error) {
				return reorder(req, !o.NoConfigure)
			}))
		case RoleConfigureSSM:
			m.Handle(sm.TypeConfigure, hook(sm.TypeConfigure, configure))
		case RoleConfigureFSM:
			m.Handle(o.Type, hook(o.Type, func(ctx context.Context, req *sdk.Request) (any, error) {
				return event(o.Type, req)
			}))
		default:
			return fmt.Errorf("unknown example %q", r)
		}
		return nil
	}
}

// Main runs an example as a process: it parses args, reads broker_host,
// broker_exchange and sf_uuid, and serves until SIGTERM. d is the
// transport (AMQP for real deployments).
func Main(r Role, args []string, d sdk.Dialer) int {
	o, err := Flags(r, args, os.Stderr)
	if err != nil {
		return 2
	}
	return sdk.Main(Config(r, o), d, Setup(r, o))
}

// Run runs an example until ctx ends; getenv supplies broker_host,
// broker_exchange and sf_uuid (the in-process runtime's ManagerFunc).
func Run(ctx context.Context, r Role, o Options, d sdk.Dialer, getenv func(string) string) error {
	if o.Crash == nil {
		o.Crash = func(m *sdk.Manager) { m.Abort(errors.New("crashed (-crash-on)")) }
	}
	m, err := sdk.New(Config(r, o).FromEnv(getenv), d)
	if err != nil {
		return err
	}
	if err := Setup(r, o)(m); err != nil {
		return err
	}
	return m.Run(ctx)
}

// place is the placement SSM's policy, "colocate".
func place(_ context.Context, req *sdk.Request) (any, error) {
	var p sm.PlacementRequest
	if err := req.DecodeContent(&p); err != nil {
		return nil, err
	}
	type vim struct {
		uuid   string
		cores  int
		memory float64
		index  int
	}
	vims := make([]*vim, 0, len(p.Topology))
	for i, t := range p.Topology {
		vims = append(vims, &vim{uuid: t.VIMUUID, cores: t.CoreTotal - t.CoreUsed, memory: float64(t.MemoryTotal - t.MemoryUsed), index: i})
	}
	type fn struct {
		id     string
		demand descriptor.Demand
	}
	var fns []fn
	var total descriptor.Demand
	for _, d := range p.VNFDs {
		v, err := descriptor.ParseVNFD(d)
		if err != nil {
			return nil, err
		}
		id := descriptor.Str(d, "instance_uuid")
		if id == "" {
			return nil, fmt.Errorf("VNFD %s carries no instance_uuid", v.Identity)
		}
		fns = append(fns, fn{id: id, demand: v.Demand()})
		total = total.Add(v.Demand())
	}
	if len(vims) == 0 {
		return nil, errors.New("no VIM in the topology")
	}
	mapping := map[string]string{}
	// Colocate: the VIM with most free cores that takes everything.
	byCores := slices.Clone(vims)
	sort.SliceStable(byCores, func(i, j int) bool { return byCores[i].cores > byCores[j].cores })
	if best := byCores[0]; best.cores >= total.Cores && best.memory >= total.MemoryMB {
		for _, f := range fns {
			mapping[f.id] = best.uuid
		}
		return sdk.Placement(mapping), nil
	}
	// Otherwise worst fit by free memory, function by function.
	for _, f := range fns {
		sort.SliceStable(vims, func(i, j int) bool { return vims[i].memory > vims[j].memory })
		placed := false
		for _, v := range vims {
			if v.cores >= f.demand.Cores && v.memory >= f.demand.MemoryMB {
				v.cores -= f.demand.Cores
				v.memory -= f.demand.MemoryMB
				mapping[f.id] = v.uuid
				placed = true
				break
			}
		}
		if !placed {
			return sdk.PlacementFailed(fmt.Sprintf("function %s (%d cores, %.0f MB) fits on no VIM", f.id, f.demand.Cores, f.demand.MemoryMB)), nil
		}
	}
	return sdk.Placement(mapping), nil
}

// reorder is the task SSM: chain before start, configure in between.
func reorder(req *sdk.Request, withConfigure bool) (any, error) {
	var t sm.TaskRequest
	if err := req.Decode(&t); err != nil {
		return nil, err
	}
	s := slices.Clone(t.Schedule)
	iStart, iChain := slices.Index(s, "vnfs_start"), slices.Index(s, "vnf_chain")
	if iStart < 0 || iChain < 0 || iChain < iStart {
		return sdk.Schedule(s), nil // not an instantiation as we know it
	}
	s = slices.Delete(s, iChain, iChain+1)
	insert := []string{"vnf_chain"}
	if withConfigure {
		insert = append(insert, "configure_ssm", "vnfs_config")
	}
	s = slices.Insert(s, iStart, insert...)
	return sdk.Schedule(s), nil
}

// configure is the configure SSM: a configure trigger for every function
// with a configure FSM, with the peers' VIMs as payload; off for the
// others.
func configure(_ context.Context, req *sdk.Request) (any, error) {
	var c sm.ConfigureRequest
	if err := req.Decode(&c); err != nil {
		return nil, err
	}
	peers := map[string]any{}
	for _, f := range c.Functions {
		peers[descriptor.Str(f, "vnf_id")] = descriptor.Str(f, "vim_uuid")
	}
	var updates []sm.FunctionUpdate
	for _, f := range c.Functions {
		id := descriptor.Str(f, "id")
		vnfd := descriptor.AsMap(f["vnfd"])
		v, err := descriptor.ParseVNFD(vnfd)
		if err != nil {
			return nil, err
		}
		if _, ok := descriptor.TypedManagers(v.FSMs)[sm.TypeConfigure]; !ok {
			updates = append(updates, sdk.Trigger(id, sm.TypeConfigure, false, nil))
			continue
		}
		updates = append(updates, sdk.Trigger(id, sm.TypeConfigure, true, map[string]any{
			"workflow": c.Workflow, "vnf_id": descriptor.Str(f, "vnf_id"), "peers": peers,
		}))
	}
	return sdk.Configure(updates...), nil
}

// event is the configure FSM: a real one would configure the VNF at the
// address in content's vnfr (or apply the configure SSM's payload); the
// example accepts any content.
func event(string, *sdk.Request) (any, error) {
	return sdk.Completed(), nil
}
