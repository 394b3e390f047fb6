package amqp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"time"
)

// VhostManager administers the virtual hosts, users and permissions of a
// broker: the SMR prepares a vhost and its user for every specific manager
// (wire-protocol §7.1, §14.6 M1, M7). Every method is idempotent: creating
// what exists updates it, deleting what is gone succeeds.
type VhostManager interface {
	// CreateVhost creates a virtual host.
	CreateVhost(ctx context.Context, name string) error
	// DeleteVhost deletes a virtual host with its queues, exchanges and
	// connections.
	DeleteVhost(ctx context.Context, name string) error
	// CreateUser creates a user, or sets the password and tags of an
	// existing one.
	CreateUser(ctx context.Context, name, password string, tags ...string) error
	// DeleteUser deletes a user.
	DeleteUser(ctx context.Context, name string) error
	// SetPermissions grants user the permissions p on vhost.
	SetPermissions(ctx context.Context, vhost, user string, p Permissions) error
	// CloseConnections closes every client connection to vhost, telling
	// the clients reason.
	CloseConnections(ctx context.Context, vhost, reason string) error
}

// Permissions are the configure, write and read regular expressions of a
// user on a vhost.
type Permissions struct {
	Configure string `json:"configure"`
	Write     string `json:"write"`
	Read      string `json:"read"`
}

// FullPermissions is what the SMR grants the specific-manager user.
var FullPermissions = Permissions{Configure: ".*", Write: ".*", Read: ".*"}

// Defaults of the original SMR (§7.1): the management API and its
// credentials, and the broker user of specific managers.
const (
	EnvManagementURL         = "broker_man_host"
	DefaultManagementURL     = "http://localhost:15672"
	DefaultManagementUser    = "guest"
	DefaultManagementPass    = "guest"
	DefaultSMUser            = "specific-management"
	DefaultSMPassword        = "sonata"
	DefaultSMUserTag         = "son-sm"
	managementProbeTimeout   = 2 * time.Second
	defaultManagementTimeout = 30 * time.Second
)

// ManagerConfig configures NewVhostManager.
type ManagerConfig struct {
	// URL is the management API base; empty means broker_man_host, then
	// http://localhost:15672.
	URL string
	// User and Password authenticate to the management API; defaults
	// guest/guest (§14.6 M7).
	User, Password string
	// Rabbitmqctl is the path of rabbitmqctl for the fallback; empty looks
	// in PATH, then /usr/sbin and /usr/lib/rabbitmq/bin.
	Rabbitmqctl string
	// Node is passed to rabbitmqctl -n when set.
	Node string
	// HTTPClient is used for the management API; nil uses a client with a
	// 30 s timeout.
	HTTPClient *http.Client
}

// ErrNoManager is returned by NewVhostManager when neither the management
// API nor rabbitmqctl is available.
var ErrNoManager = errors.New("amqp: no vhost manager: management API unreachable and rabbitmqctl not found")

// NewVhostManager returns the management API client if the API answers at
// cfg.URL, else a rabbitmqctl runner if rabbitmqctl is installed (the
// management plugin is optional on a broker; rabbitmqctl must run on the
// broker's host). A management API that rejects the credentials is an
// error, not a reason to fall back.
func NewVhostManager(ctx context.Context, cfg ManagerConfig) (VhostManager, error) {
	api := NewManagementAPI(cfg)
	err := api.Probe(ctx)
	if err == nil {
		return api, nil
	}
	var he *HTTPError
	if errors.As(err, &he) && (he.Status == http.StatusUnauthorized || he.Status == http.StatusForbidden) {
		return nil, err
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	ctl, cerr := NewRabbitmqctl(cfg.Rabbitmqctl, cfg.Node)
	if cerr != nil {
		return nil, fmt.Errorf("%w (management API: %v)", ErrNoManager, err)
	}
	return ctl, nil
}

// EnsureVhost prepares vhost for a specific manager the way the SMR does
// (§7.1): it creates the vhost and grants user full permissions on it.
func EnsureVhost(ctx context.Context, m VhostManager, vhost, user string) error {
	if err := m.CreateVhost(ctx, vhost); err != nil {
		return err
	}
	return m.SetPermissions(ctx, vhost, user, FullPermissions)
}

func lookRabbitmqctl(path string) (string, error) {
	if path != "" {
		return exec.LookPath(path)
	}
	if p, err := exec.LookPath("rabbitmqctl"); err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/sbin/rabbitmqctl", "/usr/lib/rabbitmq/bin/rabbitmqctl", "/usr/local/sbin/rabbitmqctl"} {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", errors.New("rabbitmqctl not found")
}
