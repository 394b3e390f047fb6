package daemon

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/manoctl/manoctl/adapters/amqp"
	"github.com/manoctl/manoctl/reconcile/pm"
	"github.com/manoctl/manoctl/reconcile/records"
)

// metrics keeps what /metrics exposes, in the Prometheus text format:
// workflows by kind and status, steps by name and status, bus request
// latency per topic, and (read at scrape time) plugin heartbeat ages and
// the AMQP transport's counters.
type metrics struct {
	mu        sync.Mutex
	workflows map[[2]string]float64 // kind, status
	steps     map[[2]string]float64 // step, status
	running   map[string]bool       // operation ids
	reqCount  map[[2]string]float64 // topic, result
	reqHist   map[string]*histogram
	orphans   float64
}

var latencyBuckets = []float64{0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300}

type histogram struct {
	counts []float64
	sum    float64
	n      float64
}

func newMetrics() *metrics {
	return &metrics{workflows: map[[2]string]float64{}, steps: map[[2]string]float64{}, running: map[string]bool{},
		reqCount: map[[2]string]float64{}, reqHist: map[string]*histogram{}}
}

// observeOrphans counts functions removed as orphans.
func (m *metrics) observeOrphans(n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.orphans += float64(n)
}

// observeRequest is the bus endpoints' observer.
func (m *metrics) observeRequest(topic string, took time.Duration, err error) {
	result := "reply"
	if err != nil {
		result = "error"
		if strings.HasPrefix(err.Error(), "Timeout waiting") {
			result = "timeout"
		}
	}
	topic = topicFamily(topic)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reqCount[[2]string{topic, result}]++
	h := m.reqHist[topic]
	if h == nil {
		h = &histogram{counts: make([]float64, len(latencyBuckets))}
		m.reqHist[topic] = h
	}
	s := took.Seconds()
	for i, b := range latencyBuckets {
		if s <= b {
			h.counts[i]++
		}
	}
	h.sum += s
	h.n++
}

// topicFamily keeps per-instance topics (generic.ssm.<id>) from making a
// label per instance.
func topicFamily(t string) string {
	for _, p := range []string{"generic.ssm.", "generic.fsm.", "placement.ssm.", "monitor.ssm.", "platform.management.plugin."} {
		if strings.HasPrefix(t, p) && t != "platform.management.plugin.register" && t != "platform.management.plugin.deregister" {
			return p + "*"
		}
	}
	return t
}

// observeOperation counts an operation's transitions from record events.
func (m *metrics) observeOperation(o *records.Operation, seen map[string]int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := seen[o.ID]; i < len(o.Steps); i++ {
		s := o.Steps[i]
		if s.Status == records.StepRunning || s.Status == records.StepPending {
			break
		}
		m.steps[[2]string{s.Name, string(s.Status)}]++
		seen[o.ID] = i + 1
	}
	if o.Status.Done() {
		if m.running[o.ID] || seen[o.ID+"#"] == 0 {
			m.workflows[[2]string{string(o.Kind), string(o.Status)}]++
		}
		delete(m.running, o.ID)
		seen[o.ID+"#"] = 1
		return
	}
	m.running[o.ID] = true
}

