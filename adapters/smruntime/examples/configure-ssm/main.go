// Command configure-ssm is an example specific manager built with the manoctl SDK
// (see package managers): it reads broker_host, broker_exchange and sf_uuid
// from its environment, registers on its vhost over AMQP and serves until
// SIGTERM.
package main

import (
	"os"

	"github.com/manoctl/manoctl/adapters/smruntime"
	"github.com/manoctl/manoctl/adapters/smruntime/examples/managers"
)

func main() {
	os.Exit(managers.Main(managers.RoleConfigureSSM, os.Args[1:], smruntime.AMQPDialer{}))
}
