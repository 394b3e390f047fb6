package desired

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"

	"github.com/google/uuid"

	"github.com/manoctl/manoctl/reconcile/records"
	"github.com/manoctl/manoctl/reconcile/wire"
	"github.com/manoctl/manoctl/schema"
	"github.com/manoctl/manoctl/schema/descriptor"
	"github.com/manoctl/manoctl/schema/validate"
)

// State is the normalised desired state: every service with the
// descriptors it resolved to, and digests that bind a plan to exactly
// these inputs.
type State struct {
	Manifest *Manifest
	// ManifestDigest is the sha256 of the manifest bytes.
	ManifestDigest string
	// Services in name order.
	Services []*Service
	// VIMs is the emulator inventory, with derived uuids.
	VIMs []VIM
	// DescriptorDigests maps each descriptor the services use
	// (vendor.name.version) to its content digest.
	DescriptorDigests map[string]string
	// Warnings are validation warnings of the descriptors (not fatal).
	Warnings []schema.Diagnostic
}

// Service is one desired service, resolved against the descriptors: what
// the plan compares with the records.
type Service struct {
	Name string
	NSD  descriptor.Doc
	// NSDRef is the NSD's identity; NSDDigest its content digest.
	NSDRef    descriptor.Identity
	NSDDigest string
	// Functions are the network functions in NSD order, with their VNFDs.
	Functions []Function
	Ingresses []wire.NAP
	Egresses  []wire.NAP
	Placement wire.PlacementSpec
	// Instances per vnf_id (1 unless the manifest says otherwise).
	Instances map[string]int
	// SpecDigest covers everything above: two services with the same
	// SpecDigest are the same desired service.
	SpecDigest string
}

// Function is one network function of a desired service.
type Function struct {
	VNFID      string
	VNFD       descriptor.Doc
	VNFDRef    descriptor.Identity
	VNFDDigest string
	// Demand of one instance (sum of the VDUs, memory in MB).
	Demand descriptor.Demand
}

// CreateRequest builds the gatekeeper request that instantiates s: the
// NSD and one VNFD per network function (as the gatekeeper sends them),
// plus manoctl's extension naming the instance, its spec digest and its
// placement wishes.
func (s *Service) CreateRequest() wire.CreateRequest {
	req := wire.CreateRequest{NSD: s.NSD, Ingresses: s.Ingresses, Egresses: s.Egresses}
	for i, f := range s.Functions {
		req.VNFDs = append(req.VNFDs, f.VNFD)
		req.VNFDKeys = append(req.VNFDKeys, fmt.Sprintf("VNFD%d", i))
	}
	p := s.Placement
	req.Manoctl = &wire.CreateOptions{InstanceName: s.Name, SpecDigest: s.SpecDigest, Placement: &p}
	return req
}

// Resolve loads and validates (all levels) every descriptor the manifest
// names, and resolves each service's NSD and VNFDs. Invalid descriptors,
// or services that name descriptors that are not there, give an
// *InvalidError carrying every problem.
func Resolve(ctx context.Context, m *Manifest) (*State, error) {
	paths := make([]string, len(m.Descriptors))
	for i, p := range m.Descriptors {
		if !filepath.IsAbs(p) {
			p = filepath.Join(m.Dir, p)
		}
		paths[i] = p
	}
	docs, loadDiags := schema.LoadPaths(ctx, paths, schema.LoadOptions{})
	for _, d := range loadDiags {
		if schema.IsReadFailure(d) {
			return nil, fmt.Errorf("manifest: descriptors: %s", d)
		}
	}
	rep, err := validate.Documents(ctx, docs, loadDiags, validate.Options{Level: schema.LevelTopology})
	if err != nil {
		return nil, fmt.Errorf("manifest: validate descriptors: %w", err)
	}
	st := &State{Manifest: m, ManifestDigest: digestBytes(m.Data), DescriptorDigests: map[string]string{}}
	var errs []schema.Diagnostic
	for _, d := range rep.Diagnostics {
		if d.Severity == schema.SeverityError {
			errs = append(errs, d)
		} else if d.Severity == schema.SeverityWarning {
			st.Warnings = append(st.Warnings, d)
		}
	}
	if len(errs) > 0 {
		return nil, &InvalidError{Diagnostics: errs}
	}
	nsds := map[descriptor.Identity]*schema.Document{}
	vnfds := map[descriptor.Identity]*schema.Document{}
	for _, d := range docs {
		doc := descriptor.AsMap(d.Value)
		if doc == nil {
			continue
		}
		id := descriptor.IdentityOf(doc)
		switch d.Kind {
		case schema.KindNSD:
			if _, dup := nsds[id]; !dup {
				nsds[id] = d
			}
		case schema.KindVNFD:
			if _, dup := vnfds[id]; !dup {
				vnfds[id] = d
			}
		}
	}
	for _, name := range m.ServiceNames() {
		ms := m.Services[name]
		ptr := schema.Pointer("services", name, "nsd")
		nsdID := descriptor.Identity{Vendor: ms.NSD.Vendor, Name: ms.NSD.Name, Version: ms.NSD.Version}
		nd, ok := nsds[nsdID]
		if !ok {
			errs = append(errs, m.diag(ptr, "manifest.nsd_unknown", "service %q: no NSD %s among the descriptors (%s)", name, nsdID, nsdList(nsds)))
			continue
		}
		svc, problems := m.resolveService(name, ms, nd, vnfds, st)
		errs = append(errs, problems...)
		if svc != nil {
			st.Services = append(st.Services, svc)
		}
	}
	if len(errs) > 0 {
		return nil, &InvalidError{Diagnostics: errs}
	}
	for _, v := range m.VIMs {
		if v.UUID == "" {
			v.UUID = VIMUUID(v.Name)
		}
		st.VIMs = append(st.VIMs, v)
	}
	return st, nil
}

