// Package smruntime runs SONATA specific managers (SSMs and FSMs) for the
// specific manager registry (reconcile/smr), and connects them to a bus.
//
// # Runtimes (smr.Runtime)
//
//   - Local starts each manager as a local process. A runtime configuration
//     file maps the descriptor's image name to an executable (with
//     arguments, environment and working directory); the process gets the
//     environment the original SMR gives its containers: broker_host (the
//     AMQP URI of its vhost), broker_exchange and sf_uuid. Processes run in
//     their own process group; their output goes to the log (and to files
//     when a log directory is configured); an exit is noticed at once (a
//     manager that dies before registering fails its instantiation without
//     waiting for the registration timeout); Stop sends SIGTERM to the
//     group, then SIGKILL after the stop timeout.
//   - External starts nothing: the manager is started elsewhere (by an
//     operator, another orchestrator) with the logged environment, and only
//     has to register within the registration timeout.
//   - InProcess runs Go managers (written with reconcile/sm/sdk) as
//     goroutines, on the in-process bus: the embedded platform and the
//     tests use it.
//
// A Docker Engine runtime fits the same port: Onboard pulls the image,
// Start creates and starts a container named ManagerSpec.Name with
// ManagerSpec.Env on the broker's network and watches it through the
// events API for Done, Stop stops and removes the container (never the
// image, §14.6 M6).
//
// # Vhosts (smr.Vhosts)
//
// MembusVhosts makes vhosts namespaces of an in-process broker;
// AMQPVhosts creates real RabbitMQ vhosts through an amqp.VhostManager
// (management API or rabbitmqctl) and grants the managers' user, and the
// MANO's, full permissions on them.
//
// # Dialers (sdk.Dialer)
//
// MembusDialer and AMQPDialer connect SDK managers to the vhost their
// broker_host names. Stack wires the registry, the placement executive and
// the SLM- and FLM-side steps onto a platform configuration.
package smruntime
