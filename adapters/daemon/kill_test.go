package daemon_test

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/manoctl/manoctl/reconcile/control"
)

// waitConverged waits until every service of the manifest is ready and
// nothing runs.
func waitConverged(t *testing.T, c *control.Client, n int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	var last string
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		svcs, err := c.Get(ctx, "services", false)
		cancel()
		if err == nil {
			ready := 0
			for _, s := range svcs.Items {
				if s["status"] == "ready" {
					ready++
				}
			}
			last = fmt.Sprintf("%d of %d services ready, %d running", ready, n, len(svcs.Items))
			if ready == n && len(svcs.Items) == n {
				return
			}
		} else {
			last = err.Error()
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("did not converge within %s: %s", within, last)
}

// The daemon is killed (SIGKILL) while it instantiates the services of
// its manifest. Restarted on the same state directory, it loads the
// records, marks the operations it was running interrupted, rolls their
// services back, and its reconcile loop converges: every service ready,
// the infrastructure running exactly their functions.
func TestDaemonKilledMidWorkflow(t *testing.T) {
	const n = 6
	manifest := writeManifest(t, n)
	args := []string{"--manifest", manifest, "--reconcile-interval", "1s", "--timeout-scale", "0.05"}
	p := startPlatform(t, []string{"--latency", "infrastructure.function.deploy=1s"}, args...)
	b := p.dialBus(t, "manoctl test client")
	c := control.NewClient(b)
	defer c.Close()

	// Kill it once functions are being deployed.
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		ops, err := c.Get(ctx, "operations", true)
		cancel()
		deploying := 0
		if err == nil {
			for _, o := range ops.Items {
				steps, _ := o["steps"].([]any)
				for _, s := range steps {
					if st, _ := s.(map[string]any); st["name"] == "vnf_deploy" && st["status"] == "running" {
						deploying++
					}
				}
			}
		}
		if deploying >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no instantiation reached vnf_deploy: %v %v", err, ops)
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.daemon.stop(syscall.SIGKILL, 10*time.Second)
	t0 := time.Now()

	p.daemon = p.startDaemon(t, args...)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ops, err := c.Get(ctx, "operations", true)
	if err != nil {
		t.Fatal(err)
	}
	interrupted := 0
	for _, o := range ops.Items {
		if o["status"] == "interrupted" {
			interrupted++
			if o["error"] == "" || o["failed_step"] == "" {
				t.Errorf("interrupted operation %v does not say where and why: %v", o["id"], o)
			}
		}
	}
	if interrupted < 3 {
		t.Errorf("%d operations marked interrupted after the kill, want at least the 3 deploying", interrupted)
	}
	waitConverged(t, c, n, 90*time.Second)
	t.Logf("converged %s after the kill", time.Since(t0).Round(time.Millisecond))
	settledOperations(t, c, 30*time.Second)
	// Deploys in flight at the kill complete after the roll-back: the
	// reconcile loop's refresh removes what they left.
	waitInfraMatchesRecords(t, b, c, 30*time.Second)
	t.Logf("no orphan %s after the kill", time.Since(t0).Round(time.Millisecond))

	// The restarted daemon plans no change.
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := c.Status(ctx)
	if err != nil || st.Manifest == "" {
		t.Fatalf("status %+v %v", st, err)
	}
	out := runCLI(t, "plan", "--broker", p.url, "-f", manifest, "--detailed-exitcode")
	if !strings.Contains(out, "No changes") {
		t.Errorf("plan after convergence:\n%s", out)
	}
}
