package desired

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeManifest(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	src, err := filepath.Abs("../../testdata/demo/descriptors")
	if err != nil {
		t.Fatal(err)
	}
	body = strings.ReplaceAll(body, "DESCRIPTORS", src)
	p := filepath.Join(dir, "manoctl.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const demoManifest = `
descriptors: [DESCRIPTORS]
vims:
  - {name: athens, city: Athens, cores: 32, memory_mb: 65536}
services:
  demo-1:
    nsd: {vendor: eu.sonata-nfv.service-descriptor, name: sonata-demo, version: "0.2.1"}
    placement: {policy: load-balanced}
  demo-2:
    nsd: {vendor: eu.sonata-nfv.service-descriptor, name: sonata-demo, version: "0.2.1"}
    instances: {vnf_iperf: 2}
`

func TestResolveDemo(t *testing.T) {
	m, err := Load(writeManifest(t, demoManifest))
	if err != nil {
		t.Fatal(err)
	}
	st, err := Resolve(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Services) != 2 || st.Services[0].Name != "demo-1" {
		t.Fatalf("services %+v", st.Services)
	}
	s1, s2 := st.Services[0], st.Services[1]
	if len(s1.Functions) != 3 || s1.Functions[0].Demand.Cores == 0 {
		t.Fatalf("functions %+v", s1.Functions)
	}
	if s1.SpecDigest == s2.SpecDigest || s2.Instances["vnf_iperf"] != 2 || s1.Instances["vnf_iperf"] != 1 {
		t.Fatalf("spec digests must differ: %s %s %v", s1.SpecDigest, s2.SpecDigest, s2.Instances)
	}
	if s1.NSDDigest != s2.NSDDigest {
		t.Fatal("same NSD, different digests")
	}
	if st.VIMs[0].UUID != VIMUUID("athens") {
		t.Fatal("VIM uuid not derived")
	}
	req := s1.CreateRequest()
	if len(req.VNFDs) != 3 || req.Manoctl.InstanceName != "demo-1" || req.Manoctl.SpecDigest != s1.SpecDigest {
		t.Fatalf("create request %+v", req.Manoctl)
	}
}

func TestResolveUnknownNSDAndVNF(t *testing.T) {
	body := strings.Replace(demoManifest, `version: "0.2.1"}
    placement`, `version: "9.9"}
    placement`, 1)
	body = strings.Replace(body, "vnf_iperf: 2", "vnf_nope: 2", 1)
	m, err := Load(writeManifest(t, body))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Resolve(context.Background(), m)
	if !IsInvalid(err) {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{`no NSD eu.sonata-nfv.service-descriptor.sonata-demo.9.9`, `vnf_id "vnf_nope"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestResolveRejectsInvalidDescriptors(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "bad.yml"), []byte("descriptor_version: '1.0'\nvendor: x\nname: y\nversion: 0.1\n"), 0o644)
	p := filepath.Join(dir, "manoctl.yaml")
	os.WriteFile(p, []byte("descriptors: [.]\n"), 0o644)
	m, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Resolve(context.Background(), m)
	if !IsInvalid(err) || !strings.Contains(err.Error(), "bad.yml") {
		t.Fatalf("err = %v", err)
	}
}