// vimNamespace derives stable VIM uuids from names, so that plans are
// reproducible; the emulator uses the same derivation.
var vimNamespace = uuid.MustParse("6ba7b811-9dad-11d1-80b4-00c04fd430c8") // RFC 4122 URL namespace

// VIMUUID is the uuid of an inventory VIM that has none.
func VIMUUID(name string) string {
	return uuid.NewSHA1(vimNamespace, []byte("manoctl:vim:"+name)).String()
}

func (m *Manifest) diag(ptr, code, format string, args ...any) schema.Diagnostic {
	d := schema.Diagnostic{File: m.Path, Severity: schema.SeverityError, Code: code, Message: fmt.Sprintf(format, args...), Pointer: ptr}
	if doc := yamlDoc(m.Path, m.Data); doc != nil {
		if n := doc.Lookup(ptr); n != nil {
			d.Line, d.Column = n.Line, n.Column
		}
	}
	return d
}

func nsdList(m map[descriptor.Identity]*schema.Document) string {
	if len(m) == 0 {
		return "none were loaded"
	}
	var ids []string
	for id := range m {
		ids = append(ids, id.String())
	}
	sort.Strings(ids)
	return "available: " + fmt.Sprint(ids)
}

func (m *Manifest) resolveService(name string, ms *ServiceSpec, nd *schema.Document, vnfds map[descriptor.Identity]*schema.Document, st *State) (*Service, []schema.Diagnostic) {
	var errs []schema.Diagnostic
	nsdDoc := descriptor.AsMap(nd.Value)
	nsd, err := descriptor.ParseNSD(nsdDoc)
	if err != nil {
		return nil, []schema.Diagnostic{m.diag(schema.Pointer("services", name, "nsd"), "manifest.nsd_invalid", "service %q: %v", name, err)}
	}
	svc := &Service{
		Name: name, NSD: nsdDoc, NSDRef: nsd.Identity, NSDDigest: DigestDoc(nsdDoc),
		Ingresses: ms.Ingresses, Egresses: ms.Egresses, Instances: map[string]int{},
	}
	if ms.Placement != nil {
		svc.Placement = *ms.Placement
	}
	st.DescriptorDigests[nsd.Identity.String()] = svc.NSDDigest
	known := map[string]bool{}
	for _, nf := range nsd.NetworkFunctions {
		known[nf.VNFID] = true
		vd, ok := vnfds[nf.Identity]
		if !ok {
			errs = append(errs, m.diag(schema.Pointer("services", name, "nsd"), "manifest.vnfd_unknown",
				"service %q: NSD %s needs VNFD %s (vnf_id %s), which is not among the descriptors", name, nsd.Identity, nf.Identity, nf.VNFID))
			continue
		}
		doc := descriptor.AsMap(vd.Value)
		v, err := descriptor.ParseVNFD(doc)
		if err != nil {
			errs = append(errs, m.diag(schema.Pointer("services", name, "nsd"), "manifest.vnfd_invalid", "service %q: VNFD %s: %v", name, nf.Identity, err))
			continue
		}
		f := Function{VNFID: nf.VNFID, VNFD: doc, VNFDRef: v.Identity, VNFDDigest: DigestDoc(doc), Demand: v.Demand()}
		st.DescriptorDigests[v.Identity.String()] = f.VNFDDigest
		svc.Functions = append(svc.Functions, f)
		svc.Instances[nf.VNFID] = 1
	}
	for vnfID, n := range ms.Instances {
		if !known[vnfID] {
			errs = append(errs, m.diag(schema.Pointer("services", name, "instances", vnfID), "manifest.vnf_unknown",
				"service %q: instances names vnf_id %q, which NSD %s does not have", name, vnfID, nsd.Identity))
			continue
		}
		svc.Instances[vnfID] = n
	}
	if len(errs) > 0 {
		return nil, errs
	}
	svc.SpecDigest = specDigest(svc)
	return svc, nil
}

// DigestDoc is the content digest of a descriptor as the records store
// it: the records' canonical digest of the document without the catalogue
// uuid that the gatekeeper or the SLM adds.
func DigestDoc(d descriptor.Doc) string {
	c := d
	if _, ok := d["uuid"]; ok {
		c = descriptor.Copy(d)
		delete(c, "uuid")
	}
	dg, err := records.DigestDoc(c)
	if err != nil {
		return ""
	}
	return dg
}

func digestBytes(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

func specDigest(s *Service) string {
	parts := map[string]any{
		"nsd": s.NSDDigest, "ingresses": s.Ingresses, "egresses": s.Egresses,
		"placement": s.Placement, "instances": s.Instances,
	}
	var vnfds []string
	for _, f := range s.Functions {
		vnfds = append(vnfds, f.VNFID+"="+f.VNFDDigest)
	}
	parts["vnfds"] = vnfds
	b, _ := json.Marshal(parts)
	return digestBytes(b)
}
