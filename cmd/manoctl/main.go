// Command manoctl validates SONATA descriptors, plans and applies network
// services through a Go re-implementation of the SONATA MANO framework, and
// runs that framework as a daemon on RabbitMQ.
package main

import "os"

func main() { os.Exit(Main()) }
