package embedded

import (
	"fmt"
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"

	"github.com/manoctl/manoctl/reconcile/wire"
	"github.com/manoctl/manoctl/schema/descriptor"
)

// LoadCreateRequest builds a gatekeeper create request from an NSD file and
// the VNFD files of its network functions, in network_functions order, as
// the gatekeeper does (tests and benchmarks).
func LoadCreateRequest(nsdPath string, vnfdPaths ...string) (wire.CreateRequest, error) {
	nsd, err := readDoc(nsdPath)
	if err != nil {
		return wire.CreateRequest{}, err
	}
	byID := map[descriptor.Identity]descriptor.Doc{}
	for _, p := range vnfdPaths {
		d, err := readDoc(p)
		if err != nil {
			return wire.CreateRequest{}, err
		}
		byID[descriptor.IdentityOf(d)] = d
	}
	parsed, err := descriptor.ParseNSD(nsd)
	if err != nil {
		return wire.CreateRequest{}, err
	}
	req := wire.CreateRequest{NSD: nsd}
	for i, nf := range parsed.NetworkFunctions {
		d, ok := byID[nf.Identity]
		if !ok {
			// The SLM fixture's NSD asks for version 0.1 of VNFDs that
			// are 0.2 (§4.11); the gatekeeper resolved by name then.
			for id, doc := range byID {
				if id.Vendor == nf.Vendor && id.Name == nf.Name {
					d, ok = doc, true
				}
			}
		}
		if !ok {
			return wire.CreateRequest{}, fmt.Errorf("no VNFD for %s", nf.Identity)
		}
		req.VNFDs = append(req.VNFDs, d)
		req.VNFDKeys = append(req.VNFDKeys, fmt.Sprintf("VNFD%d", i))
	}
	return req, nil
}

// SonataDemo is the 3-VNF sonata-demo service of the original SLM's test
// descriptors, the service of the observed trace.
func SonataDemo(dir string) (wire.CreateRequest, error) {
	return LoadCreateRequest(filepath.Join(dir, "sonata-demo.yml"),
		filepath.Join(dir, "firewall-vnfd.yml"), filepath.Join(dir, "iperf-vnfd.yml"), filepath.Join(dir, "tcpdump-vnfd.yml"))
}

func readDoc(path string) (descriptor.Doc, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var d map[string]any
	if err := yaml.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return d, nil
}
