package schema_test

import (
	"archive/zip"
	"bytes"
	"io/fs"
	"strings"
	"testing"

	"github.com/manoctl/manoctl/schema"
	"github.com/manoctl/manoctl/schema/syntax"
)

// FuzzPackage builds a well-formed .son zip from fuzzed parts (the
// MANIFEST.MF, two member names and bodies, entry modes), so that the
// fuzzer gets past the zip format into the package checks: structure,
// package_content references, MD5 sums, member limits, unsafe names and
// links. FuzzLoad covers raw (malformed) zip bytes. Seeds:
// testdata/fuzz/FuzzPackage.
//
//	go test -run '^$' -fuzz FuzzPackage -fuzztime 5m ./schema
func FuzzPackage(f *testing.F) {
	pd := "descriptor_version: '1.0'\nvendor: p\nname: p\nversion: '1'\nentry_service_template: /service_descriptors/nsd.yml\npackage_content:\n" +
		"  - {name: /service_descriptors/nsd.yml, content-type: application/sonata.service_descriptor, md5: 0123}\n" +
		"  - {name: /function_descriptors/vnfd.yml, content-type: application/sonata.function_descriptors}\n"
	nsd := "descriptor_version: '1.0'\nvendor: v\nname: s\nversion: '1'\nnetwork_functions: [{vnf_id: a, vnf_vendor: v, vnf_name: f, vnf_version: '1'}]\n"
	vnfd := "descriptor_version: vnfd-schema-01\nvendor: v\nname: f\nversion: '1'\nvirtual_deployment_units: [{id: x}]\n"
	f.Add([]byte(pd), "service_descriptors/nsd.yml", []byte(nsd), "function_descriptors/vnfd.yml", []byte(vnfd), uint8(0))
	f.Add([]byte(pd), "service_descriptors/", []byte{}, "function_descriptors/vnfd.json", []byte(`{"vendor": 1}`), uint8(1))
	f.Add([]byte("package_content: [{name: ../x}, {name: /META-INF/MANIFEST.MF}, 3, null]\n"), "../x", []byte("x"), "a/./b", []byte{}, uint8(2))
	f.Add([]byte("package_content: {}\nentry_service_template: 7\n"), "service_descriptors/x.yml", []byte("&a [*a]"), "C:\\x", []byte{}, uint8(4))
	f.Fuzz(func(t *testing.T, manifest []byte, name1 string, body1 []byte, name2 string, body2 []byte, flags uint8) {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		add := func(name string, body []byte, bit uint8) {
			h := &zip.FileHeader{Name: name, Method: zip.Deflate}
			if flags&(1<<bit) != 0 {
				h.SetMode(fs.ModeSymlink | 0o777)
			}
			if flags&(2<<bit) != 0 {
				h.Method = zip.Store
			}
			w, err := zw.CreateHeader(h)
			if err != nil {
				t.Skip() // a name archive/zip refuses to write
			}
			w.Write(body)
		}
		if flags&0x40 == 0 {
			add("META-INF/MANIFEST.MF", manifest, 0)
		}
		add(name1, body1, 2)
		add(name2, body2, 4)
		if err := zw.Close(); err != nil {
			t.Skip()
		}
		docs, diags := schema.LoadBytes("p.son", buf.Bytes(), schema.LoadOptions{Limits: schema.PackageLimits{MaxMembers: 8, MaxTotalSize: 1 << 20}})
		refused := false
		for _, d := range diags {
			if d.Code == "" || d.Message == "" || strings.Contains(d.Message, "%!") {
				t.Fatalf("malformed diagnostic: %+v", d)
			}
			if d.Code == schema.CodePackageUnsafePath || d.Code == schema.CodePackageLimits {
				refused = true
			}
		}
		if refused && len(docs) > 0 {
			t.Fatalf("a refused package gave %d documents", len(docs))
		}
		for _, doc := range docs {
			if doc.Root == nil || doc.Kind == schema.KindUnknown {
				t.Fatalf("unusable document: %+v", doc)
			}
			if doc.Package != "p.son" || !strings.HasPrefix(doc.File, "p.son:") {
				t.Fatalf("document %s outside its package", doc.File)
			}
			if _, err := syntax.Check(doc, syntax.Options{}); err != nil {
				t.Fatalf("syntax.Check: %v", err)
			}
		}
	})
}
