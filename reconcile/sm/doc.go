// Package sm is the MANO side of SONATA's specific managers (wire-protocol
// §7): the shared protocol types and naming rules of service and function
// specific managers (SSMs, FSMs), the SLM's SSM steps (Managers, which
// implements slm.SpecificManagers), the FLM's FSM steps (FSMs, which
// implements flm.FSMs) and the placement executive (PLEX).
//
// The specific manager registry itself is reconcile/smr; the Go SDK for
// writing managers is reconcile/sm/sdk; manager runtimes (local processes,
// external managers, in-process managers) are adapters/smruntime.
//
// # Vhosts
//
// Every service instance has its own virtual host ssm-<serv_id>, every
// function instance fsm-<func_id> (§7.4). The SMR creates them before it
// starts a manager and deletes them when the last manager of the instance
// is gone (§14.6 M5). The MANO reaches them through a bus.Connector: on
// the in-process bus a vhost is a namespace of the broker, over AMQP a
// real RabbitMQ vhost.
//
// # What the SLM and FLM send (§7.5)
//
//	SLM -> SMR      specific.manager.registry.ssm.on-board    {NSD, VNFD: [...]}
//	SLM -> SMR      specific.manager.registry.ssm.instantiate {NSD, UUID}
//	SLM -> task     generic.ssm.<sid>      {schedule, ssm_type: task}
//	SLM -> placing  placement.ssm.<sid>    {nsd, topology, uuid, vnfds, nap}   (§14.5 L5)
//	SLM -> config   generic.ssm.<sid>      {service, functions, ssm_type: configure, workflow}
//	SLM -> monitor  generic.ssm.<sid>      {nsd, nsr, vnfs, ssm_type: monitor} (notification)
//	monitor -> SLM  monitor.ssm.<sid>      {service_instance_id, vnf?, service?, workflow?, schedule?}
//	SLM -> SMR      specific.manager.registry.ssm.terminate   {NSD (termination options), UUID}
//	SLM -> SMR      specific.manager.registry.fsm.terminate   {VNFD (termination options), UUID}
//	FLM -> SMR      specific.manager.registry.fsm.on-board    {VNFD}
//	FLM -> SMR      specific.manager.registry.fsm.instantiate {VNFD, UUID}
//	FLM -> FSM      generic.fsm.<fid>      {content, fsm_type}
//
// Where the original hangs or crashes manoctl answers with the same
// shapes (§14.3 S4, S6, §14.4 F2, F5, §14.5 L5).
package sm
