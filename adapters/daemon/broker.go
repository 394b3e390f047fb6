package daemon

import (
	"net/url"
	"os"

	"github.com/manoctl/manoctl/adapters/amqp"
)

// brokerURL resolves the broker URL as amqp.Dial does.
func brokerURL(raw string) string {
	if raw == "" {
		raw = os.Getenv(amqp.EnvBrokerHost)
	}
	if raw == "" {
		raw = amqp.DefaultURL
	}
	return raw
}

// brokerUser is the user the daemon connects as, which needs access to
// the managers' vhosts.
func brokerUser(raw string) string {
	u, err := url.Parse(brokerURL(raw))
	if err != nil || u.User == nil {
		return "guest"
	}
	return u.User.Username()
}

// smBrokerBase is the URL managers reach the broker with: the daemon's
// host, with the specific-management credentials of the original
// (wire-protocol §7.1, §14.6 M7); a vhost is appended per manager.
func smBrokerBase(raw string) string {
	u, err := url.Parse(brokerURL(raw))
	if err != nil {
		return "amqp://specific-management:sonata@localhost:5672/"
	}
	u.User = url.UserPassword("specific-management", "sonata")
	u.Path, u.RawPath = "/", ""
	return u.String()
}
