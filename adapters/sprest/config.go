package sprest

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// The original's environment variables (wire-protocol §4.1, §6.1).
const (
	EnvNSRRepository    = "url_nsr_repository"
	EnvVNFRRepository   = "url_vnfr_repository"
	EnvMonitoringServer = "url_monitoring_server"
)

// Paths the original rebuilt under the repositories' scheme://host:port
// (§4.1, §6.1) and the resources under them (§10.4), and the monitoring
// manager's resources (§10.3).
const (
	NSRPath         = "/records/nsr/"
	VNFRPath        = "/records/vnfr/"
	NSInstances     = "ns-instances"
	VNFInstances    = "vnf-instances"
	MonitorNew      = "service/new"
	MonitorServices = "services/"
)

// Defaults for Config's zero values.
const (
	DefaultTimeout     = 5 * time.Second
	DefaultMinBackoff  = 250 * time.Millisecond
	DefaultMaxBackoff  = 30 * time.Second
	DefaultQueueSize   = 1024
	DefaultConcurrency = 4
	DefaultUserAgent   = "manoctl"
)

// Config says where the records and the monitoring messages go and how
// hard to try.
type Config struct {
	// NSRBase is the NSR repository base, ending in "/", e.g.
	// http://son-catalogue-repos:4011/records/nsr/. Empty: no NSR writes.
	NSRBase string
	// VNFRBase is the VNFR repository base, e.g.
	// http://son-catalogue-repos:4011/records/vnfr/. Empty: no VNFR
	// writes.
	VNFRBase string
	// MonitoringBase is the monitoring manager base, e.g.
	// http://son-monitor-manager:8000/api/v1/. Empty: no monitoring
	// messages.
	MonitoringBase string

	// Timeout bounds one HTTP request. The original waited 1 s, inside
	// the workflow; manoctl's writes run beside it, so the default
	// (DefaultTimeout) is more patient with a slow repository.
	Timeout time.Duration
	// MinBackoff and MaxBackoff bound the wait before retrying a failed
	// write: it doubles from MinBackoff up to MaxBackoff, with jitter.
	MinBackoff, MaxBackoff time.Duration
	// MaxAttempts gives up on one write after that many failed attempts
	// (reported as EventAbandoned). Zero retries until Close: the local
	// records stay the source of truth and the repository catches up
	// whenever it comes back.
	MaxAttempts int
	// QueueSize bounds the writes waiting in memory. Record writes of one
	// service coalesce (only the latest state is written), so the queue
	// holds about one entry per service with pending writes; beyond the
	// bound new writes are dropped and reported (EventDropped).
	QueueSize int
	// Concurrency is the number of services written to in parallel.
	Concurrency int

	// Client sends the requests; default a plain http.Client. Its own
	// Timeout, if any, applies on top of Timeout.
	Client *http.Client
	// UserAgent is sent with every request.
	UserAgent string
	// OnEvent, if set, receives every delivery, failure, give-up and
	// drop. It runs on the writer's goroutines and must return quickly.
	OnEvent func(Event)
	Logger  *slog.Logger
}

// RecordsEnabled reports whether any record repository is configured.
func (c Config) RecordsEnabled() bool { return c.NSRBase != "" || c.VNFRBase != "" }

// MonitoringEnabled reports whether a monitoring manager is configured.
func (c Config) MonitoringEnabled() bool { return c.MonitoringBase != "" }

// Enabled reports whether anything is to be written over REST.
func (c Config) Enabled() bool { return c.RecordsEnabled() || c.MonitoringEnabled() }

// FromEnv reads the original's variables: url_nsr_repository,
// url_vnfr_repository and url_monitoring_server. lookup is os.LookupEnv
// in the daemon. Unset or empty variables disable what they configure;
// see FromURLs for how the values become bases.
func FromEnv(lookup func(string) (string, bool)) (Config, error) {
	get := func(k string) string {
		v, _ := lookup(k)
		return strings.TrimSpace(v)
	}
	return FromURLs(get(EnvNSRRepository), get(EnvVNFRRepository), get(EnvMonitoringServer))
}

// FromURLs turns the three URLs (as given to the original in its
// environment, or to manoctl daemon as flags) into a Config:
//
//   - the repositories keep only scheme, host and port, and the paths are
//     rebuilt: NSRs under /records/nsr/, VNFRs under /records/vnfr/ (§4.1,
//     §6.1). The original SLM derived both from url_nsr_repository while
//     the FLM posted VNFRs to url_vnfr_repository; in every SONATA
//     deployment both name son-catalogue-repos. manoctl writes all VNFRs
//     to url_vnfr_repository when it is set, else next to the NSRs, and
//     all NSRs to url_nsr_repository, else next to the VNFRs;
//   - the monitoring URL is kept whole, as the original appended
//     service/new and services/<id> to it, with a "/" added if missing.
//
// A URL without a scheme gets http://. Empty arguments disable what they
// configure.
func FromURLs(nsrRepository, vnfrRepository, monitoringServer string) (Config, error) {
	var c Config
	nsrHost, err := hostBase(EnvNSRRepository, nsrRepository)
	if err != nil {
		return c, err
	}
	vnfrHost, err := hostBase(EnvVNFRRepository, vnfrRepository)
	if err != nil {
		return c, err
	}
	if nsrHost == "" {
		nsrHost = vnfrHost
	}
	if vnfrHost == "" {
		vnfrHost = nsrHost
	}
	if nsrHost != "" {
		c.NSRBase = nsrHost + NSRPath
		c.VNFRBase = vnfrHost + VNFRPath
	}
	if monitoringServer != "" {
		u, err := parseHTTPURL(EnvMonitoringServer, monitoringServer)
		if err != nil {
			return c, err
		}
		u.RawQuery, u.Fragment = "", ""
		s := u.String()
		if !strings.HasSuffix(s, "/") {
			s += "/"
		}
		c.MonitoringBase = s
	}
	return c, nil
}

// hostBase returns scheme://host[:port] of raw, or "" for "".
func hostBase(name, raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	u, err := parseHTTPURL(name, raw)
	if err != nil {
		return "", err
	}
	return u.Scheme + "://" + u.Host, nil
}

func parseHTTPURL(name, raw string) (*url.URL, error) {
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		// *url.Error quotes the whole URL, password included: keep the
		// reason and quote the URL masked.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("sprest: %s: %q: %v", name, redactURL(raw), err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("sprest: %s: scheme %q, want http or https", name, u.Scheme)
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, fmt.Errorf("sprest: %s: %q has no host", name, u.Redacted())
	}
	if u.User != nil {
		return nil, fmt.Errorf("sprest: %s: credentials in the URL are not supported", name)
	}
	return u, nil
}

func (c *Config) setDefaults() {
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = DefaultMinBackoff
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = DefaultMaxBackoff
	}
	if c.MaxBackoff < c.MinBackoff {
		c.MaxBackoff = c.MinBackoff
	}
	if c.QueueSize <= 0 {
		c.QueueSize = DefaultQueueSize
	}
	if c.Concurrency <= 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.Client == nil {
		c.Client = &http.Client{}
	}
	if c.UserAgent == "" {
		c.UserAgent = DefaultUserAgent
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	for _, b := range []*string{&c.NSRBase, &c.VNFRBase, &c.MonitoringBase} {
		if *b != "" && !strings.HasSuffix(*b, "/") {
			*b += "/"
		}
	}
}

// redactURL masks the userinfo of a URL that does not parse, for errors.
func redactURL(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return "<unparsable URL>"
	}
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		rest = "xxxxx" + rest[at:]
	}
	return scheme + "://" + rest
}
