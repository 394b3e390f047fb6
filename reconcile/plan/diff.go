package plan

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/manoctl/manoctl/reconcile/desired"
	"github.com/manoctl/manoctl/reconcile/placement"
	"github.com/manoctl/manoctl/reconcile/records"
	"github.com/manoctl/manoctl/reconcile/wire"
)

// Records is the view of the records the diff reads.
type Records interface {
	Lineage() string
	Index() uint64
	// Services returns every service record, terminated ones included.
	Services() []*records.Service
	// Functions returns a service's function records in NSD order.
	Functions(serviceID string) []*records.Function
}

// Infra is a refresh of the infrastructure.
type Infra struct {
	// VIMs with their current use, as the IA reports them.
	VIMs []placement.VIM
	// Functions is the set of function ids the IA still runs; nil when
	// the IA cannot tell (the 2017 IA has no such query), which disables
	// drift detection.
	Functions map[string]bool
}

// Input is what Compute diffs.
type Input struct {
	Desired *desired.State
	Records Records
	// Infra is the refresh; nil plans from the records alone, with VIM use
	// derived from the desired inventory and the recorded functions.
	Infra *Infra
	// DefaultPolicy places services whose manifest names no policy.
	DefaultPolicy placement.Policy
	// Now stamps the plan.
	Now time.Time
	// Detailed also lists unchanged services.
	Detailed bool
}

// live is a service record with its functions.
type live struct {
	svc   *records.Service
	funcs []*records.Function
}

// Compute diffs the desired state against the records.
func Compute(in Input) (*Plan, error) {
	if in.Desired == nil || in.Records == nil {
		return nil, fmt.Errorf("plan: desired state and records are required")
	}
	p := &Plan{
		FormatVersion: FormatVersion, Lineage: in.Records.Lineage(), Index: in.Records.Index(),
		ManifestDigest: in.Desired.ManifestDigest, DescriptorDigests: in.Desired.DescriptorDigests,
		CreatedAt: in.Now, Refreshed: in.Infra != nil,
	}
	if in.Desired.Manifest != nil {
		p.ManifestPath = in.Desired.Manifest.Path
	}
	byName := map[string]*live{}
	var all []*live
	for _, s := range in.Records.Services() {
		if s.Status == records.ServiceTerminated {
			continue
		}
		l := &live{svc: s, funcs: in.Records.Functions(s.ID)}
		all = append(all, l)
		if s.Name != "" {
			if prev, dup := byName[s.Name]; dup {
				// Two live records with one name (a crash between create
				// and the old one's terminate): keep the newer, destroy
				// the older.
				if prev.svc.CreateIndex > s.CreateIndex {
					prev, l = l, prev
				}
				p.Changes = append(p.Changes, &Change{Service: prev.svc.Name, ServiceID: prev.svc.ID, Action: Destroy,
					Reasons: []string{fmt.Sprintf("a newer instance %s has the same name", l.svc.ID)}, Before: prev.svc.NSD.Identity.String()})
			}
			byName[s.Name] = l
		}
	}
	desiredNames := map[string]bool{}
	var changes []*Change
	for _, d := range in.Desired.Services {
		desiredNames[d.Name] = true
		c := diffService(d, byName[d.Name], in.Infra)
		if c == nil {
			if in.Detailed {
				p.Unchanged = append(p.Unchanged, d.Name)
			}
			continue
		}
		changes = append(changes, c)
	}
	var destroys []*Change
	for _, l := range all {
		if l.svc.Name == "" || desiredNames[l.svc.Name] {
			continue // unmanaged services are left alone
		}
		if byName[l.svc.Name] != l {
			continue // already destroyed as a duplicate
		}
		destroys = append(destroys, &Change{Service: l.svc.Name, ServiceID: l.svc.ID, Action: Destroy,
			Reasons: []string{"not in the manifest"}, Before: l.svc.NSD.Identity.String()})
	}
	sort.Slice(destroys, func(i, j int) bool { return destroys[i].Service < destroys[j].Service })
	p.Changes = append(p.Changes, destroys...)
	p.Changes = append(p.Changes, changes...)
	preview(p, in, byName)
	p.Summary = Summarize(p.Changes)
	for _, c := range p.Changes {
		if c.Infeasible != "" {
			p.Infeasible = true
		}
	}
	return p, nil
}

