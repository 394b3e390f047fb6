package amqp_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/manoctl/manoctl/adapters/amqp"
	"github.com/manoctl/manoctl/reconcile/bus"
)

const patience = 30 * time.Second

// dial opens a Bus with cfg and closes it when t ends.
func dial(t *testing.T, cfg amqp.Config) *amqp.Bus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	b, err := amqp.Dial(ctx, cfg)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func subscribe(t *testing.T, b bus.Bus, pattern string, h bus.Handler, opts ...bus.SubscribeOption) bus.Subscription {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	s, err := b.Subscribe(ctx, pattern, h, opts...)
	if err != nil {
		t.Fatalf("subscribe %s: %v", pattern, err)
	}
	return s
}

func publish(t *testing.T, b bus.Bus, m *bus.Message) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	if err := b.Publish(ctx, m); err != nil {
		t.Fatalf("publish %s: %v", m.Topic, err)
	}
}

// eventLog collects a Bus's events.
type eventLog struct {
	mu   sync.Mutex
	list []amqp.Event
	note chan struct{}
}

func newEventLog() *eventLog { return &eventLog{note: make(chan struct{}, 1)} }

func (l *eventLog) on(e amqp.Event) {
	l.mu.Lock()
	l.list = append(l.list, e)
	l.mu.Unlock()
	select {
	case l.note <- struct{}{}:
	default:
	}
}

func (l *eventLog) events() []amqp.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]amqp.Event(nil), l.list...)
}

func (l *eventLog) count(k amqp.EventKind) int {
	n := 0
	for _, e := range l.events() {
		if e.Kind == k {
			n++
		}
	}
	return n
}

// wait waits until at least n events of kind k have been seen.
func (l *eventLog) wait(t *testing.T, k amqp.EventKind, n int) {
	t.Helper()
	deadline := time.NewTimer(patience)
	defer deadline.Stop()
	for l.count(k) < n {
		select {
		case <-l.note:
		case <-deadline.C:
			t.Fatalf("waited %v for %d %s events; have %v", patience, n, k, l.events())
		}
	}
}

// proxy is a TCP relay to the broker that a test can cut, to simulate an
// outage without touching the broker that other tests share. With a TLS
// config it terminates TLS, standing in for an amqps listener.
type proxy struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	down   bool
	paused chan struct{} // non-nil while broker-to-client traffic is held
	wg     sync.WaitGroup
}

func startProxy(t *testing.T, target string, tlsConfig *tls.Config) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if tlsConfig != nil {
		ln = tls.NewListener(ln, tlsConfig)
	}
	p := &proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(p.close)
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns[c], p.conns[up] = struct{}{}, struct{}{}
		p.wg.Add(2)
		p.mu.Unlock()
		go p.pipe(c, up, true)
		go p.pipe(up, c, false)
	}
}

func (p *proxy) pipe(dst, src net.Conn, fromBroker bool) {
	defer p.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && fromBroker {
			p.mu.Lock()
			gate := p.paused
			p.mu.Unlock()
			if gate != nil {
				<-gate
			}
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	dst.Close()
	src.Close()
	p.mu.Lock()
	delete(p.conns, dst)
	delete(p.conns, src)
	p.mu.Unlock()
}

// cut drops every relayed connection and refuses new ones.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		c.Close()
	}
	if p.paused != nil {
		close(p.paused)
		p.paused = nil
	}
}

// hold stops relaying what the broker sends (confirms, deliveries) until
// cut; what clients send still goes through.
func (p *proxy) hold() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.paused == nil {
		p.paused = make(chan struct{})
	}
}

func (p *proxy) restore() {
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}

func (p *proxy) close() {
	p.ln.Close()
	p.cut()
	p.wg.Wait()
}

// selfSigned returns a server certificate for 127.0.0.1 and a pool that
// trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "manoctl test broker"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

// brokerAddr is the host:port of the test broker.
func brokerAddr(t *testing.T, url string) string {
	t.Helper()
	rest := url[strings.Index(url, "://")+3:]
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		rest = rest[at+1:]
	}
	host, _, _ := strings.Cut(rest, "/")
	if !strings.Contains(host, ":") {
		host += ":5672"
	}
	return host
}

// leakedGoroutines returns the stacks of goroutines of this package or of
// amqp091 that are still alive after waiting up to patience for them to
// end.
func leakedGoroutines() []string {
	deadline := time.Now().Add(patience)
	for {
		var leaked []string
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "rabbitmq/amqp091-go") || strings.Contains(g, "manoctl/adapters/amqp.") {
				if !strings.Contains(g, "leakedGoroutines") {
					leaked = append(leaked, g)
				}
			}
		}
		if len(leaked) == 0 || time.Now().After(deadline) {
			return leaked
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitStats waits until cond holds for b's counters, which the publisher
// goroutine updates asynchronously.
func waitStats(t *testing.T, b *amqp.Bus, what string, cond func(amqp.Stats) bool) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for !cond(b.Stats()) {
		if time.Now().After(deadline) {
			t.Fatalf("stats never showed %s: %+v", what, b.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
}
