package sdk_test

import (
	"context"
	"fmt"
	"slices"

	"github.com/manoctl/manoctl/adapters/membus"
	"github.com/manoctl/manoctl/reconcile/bus"
	"github.com/manoctl/manoctl/reconcile/sm"
	"github.com/manoctl/manoctl/reconcile/sm/sdk"
)

// A task SSM that moves vnf_chain before vnfs_start. In a deployment the
// registry starts it with broker_host, broker_exchange and sf_uuid in its
// environment and main is
//
//	os.Exit(sdk.Main(sdk.Config{Kind: sm.KindSSM, ServiceName: "demo", ManagerName: "task"},
//		smruntime.AMQPDialer{}, setup))
//
// Here it runs on the in-process bus, with a stand-in for the registry and
// for the SLM.
func Example() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	broker := membus.New()
	defer broker.Close()
	broker.AddVhost("ssm-1234")
	vhost, _ := broker.Connect(ctx, "ssm-1234")

	// The registry's side of the registration handshake (reconcile/smr).
	registry := bus.NewEndpoint(vhost, bus.AppSMR)
	registry.Handle(ctx, bus.TopicSMRegistration, bus.RequestsOnly, func(ctx context.Context, m *bus.Message) {
		var req sm.RegistrationRequest
		m.Decode(&req)
		fmt.Println("registering", req.SpecificManagerID, "for", req.SFUUID)
		registry.Reply(ctx, m, sm.RegistrationReply{Status: sm.StatusRegistered, SpecificManagerID: req.SpecificManagerID, UUID: "r-1"})
	})

	// The manager.
	dialer := sdk.DialerFunc(func(ctx context.Context, url, exchange, appID string) (bus.Bus, error) {
		v, err := sdk.VhostOf(url)
		if err != nil {
			return nil, err
		}
		return broker.Connect(ctx, v)
	})
	env := map[string]string{"broker_host": "membus://local/ssm-1234", "sf_uuid": "1234"}
	m, err := sdk.New(sdk.Config{Kind: sm.KindSSM, ServiceName: "demo", ManagerName: "task"}.
		FromEnv(func(k string) string { return env[k] }), dialer)
	if err != nil {
		fmt.Println(err)
		return
	}
	m.Handle(sm.TypeTask, func(ctx context.Context, req *sdk.Request) (any, error) {
		var task sm.TaskRequest
		if err := req.Decode(&task); err != nil {
			return nil, err
		}
		s := slices.DeleteFunc(slices.Clone(task.Schedule), func(t string) bool { return t == "vnf_chain" })
		i := slices.Index(s, "vnfs_start")
		return sdk.Schedule(slices.Insert(s, i, "vnf_chain")), nil
	})
	registered := make(chan struct{})
	m.OnRegistered(func(context.Context, sm.RegistrationReply) { close(registered) })
	go m.Run(ctx)
	<-registered

	// The SLM's call (wire-protocol §4.4 step 4).
	slm := bus.NewEndpoint(vhost, bus.AppSLM)
	reply, err := slm.Request(ctx, bus.GenericSSMTopic("1234"), sm.TaskRequest{
		Schedule: []string{"vnf_deploy", "vnfs_start", "vnf_chain", "inform_gk_instantiation"}, SSMType: sm.TypeTask,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	var task sm.TaskReply
	reply.Decode(&task)
	fmt.Println(reply.AppID, task.Status, task.Schedule)
	// Output:
	// registering sonssmdemotask1 for 1234
	// sonssmdemotask1 COMPLETED [vnf_deploy vnf_chain vnfs_start inform_gk_instantiation]
}
