package bus

// Topics of the 2017 protocol (wire-protocol §2). The names are the wire
// contract and must never change.
const (
	// Plugin manager (§3).
	TopicPluginRegister   = "platform.management.plugin.register"
	TopicPluginDeregister = "platform.management.plugin.deregister"
	TopicPluginStatus     = "platform.management.plugin.status"
	// TopicPluginHeartbeats is the binding the PM uses for every plugin's
	// heartbeat topic.
	TopicPluginHeartbeats = "platform.management.plugin.*.heartbeat"

	// Gatekeeper <-> SLM (§4, §9).
	TopicServiceCreate    = "service.instances.create"
	TopicServiceTerminate = "service.instance.terminate"
	TopicServiceUpdate    = "service.instances.update"
	TopicServicePause     = "service.instance.pause"
	TopicServiceRestart   = "service.instance.restart"
	// TopicServiceScale is the 2019 scale workflow (§12); manoctl serves it
	// with the 2019 request shape.
	TopicServiceScale = "service.instance.scale"

	// SLM <-> FLM (§6).
	TopicFunctionDeploy    = "mano.function.deploy"
	TopicFunctionStart     = "mano.function.start"
	TopicFunctionStop      = "mano.function.stop"
	TopicFunctionConfigure = "mano.function.configure"
	TopicFunctionScale     = "mano.function.scale"
	TopicFunctionTerminate = "mano.function.terminate"
	// TopicFunctionRemove removes one VNF (HEAD, §2.3); manoctl's FLM serves
	// it for scale-in and rollback.
	TopicFunctionRemove = "mano.function.remove"

	// Placement (§5).
	TopicServicePlace       = "mano.service.place"
	TopicPlacementExecutive = "placement.executive.request"

	// SLM bookkeeping (§4.9).
	TopicInterSLM   = "mano.inter.slm"
	TopicShareState = "mano.share.state"
	TopicMonitoring = "son.monitoring"

	// Infrastructure adaptor (§8).
	TopicIAComputeList          = "infrastructure.management.compute.list"
	TopicIAComputeAdd           = "infrastructure.management.compute.add"
	TopicIAComputeRemove        = "infrastructure.management.compute.remove"
	TopicIANetworkAdd           = "infrastructure.management.network.add"
	TopicIANetworkRemove        = "infrastructure.management.network.remove"
	TopicIANetworkList          = "infrastructure.management.network.list"
	TopicIAResourceAvailability = "infrastructure.management.compute.resourceAvailability"
	TopicIAServicePrepare       = "infrastructure.service.prepare"
	TopicIAFunctionDeploy       = "infrastructure.function.deploy"
	TopicIAFunctionRemove       = "infrastructure.function.remove"
	TopicIAFunctionScale        = "infrastructure.function.scale"
	TopicIAChainConfigure       = "infrastructure.service.chain.configure"
	TopicIAChainDeconfigure     = "infrastructure.service.chain.deconfigure"
	TopicIAServiceRemove        = "infrastructure.service.remove"
	TopicIAServiceDeploy        = "infrastructure.service.deploy"
	TopicIAWanConfigure         = "infrastructure.service.wan.configure"
	TopicIAWanDeconfigure       = "infrastructure.service.wan.deconfigure"
	TopicIAWanAdd               = "infrastructure.wan.add"
	TopicIAWanRemove            = "infrastructure.wan.remove"
	TopicIAWanAttach            = "infrastructure.wan.attach"
	TopicIAWanList              = "infrastructure.wan.list"

	// Specific manager registry (§7).
	TopicSMRSSMOnboard     = "specific.manager.registry.ssm.on-board"
	TopicSMRSSMInstantiate = "specific.manager.registry.ssm.instantiate"
	TopicSMRSSMUpdate      = "specific.manager.registry.ssm.update"
	TopicSMRSSMTerminate   = "specific.manager.registry.ssm.terminate"
	TopicSMRFSMOnboard     = "specific.manager.registry.fsm.on-board"
	TopicSMRFSMInstantiate = "specific.manager.registry.fsm.instantiate"
	TopicSMRFSMUpdate      = "specific.manager.registry.fsm.update"
	TopicSMRFSMTerminate   = "specific.manager.registry.fsm.terminate"
	TopicSMRegistration    = "specific.manager.registry.ssm.registration"
	TopicSMStatus          = "specific.manager.registry.ssm.status"
	// manoctl's: the registry announces a manager that exited on its
	// own, so that calls waiting for it fail at once
	// (reconcile/spec/control-topics.md).
	TopicSMRSSMExited = "specific.manager.registry.ssm.exited"
	TopicSMRFSMExited = "specific.manager.registry.fsm.exited"
)

