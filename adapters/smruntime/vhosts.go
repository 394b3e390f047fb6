package smruntime

import (
	"context"
	"fmt"
	"sync"

	"github.com/manoctl/manoctl/adapters/amqp"
	"github.com/manoctl/manoctl/adapters/membus"
	"github.com/manoctl/manoctl/reconcile/smr"
)

// MembusVhosts makes the managers' vhosts namespaces of an in-process
// broker.
type MembusVhosts struct{ Broker *membus.Broker }

var _ smr.Vhosts = MembusVhosts{}

// Create adds the vhost.
func (v MembusVhosts) Create(_ context.Context, name string) error { return v.Broker.AddVhost(name) }

// Delete removes the vhost and everything on it.
func (v MembusVhosts) Delete(_ context.Context, name string) error {
	return v.Broker.DeleteVhost(name)
}

// AMQPVhosts creates the managers' vhosts on RabbitMQ (§7.1): through the
// management API or rabbitmqctl (amqp.NewVhostManager chooses), with full
// permissions for Users. Before the first vhost it creates the managers'
// broker user SMUser/SMPassword with tag son-sm, as the original SMR does
// at start-up, unless SMUser is empty.
type AMQPVhosts struct {
	Manager amqp.VhostManager
	// SMUser and SMPassword are the managers' broker credentials (default
	// specific-management / sonata, §14.6 M7), created when SMUser is set.
	SMUser, SMPassword string
	// Users get full permissions on every managers' vhost: SMUser (added
	// automatically) and the users the MANO itself connects with.
	Users []string

	once    sync.Once
	userErr error
}

var _ smr.Vhosts = (*AMQPVhosts)(nil)

// Create creates the vhost and grants the permissions; it fails if any of
// it fails (§14.6 M1).
func (v *AMQPVhosts) Create(ctx context.Context, name string) error {
	if v.SMUser != "" {
		v.once.Do(func() {
			v.userErr = v.Manager.CreateUser(ctx, v.SMUser, v.SMPassword, amqp.DefaultSMUserTag)
		})
		if v.userErr != nil {
			return fmt.Errorf("smruntime: create user %s: %w", v.SMUser, v.userErr)
		}
	}
	if err := v.Manager.CreateVhost(ctx, name); err != nil {
		return fmt.Errorf("smruntime: create vhost %s: %w", name, err)
	}
	users := append([]string(nil), v.Users...)
	if v.SMUser != "" {
		users = append(users, v.SMUser)
	}
	seen := map[string]bool{}
	for _, u := range users {
		if seen[u] {
			continue
		}
		seen[u] = true
		if err := v.Manager.SetPermissions(ctx, name, u, amqp.FullPermissions); err != nil {
			return fmt.Errorf("smruntime: permissions of %s on %s: %w", u, name, err)
		}
	}
	return nil
}

// Delete deletes the vhost, which closes every connection to it.
func (v *AMQPVhosts) Delete(ctx context.Context, name string) error {
	return v.Manager.DeleteVhost(ctx, name)
}
