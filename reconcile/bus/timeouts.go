package bus

import (
	"strings"
	"time"
)

// DefaultTimeout is the request timeout per topic of wire-protocol §14.1 T4,
// sized for the 2017 mock IA (which took about a minute per deploy).
func DefaultTimeout(topic string) time.Duration {
	switch {
	case topic == TopicIAComputeList:
		return 60 * time.Second
	case topic == TopicIAServicePrepare:
		return 120 * time.Second
	case topic == TopicIAFunctionDeploy, topic == TopicIAFunctionRemove:
		return 300 * time.Second
	case strings.HasPrefix(topic, "infrastructure."):
		return 120 * time.Second
	case strings.HasPrefix(topic, "specific.manager.registry."):
		return 300 * time.Second
	case strings.HasPrefix(topic, "generic.ssm."), strings.HasPrefix(topic, "generic.fsm."),
		strings.HasPrefix(topic, "placement."), topic == TopicServicePlace:
		return 120 * time.Second
	case strings.HasPrefix(topic, "mano.function."):
		// A function deploy waits for the IA deploy plus the FSM steps.
		return 300*time.Second + 2*120*time.Second
	case strings.HasPrefix(topic, "platform.management.plugin."):
		return 5 * time.Second
	}
	return 120 * time.Second
}

// ScaledTimeouts returns DefaultTimeout multiplied by f; tests and the
// embedded engine use short timeouts against the instant emulator.
func ScaledTimeouts(f float64) func(string) time.Duration {
	return func(topic string) time.Duration {
		return time.Duration(float64(DefaultTimeout(topic)) * f)
	}
}