// PluginHeartbeatTopic is the topic a plugin with uuid beats on.
func PluginHeartbeatTopic(uuid string) string {
	return "platform.management.plugin." + uuid + ".heartbeat"
}

// PluginLifecycleTopic is the topic the PM sends lifecycle action (start,
// pause, stop) to the plugin uuid on.
func PluginLifecycleTopic(uuid, action string) string {
	return "platform.management.plugin." + uuid + ".lifecycle." + action
}

// GenericSSMTopic is the SLM's topic to the SSMs of service servID, on vhost
// SSMVhost(servID).
func GenericSSMTopic(servID string) string { return "generic.ssm." + servID }

// GenericFSMTopic is the FLM's topic to the FSMs of function funcID, on
// vhost FSMVhost(funcID).
func GenericFSMTopic(funcID string) string { return "generic.fsm." + funcID }

// MonitorSSMTopic carries monitoring-SSM feedback for service servID.
func MonitorSSMTopic(servID string) string { return "monitor.ssm." + servID }

// PlacementSSMTopic is the topic a placement SSM of service servID serves.
func PlacementSSMTopic(servID string) string { return "placement.ssm." + servID }

// SSMVhost and FSMVhost name the per-instance virtual hosts of §7.
func SSMVhost(servID string) string { return "ssm-" + servID }
func FSMVhost(funcID string) string { return "fsm-" + funcID }

// DefaultVhost is the vhost of the MANO plugins.
const DefaultVhost = "/"

// DefaultExchange is the exchange every original component uses.
const DefaultExchange = "son-kernel"

// App ids of the original components (§1.7, §3.1). A manoctl component that
// replaces a Python plugin publishes with that plugin's name so that peers
// apply the same filters.
const (
	AppPluginManager = "son-plugin.SonPluginManager"
	AppSLM           = "son-plugin.ServiceLifecycleManager"
	AppFLM           = "son-plugin.FunctionLifecycleManager"
	AppPlacement     = "son-plugin.PlacementPlugin"
	AppPLEX          = "son-plugin.PlacementExecutive"
	AppScalingExec   = "son-plugin.ScalingExecutive"
	AppSMR           = "son-plugin.SpecificManagerRegistry"
	AppTestPlugin    = "son-plugin.TestPlugin"
	AppGatekeeper    = "son-gkeeper"
	AppGatekeeperVIM = "son_gk"
	AppIA            = "sonata.kernel.InfrAdaptor"
	AppWIM           = "sonata.kernel.WimAdapter"
	// AppManoctl is the app id of manoctl's own clients (plan/apply, the
	// CLI against a daemon) where no original component is impersonated.
	AppManoctl = "manoctl"
)

// IsIA reports whether appID is one of the infrastructure adaptor's, whose
// replies are matched even when they keep reply_to set (§14.7 I1).
func IsIA(appID string) bool { return appID == AppIA || appID == AppWIM }

// Status strings that must be reproduced byte for byte (§13).
const (
	StatusInstantiating = "INSTANTIATING"
	StatusReady         = "READY"
	StatusError         = "ERROR"
	StatusTerminating   = "TERMINATING"
	StatusCompleted     = "COMPLETED"
	StatusFailed        = "failed"
	StatusFAILED        = "FAILED"
	// StatusScaling and StatusUpdating are the first replies of the scale
	// and update workflows (2019 vocabulary, §12).
	StatusScaling  = "SCALING"
	StatusUpdating = "UPDATING"
)
