package embedded_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/manoctl/manoctl/adapters/embedded"
	"github.com/manoctl/manoctl/reconcile/desired"
	"github.com/manoctl/manoctl/reconcile/records"
)

// The reconciler's property: from any records and infrastructure a
// manoctl run can leave behind, applying the plan reaches the desired
// state, and a second plan is empty.
//
// Each case starts from a random desired state applied to an empty state
// directory (sometimes by a run that dies before it saves the
// infrastructure), perturbs the result (services set to ERROR or left
// mid-operation, functions lost from the infrastructure), then plans and
// applies another random desired state (other services, NSDs, versions,
// instance counts, NAPs and placement wishes) and checks the records and
// the infrastructure against it.
//
// MANOCTL_PROPERTY_SEED=N runs case N alone (the seed a failure logs);
// MANOCTL_PROPERTY_CASES=N runs N cases (default 25, 10 with -short).

// propertyVIMs leave room for every manifest the generator makes, even
// with a service's functions twice over during a replace: feasibility is
// the plan's business, tested in reconcile/plan.
const propertyVIMs = `vims:
  - {name: athens, city: Athens, endpoint: 10.100.32.200, cores: 64, memory_mb: 262144}
  - {name: aveiro, city: Aveiro, endpoint: 10.1.10.0, cores: 64, memory_mb: 262144}
  - {name: ghent, city: Ghent, endpoint: 10.2.0.1, cores: 64, memory_mb: 262144}
`

var (
	propertyNames = []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot"}
	propertyNSDs  = []struct {
		ref  string
		vnfs []string
	}{
		{`{vendor: eu.sonata-nfv.service-descriptor, name: sonata-demo, version: "0.2.1"}`, []string{"vnf_firewall", "vnf_iperf", "vnf_tcpdump"}},
		{`{vendor: eu.sonata-nfv.service-descriptor, name: sonata-demo, version: "0.2.2"}`, []string{"vnf_firewall", "vnf_iperf", "vnf_tcpdump"}},
		{`{vendor: eu.example, name: iperf-pair, version: "1.0"}`, []string{"vnf_iperf", "vnf_tcpdump"}},
	}
	propertyVIMNames = []string{"athens", "aveiro", "ghent"}
)

// randomSpec returns a random service spec: the YAML of one manifest
// entry without its name.
func randomSpec(r *rand.Rand) string {
	var b strings.Builder
	nsd := propertyNSDs[r.IntN(len(propertyNSDs))]
	fmt.Fprintf(&b, "    nsd: %s\n", nsd.ref)
	if r.IntN(3) == 0 {
		fmt.Fprintf(&b, "    instances: {%s: %d}\n", nsd.vnfs[r.IntN(len(nsd.vnfs))], 1+r.IntN(3))
	}
	if r.IntN(4) == 0 {
		fmt.Fprintf(&b, "    ingresses: [{location: Athens, nap: 10.100.10.%d}]\n", 1+r.IntN(2))
	}
	var wishes []string
	if p := []string{"", "", "load-balanced", "fill-first", "first-fit", "priority"}[r.IntN(6)]; p != "" {
		wishes = append(wishes, "policy: "+p)
		if p == "priority" {
			vs := slices.Clone(propertyVIMNames)
			r.Shuffle(len(vs), func(i, j int) { vs[i], vs[j] = vs[j], vs[i] })
			wishes = append(wishes, "priority: ["+strings.Join(vs, ", ")+"]")
		}
	}
	switch r.IntN(5) {
	case 0:
		vs := slices.Clone(propertyVIMNames)
		r.Shuffle(len(vs), func(i, j int) { vs[i], vs[j] = vs[j], vs[i] })
		wishes = append(wishes, "allowed_vims: ["+strings.Join(vs[:1+r.IntN(2)], ", ")+"]")
	case 1:
		wishes = append(wishes, "blocked_vims: ["+propertyVIMNames[r.IntN(3)]+"]")
	}
	if len(wishes) > 0 {
		fmt.Fprintf(&b, "    placement: {%s}\n", strings.Join(wishes, ", "))
	}
	return b.String()
}

// specPool is many random service specs, resolved once (resolving a
// manifest validates every descriptor with CUE, the costly part): a
// random desired state gives its services specs from the pool. A spec's
// digest does not depend on the service's name.
type specPool struct {
	st    *desired.State
	specs []string
}

