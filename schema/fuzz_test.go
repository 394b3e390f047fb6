package schema_test

import (
	"archive/zip"
	"bytes"
	"testing"

	"github.com/manoctl/manoctl/schema"
	"github.com/manoctl/manoctl/schema/syntax"
)

// FuzzLoad feeds arbitrary bytes, named as YAML, JSON or a .son package,
// through the loader and the syntax check: neither may panic, and every
// document they return must be usable. Seeds: testdata/fuzz/FuzzLoad.
//
//	go test -run '^$' -fuzz FuzzLoad -fuzztime 60s ./schema
func FuzzLoad(f *testing.F) {
	f.Add("vnfd.yml", []byte("descriptor_version: vnfd-schema-01\nvendor: v\nname: n\nversion: 0.3\nvirtual_deployment_units: [{id: a, resource_requirements: {cpu: {vcpus: yes}}}]\n"))
	f.Add("nsd.json", []byte(`{"descriptor_version": "1.0", "vendor": "v", "name": "n", "version": "1", "virtual_links": [{"id": "l", "vl_name": 1}]}`))
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("META-INF/MANIFEST.MF")
	_, _ = w.Write([]byte("descriptor_version: '1.0'\nvendor: p\nname: p\nversion: '1'\npackage_content: [{name: /x.yml, content-type: application/sonata.function_descriptor}]\n"))
	_ = zw.Close()
	f.Add("p.son", buf.Bytes())
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		docs, diags := schema.LoadBytes(name, data, schema.LoadOptions{Limits: schema.PackageLimits{MaxMembers: 64, MaxTotalSize: 1 << 20}})
		for _, d := range diags {
			if d.Code == "" || d.Message == "" {
				t.Fatalf("diagnostic without code or message: %+v", d)
			}
		}
		for _, doc := range docs {
			if doc.Root == nil || doc.Kind == schema.KindUnknown {
				t.Fatalf("unusable document: %+v", doc)
			}
			if _, err := syntax.Check(doc, syntax.Options{}); err != nil {
				t.Fatalf("syntax.Check: %v", err)
			}
		}
	})
}
