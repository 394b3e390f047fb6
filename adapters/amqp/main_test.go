package amqp_test

import (
	"testing"

	"github.com/manoctl/manoctl/adapters/amqp/amqptest"
)

// TestMain warns loudly when the RabbitMQ tests are opted out.
func TestMain(m *testing.M) { amqptest.Main(m) }