// write renders everything in the Prometheus text format.
func (m *metrics) write(w io.Writer, plugins []pm.Plugin, amqpStats *amqp.Stats, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	fmt.Fprintln(w, "# HELP manoctl_workflows_total Lifecycle workflows that ended, by kind and status.")
	fmt.Fprintln(w, "# TYPE manoctl_workflows_total counter")
	for _, k := range sortedKeys(m.workflows) {
		fmt.Fprintf(w, "manoctl_workflows_total{kind=%q,status=%q} %g\n", k[0], k[1], m.workflows[k])
	}
	fmt.Fprintln(w, "# HELP manoctl_workflows_running Lifecycle workflows in progress.")
	fmt.Fprintln(w, "# TYPE manoctl_workflows_running gauge")
	fmt.Fprintf(w, "manoctl_workflows_running %d\n", len(m.running))
	fmt.Fprintln(w, "# HELP manoctl_workflow_steps_total Workflow steps that ended, by step and status.")
	fmt.Fprintln(w, "# TYPE manoctl_workflow_steps_total counter")
	for _, k := range sortedKeys(m.steps) {
		fmt.Fprintf(w, "manoctl_workflow_steps_total{step=%q,status=%q} %g\n", k[0], k[1], m.steps[k])
	}
	fmt.Fprintln(w, "# HELP manoctl_orphaned_functions_removed_total Functions the IA ran for terminated services, removed by a refresh.")
	fmt.Fprintln(w, "# TYPE manoctl_orphaned_functions_removed_total counter")
	fmt.Fprintf(w, "manoctl_orphaned_functions_removed_total %g\n", m.orphans)
	fmt.Fprintln(w, "# HELP manoctl_bus_requests_total Bus requests of the SLM and FLM, by topic and result (reply, timeout, error).")
	fmt.Fprintln(w, "# TYPE manoctl_bus_requests_total counter")
	for _, k := range sortedKeys(m.reqCount) {
		fmt.Fprintf(w, "manoctl_bus_requests_total{topic=%q,result=%q} %g\n", k[0], k[1], m.reqCount[k])
	}
	fmt.Fprintln(w, "# HELP manoctl_bus_request_duration_seconds Round-trip time of bus requests, by topic.")
	fmt.Fprintln(w, "# TYPE manoctl_bus_request_duration_seconds histogram")
	topics := make([]string, 0, len(m.reqHist))
	for t := range m.reqHist {
		topics = append(topics, t)
	}
	sort.Strings(topics)
	for _, t := range topics {
		h := m.reqHist[t]
		for i, b := range latencyBuckets {
			fmt.Fprintf(w, "manoctl_bus_request_duration_seconds_bucket{topic=%q,le=%q} %g\n", t, fmt.Sprint(b), h.counts[i])
		}
		fmt.Fprintf(w, "manoctl_bus_request_duration_seconds_bucket{topic=%q,le=\"+Inf\"} %g\n", t, h.n)
		fmt.Fprintf(w, "manoctl_bus_request_duration_seconds_sum{topic=%q} %g\n", t, h.sum)
		fmt.Fprintf(w, "manoctl_bus_request_duration_seconds_count{topic=%q} %g\n", t, h.n)
	}
	fmt.Fprintln(w, "# HELP manoctl_plugin_heartbeat_age_seconds Time since each plugin's last heartbeat.")
	fmt.Fprintln(w, "# TYPE manoctl_plugin_heartbeat_age_seconds gauge")
	for _, p := range plugins {
		age := math.NaN()
		if !p.LastHeartbeatAt.IsZero() {
			age = now.Sub(p.LastHeartbeatAt).Seconds()
		}
		fmt.Fprintf(w, "manoctl_plugin_heartbeat_age_seconds{name=%q,uuid=%q,state=%q} %g\n", p.Name, p.UUID, p.State, age)
	}
	if amqpStats != nil {
		s := *amqpStats
		fmt.Fprintln(w, "# HELP manoctl_amqp_messages_total Messages through the RabbitMQ transport, by event.")
		fmt.Fprintln(w, "# TYPE manoctl_amqp_messages_total counter")
		for _, x := range []struct {
			name string
			v    uint64
		}{{"published", s.Published}, {"confirmed", s.Confirmed}, {"nacked", s.Nacked}, {"republished", s.Republished},
			{"returned", s.Returned}, {"delivered", s.Delivered}, {"redelivered", s.Redelivered}} {
			fmt.Fprintf(w, "manoctl_amqp_messages_total{event=%q} %d\n", x.name, x.v)
		}
		fmt.Fprintln(w, "# HELP manoctl_amqp_reconnects_total Reconnections to the broker.")
		fmt.Fprintln(w, "# TYPE manoctl_amqp_reconnects_total counter")
		fmt.Fprintf(w, "manoctl_amqp_reconnects_total %d\n", s.Reconnects)
	}
}

func sortedKeys(m map[[2]string]float64) [][2]string {
	out := make([][2]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i][0] != out[j][0] {
			return out[i][0] < out[j][0]
		}
		return out[i][1] < out[j][1]
	})
	return out
}

// metricsHandler serves /metrics and /healthz.
func (d *Daemon) metricsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		var plugins []pm.Plugin
		if d.platform != nil && d.platform.PM != nil {
			plugins = d.platform.PM.Plugins()
		}
		stats := d.bus.Stats()
		d.metrics.write(w, plugins, &stats, time.Now())
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if err := d.health(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	return mux
}