func newSpecPool(t *testing.T, n int) *specPool {
	t.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	var b strings.Builder
	pool := &specPool{}
	b.WriteString("services:\n")
	for i := 0; i < n; i++ {
		spec := randomSpec(r)
		pool.specs = append(pool.specs, spec)
		fmt.Fprintf(&b, "  spec-%03d:\n%s", i, spec)
	}
	pool.st = resolveManifest(t, propertyVIMs+b.String())
	return pool
}

// randomState picks a random subset of the names, each with a random spec
// of the pool; it returns the state and its manifest (for the log).
func (p *specPool) randomState(r *rand.Rand) (*desired.State, string) {
	st := &desired.State{Manifest: p.st.Manifest, VIMs: p.st.VIMs, DescriptorDigests: p.st.DescriptorDigests}
	var b strings.Builder
	for _, name := range propertyNames {
		if r.IntN(3) == 0 {
			continue
		}
		i := r.IntN(len(p.specs))
		s := *p.st.Services[i]
		s.Name = name
		st.Services = append(st.Services, &s)
		fmt.Fprintf(&b, "  %s:\n%s", name, p.specs[i])
	}
	st.ManifestDigest = "sha256:" + b.String()
	return st, b.String()
}

func TestPropertyApplyConverges(t *testing.T) {
	cases := 25
	if testing.Short() {
		cases = 10
	}
	if n, err := strconv.Atoi(os.Getenv("MANOCTL_PROPERTY_CASES")); err == nil {
		cases = n
	}
	base := uint64(time.Now().UnixNano())
	if s := os.Getenv("MANOCTL_PROPERTY_SEED"); s != "" {
		seed, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("MANOCTL_PROPERTY_SEED: %v", err)
		}
		base, cases = seed, 1
	}
	t.Logf("seeds %d..%d (rerun one with MANOCTL_PROPERTY_SEED=N)", base, base+uint64(cases)-1)
	pool := newSpecPool(t, 120)
	for i := 0; i < cases; i++ {
		seed := base + uint64(i)
		t.Run(strconv.FormatUint(seed, 10), func(t *testing.T) { propertyCase(t, pool, seed) })
	}
}

func propertyCase(t *testing.T, pool *specPool, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 0x6d616e6f63746c))
	st1, first := pool.randomState(r)
	st2, second := pool.randomState(r)
	var log []string
	defer func() {
		if t.Failed() {
			t.Logf("seed %d\nfirst manifest:\n%s\nthen: %s\nsecond manifest:\n%s", seed, first, strings.Join(log, "; "), second)
		}
	}()
	d := newMemStateDir(t)
	if r.IntN(5) == 0 {
		log = append(log, "the first apply dies before saving the infrastructure")
		d.crashApply(st1)
	} else {
		d.mustApply(st1, nil)
	}

	// Perturb what the first run left.
	it, err := d.store.Snapshot().Reader().Services(nil)
	if err != nil {
		t.Fatal(err)
	}
	var live []*records.Service
	for s := range it {
		if s.Status != records.ServiceTerminated {
			live = append(live, s)
		}
	}
	for _, s := range live {
		switch r.IntN(8) {
		case 0:
			log = append(log, s.Name+" set to ERROR")
			c := s.Copy()
			c.Status, c.Error = records.ServiceError, "injected failure"
			if _, err := d.store.UpsertService(c); err != nil {
				t.Fatal(err)
			}
		case 1:
			status := []records.ServiceStatus{records.ServiceInstantiating, records.ServiceUpdating, records.ServiceTerminating}[r.IntN(3)]
			log = append(log, fmt.Sprintf("%s left %s", s.Name, status))
			c := s.Copy()
			c.Status = status
			if _, err := d.store.UpsertService(c); err != nil {
				t.Fatal(err)
			}
		}
	}
	emu, err := embedded.LoadInfra(d.dir, st1)
	if err != nil {
		t.Fatal(err)
	}
	lost := 0
	for _, f := range emu.Snapshot().Functions {
		if r.IntN(10) == 0 {
			emu.LoseFunction(f.InstanceUUID)
			lost++
		}
	}
	if lost > 0 {
		log = append(log, fmt.Sprintf("%d functions lost by the infrastructure", lost))
		data, err := emu.Export()
		if err != nil {
			t.Fatal(err)
		}
		if err := embedded.WriteInfra(d.dir, data); err != nil {
			t.Fatal(err)
		}
	}
	d.reopen()

	d.mustApply(st2, nil)
	d.checkConverged(st2)
}