// diffService decides one desired service's change; nil means none.
func diffService(d *desired.Service, l *live, infra *Infra) *Change {
	c := &Change{Service: d.Name, After: d.NSDRef.String(), SpecDigest: d.SpecDigest}
	if l == nil {
		c.Action = Create
		c.Reasons = []string{"not running"}
		return c
	}
	s := l.svc
	c.ServiceID = s.ID
	c.Before = s.NSD.Identity.String()
	switch s.Status {
	case records.ServiceError:
		c.Action = Heal
		c.Reasons = []string{"its last operation failed: " + firstLine(s.Error)}
		return c
	case records.ServiceInstantiating, records.ServiceTerminating, records.ServiceUpdating:
		c.Action = Heal
		c.Reasons = []string{fmt.Sprintf("an operation was interrupted (status %s)", s.Status)}
		return c
	}
	if infra != nil && infra.Functions != nil {
		var lost []string
		for _, f := range l.funcs {
			if !infra.Functions[f.ID] {
				lost = append(lost, fmt.Sprintf("%s (%s)", f.VNFID, f.ID))
			}
		}
		if len(lost) > 0 {
			c.Action = Heal
			c.Reasons = []string{"the infrastructure no longer runs " + strings.Join(lost, ", ")}
			return c
		}
	}
	running := map[string][]*records.Function{}
	for _, f := range l.funcs {
		running[f.VNFID] = append(running[f.VNFID], f)
	}
	if s.Spec.Digest == d.SpecDigest && countsMatch(running, d) {
		return nil
	}
	// What changed decides how it can be applied.
	if s.NSD.Identity.Vendor != d.NSDRef.Vendor || s.NSD.Identity.Name != d.NSDRef.Name {
		c.Action = Replace
		c.Reasons = []string{fmt.Sprintf("another NSD: %s instead of %s", d.NSDRef, s.NSD.Identity)}
		return c
	}
	if !sameNAPs(s.Ingresses, d.Ingresses) || !sameNAPs(s.Egresses, d.Egresses) {
		c.Action = Replace
		c.Reasons = []string{"ingresses or egresses changed; the SLM chains a service's endpoints at instantiation"}
		return c
	}
	var reasons []string
	if s.NSD.Digest != d.NSDDigest {
		if s.NSD.Identity.Version != d.NSDRef.Version {
			reasons = append(reasons, fmt.Sprintf("NSD version %s -> %s", s.NSD.Identity.Version, d.NSDRef.Version))
		} else {
			reasons = append(reasons, "NSD content changed (same version)")
		}
	}
	wanted := map[string]bool{}
	for _, f := range d.Functions {
		wanted[f.VNFID] = true
		rs := running[f.VNFID]
		switch {
		case len(rs) == 0:
			c.Replaced = append(c.Replaced, f.VNFID)
			reasons = append(reasons, fmt.Sprintf("new network function %s (%s)", f.VNFID, f.VNFDRef))
		case rs[0].VNFD.Digest != f.VNFDDigest:
			c.Replaced = append(c.Replaced, f.VNFID)
			if rs[0].VNFD.Identity.Version != f.VNFDRef.Version {
				reasons = append(reasons, fmt.Sprintf("%s: VNFD %s %s -> %s", f.VNFID, f.VNFDRef.Name, rs[0].VNFD.Identity.Version, f.VNFDRef.Version))
			} else {
				reasons = append(reasons, fmt.Sprintf("%s: VNFD %s content changed (same version)", f.VNFID, f.VNFDRef.Name))
			}
		}
	}
	var gone []string
	for vnfID := range running {
		if !wanted[vnfID] {
			gone = append(gone, vnfID)
		}
	}
	sort.Strings(gone)
	for _, g := range gone {
		reasons = append(reasons, "network function "+g+" removed")
	}
	for _, f := range d.Functions {
		from, to := len(running[f.VNFID]), d.Instances[f.VNFID]
		if to == 0 {
			to = 1
		}
		if contains(c.Replaced, f.VNFID) {
			from = 1 // the update leaves one new instance
		}
		if from != to {
			c.Scale = append(c.Scale, ScaleDelta{VNFID: f.VNFID, From: from, To: to})
		}
	}
	switch {
	case len(reasons) > 0:
		c.Action = Update
		c.Reasons = reasons
		for _, sd := range c.Scale {
			c.Reasons = append(c.Reasons, fmt.Sprintf("then scale %s %d -> %d", sd.VNFID, sd.From, sd.To))
		}
	case len(c.Scale) > 0:
		c.Action = Scale
		for _, sd := range c.Scale {
			c.Reasons = append(c.Reasons, fmt.Sprintf("%s instances %d -> %d", sd.VNFID, sd.From, sd.To))
		}
	default:
		c.Action = Update
		c.Reasons = []string{"placement wishes changed (running functions stay where they are)"}
	}
	return c
}

func sameNAPs(a []records.Endpoint, b []wire.NAP) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Location != b[i].Location || a[i].NAP != b[i].NAP {
			return false
		}
	}
	return true
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	if s == "" {
		return "no error recorded"
	}
	return s
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// countsMatch reports whether every network function runs as many
// instances as desired; the spec digest alone does not prove it (a scale
// that failed after the create that recorded the digest).
func countsMatch(running map[string][]*records.Function, d *desired.Service) bool {
	if len(running) != len(d.Functions) {
		return false
	}
	for _, f := range d.Functions {
		want := d.Instances[f.VNFID]
		if want == 0 {
			want = 1
		}
		if len(running[f.VNFID]) != want {
			return false
		}
	}
	return true
}
