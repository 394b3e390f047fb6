package amqp

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/manoctl/manoctl/reconcile/bus"
)

// Environment variables the original components read (wire-protocol §1.1).
const (
	EnvBrokerHost     = "broker_host"
	EnvBrokerExchange = "broker_exchange"
)

// DefaultURL is the broker URL of the original plugins when broker_host is
// unset: guest on the local broker, default vhost.
const DefaultURL = "amqp://guest:guest@localhost:5672/%2F"

// SharedQueuePrefix starts the name of every shared (competing-consumer)
// queue, so that no shared queue is ever named like a topic (§1.3, §14.1 T1).
const SharedQueuePrefix = "manoctl."

// Defaults of the Config knobs.
const (
	DefaultPrefetch     = 100 // basic.qos of son-mano-base subscriptions (§1.3)
	DefaultMaxPending   = 256
	DefaultReconnectMin = 100 * time.Millisecond
	DefaultReconnectMax = 5 * time.Second
	DefaultDrainTimeout = 10 * time.Second
	DefaultDialTimeout  = 30 * time.Second
)

// Config configures a Bus or a Connector. The zero value connects like an
// original plugin: broker_host (else DefaultURL) and broker_exchange (else
// son-kernel).
type Config struct {
	// URL is the AMQP URI, amqp:// or amqps://, in the syntax of the
	// originals' broker_host. Its path is the virtual host ("%2F" and an
	// empty path are "/"). Empty means the broker_host environment variable,
	// then DefaultURL. The URL carries the credentials: it never appears in
	// logs, events or errors, only Redacted forms do.
	URL string
	// Exchange is the topic exchange; empty means broker_exchange, then
	// son-kernel. Tests use a private name.
	Exchange string
	// TLS configures amqps:// connections. Nil uses the system roots, the
	// URL's host as server name and the URI's cacertfile/certfile/keyfile
	// query parameters. The Bus never modifies it.
	TLS *tls.Config
	// Name is advertised as the connection_name client property, which
	// rabbitmqctl list_connections and the management UI show. Default
	// "manoctl".
	Name string
	// Prefetch is the basic.qos prefetch count of each subscription (each
	// has its own channel); default 100, raised to the subscription's
	// concurrency if that is higher.
	Prefetch int
	// MaxPendingConfirms caps published messages not yet confirmed by the
	// broker; further publishes wait. Default 256.
	MaxPendingConfirms int
	// Heartbeat is the AMQP heartbeat interval; 0 means 10 s. A dead peer is
	// detected after about two intervals.
	Heartbeat time.Duration
	// DialTimeout bounds one connection attempt (TCP, TLS and AMQP
	// handshakes); default 30 s. The context given to Dial bounds it too.
	DialTimeout time.Duration
	// ReconnectMin and ReconnectMax bound the exponential backoff between
	// connection attempts; defaults 100 ms and 5 s.
	ReconnectMin, ReconnectMax time.Duration
	// DrainTimeout bounds each wait of Close: for running handlers, then
	// for outstanding publisher confirms. Default 10 s.
	DrainTimeout time.Duration
	// Logger receives connection state changes, returned messages and
	// handler panics. Nil discards.
	Logger *slog.Logger
	// OnEvent, when set, receives every Event. It is called from the Bus's
	// own goroutines, so it must return quickly and must not call the Bus.
	OnEvent func(Event)
}

// resolved is a Config with every default applied and the URL parsed.
type resolved struct {
	Config
	u        *url.URL
	vhost    string
	redacted string
}

func (c Config) resolve() (*resolved, error) {
	r := &resolved{Config: c}
	if r.URL == "" {
		r.URL = os.Getenv(EnvBrokerHost)
	}
	if r.URL == "" {
		r.URL = DefaultURL
	}
	if r.Exchange == "" {
		r.Exchange = os.Getenv(EnvBrokerExchange)
	}
	if r.Exchange == "" {
		r.Exchange = bus.DefaultExchange
	}
	u, vhost, err := parseURL(r.URL)
	if err != nil {
		return nil, err
	}
	r.u, r.vhost, r.redacted = u, vhost, u.Redacted()
	if r.Name == "" {
		r.Name = "manoctl"
	}
	if r.Prefetch <= 0 {
		r.Prefetch = DefaultPrefetch
	}
	if r.MaxPendingConfirms <= 0 {
		r.MaxPendingConfirms = DefaultMaxPending
	}
	if r.DialTimeout <= 0 {
		r.DialTimeout = DefaultDialTimeout
	}
	if r.ReconnectMin <= 0 {
		r.ReconnectMin = DefaultReconnectMin
	}
	if r.ReconnectMax < r.ReconnectMin {
		r.ReconnectMax = max(DefaultReconnectMax, r.ReconnectMin)
	}
	if r.DrainTimeout <= 0 {
		r.DrainTimeout = DefaultDrainTimeout
	}
	if r.Logger == nil {
		r.Logger = slog.New(slog.DiscardHandler)
	}
	return r, nil
}

// parseURL checks an AMQP URI and returns it with its virtual host. Errors
// never quote the URL's credentials.
func parseURL(raw string) (*url.URL, string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// *url.Error quotes the whole URL, password included: keep only
		// the inner reason.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, "", fmt.Errorf("amqp: invalid broker URL %s: %v", RedactURL(raw), err)
	}
	if u.Scheme != "amqp" && u.Scheme != "amqps" {
		return nil, "", fmt.Errorf("amqp: invalid broker URL %s: scheme must be amqp or amqps", u.Redacted())
	}
	if strings.ContainsAny(raw, " \t\n") {
		return nil, "", fmt.Errorf("amqp: invalid broker URL %s: contains whitespace", u.Redacted())
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, "", fmt.Errorf("amqp: invalid broker URL %s: bad port %q", u.Redacted(), p)
		}
	}
	// The vhost rule of amqp091.ParseURI (and of amqpstorm): the path
	// without its leading slash; no path, or a bare slash, is "/".
	vhost := bus.DefaultVhost
	if len(u.Path) > 1 {
		vhost = u.Path[1:]
	}
	return u, vhost, nil
}

// RedactURL returns raw with its password replaced by "xxxxx", for logs and
// flags' help. It also masks the userinfo of a string that does not parse.
func RedactURL(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Redacted()
	}
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return "<unparsable URL>"
	}
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		rest = "xxxxx" + rest[at:]
	}
	return scheme + "://" + rest
}

// URLWithVhost returns base with its path replaced by vhost, escaped the way
// the originals write it ("/" becomes "%2F").
func URLWithVhost(base, vhost string) (string, error) {
	u, _, err := parseURL(base)
	if err != nil {
		return "", err
	}
	v := *u
	v.Path = "/" + vhost
	v.RawPath = "/" + url.PathEscape(vhost)
	return v.String(), nil
}

// scrubError makes sure err's text does not contain the password of u; the
// libraries underneath are not trusted to keep it out.
func scrubError(u *url.URL, err error) error {
	if err == nil || u == nil || u.User == nil {
		return err
	}
	pw, ok := u.User.Password()
	if !ok || pw == "" || !strings.Contains(err.Error(), pw) {
		return err
	}
	return &scrubbed{msg: strings.ReplaceAll(err.Error(), pw, "xxxxx"), err: err}
}

type scrubbed struct {
	msg string
	err error
}

func (s *scrubbed) Error() string { return s.msg }
func (s *scrubbed) Unwrap() error { return s.err }
