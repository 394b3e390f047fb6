package schema

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/binary"
	"io/fs"
	"math/rand"
	"strings"
	"testing"
)

// The package limits and the safety checks on .son entries (the security
// part of docs/reliability.md).

const limitsManifest = "descriptor_version: '1.0'\nvendor: p\nname: p\nversion: '1'\npackage_content: []\n"

type rawMember struct {
	name   string
	body   []byte
	mode   fs.FileMode
	stored bool
}

func zipRaw(t *testing.T, members ...rawMember) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, m := range members {
		h := &zip.FileHeader{Name: m.name, Method: zip.Deflate}
		if m.stored {
			h.Method = zip.Store
		}
		if m.mode != 0 {
			h.SetMode(m.mode)
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(m.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// overlap rewrites the central directory so that every entry after the
// first points at the first entry's data, with its sizes, checksum and
// method: the overlapping-entries zip bomb, which multiplies one stream.
func overlap(t *testing.T, archive []byte) []byte {
	t.Helper()
	out := append([]byte(nil), archive...)
	var first []byte
	for i := 0; i+46 <= len(out); i++ {
		if binary.LittleEndian.Uint32(out[i:]) != 0x02014b50 {
			continue
		}
		rec := out[i : i+46]
		if first == nil {
			first = append([]byte(nil), rec...)
			continue
		}
		copy(rec[10:12], first[10:12]) // method
		copy(rec[16:28], first[16:28]) // crc32, compressed and uncompressed sizes
		copy(rec[42:46], first[42:46]) // local header offset
	}
	if first == nil {
		t.Fatal("no central directory")
	}
	return out
}

func TestPackageSafety(t *testing.T) {
	zeros := make([]byte, 2<<20) // deflates about 1000:1
	random := make([]byte, 2<<20)
	rand.New(rand.NewSource(1)).Read(random)
	manifest := rawMember{name: "META-INF/MANIFEST.MF", body: []byte(limitsManifest)}
	var many []rawMember // the first entry's data is what overlap shares
	many = append(many, rawMember{name: "docker_files/a", body: random[:4<<10]}, manifest)
	for i := 0; i < 50; i++ {
		many = append(many, rawMember{name: "docker_files/b" + strings.Repeat("x", i), body: []byte("y"), stored: true})
	}
	tests := []struct {
		name    string
		archive []byte
		limits  PackageLimits
		code    string // "" means accepted
		message string
	}{
		{name: "symbolic link",
			archive: zipRaw(t, manifest, rawMember{name: "service_descriptors/nsd.yml", body: []byte("/etc/passwd"), mode: fs.ModeSymlink | 0o777}),
			code:    CodePackageUnsafePath, message: `package entry "service_descriptors/nsd.yml" is a symbolic link`},
		{name: "zip slip", archive: zipRaw(t, manifest, rawMember{name: "a/../../x.yml", body: []byte("x")}),
			code: CodePackageUnsafePath, message: "is outside the package"},
		{name: "drive letter", archive: zipRaw(t, rawMember{name: "C:x.yml", body: []byte("x")}),
			code: CodePackageUnsafePath},
		{name: "compression ratio", archive: zipRaw(t, manifest, rawMember{name: "docker_files/zeros", body: zeros}),
			code: CodePackageLimits, message: "over the 100:1 compression ratio limit"},
		{name: "ratio limit configurable", archive: zipRaw(t, manifest, rawMember{name: "docker_files/zeros", body: zeros}),
			limits: PackageLimits{MaxRatio: 2000}},
		{name: "small members are not ratio-checked", archive: zipRaw(t, manifest, rawMember{name: "docker_files/zeros", body: zeros[:RatioFloor]})},
		{name: "incompressible member", archive: zipRaw(t, manifest, rawMember{name: "docker_files/random", body: random})},
		{name: "overlapping entries", archive: overlap(t, zipRaw(t, many...)),
			code: CodePackageLimits, message: "overlapping entries"},
		{name: "member size", archive: zipRaw(t, manifest, rawMember{name: "docker_files/random", body: random}),
			limits: PackageLimits{MaxMemberSize: 1 << 20}, code: CodePackageLimits, message: "over the limit of 1048576"},
		{name: "total size", archive: zipRaw(t, manifest, rawMember{name: "a", body: random[:600]}, rawMember{name: "b", body: random[:600]}),
			limits: PackageLimits{MaxTotalSize: 1000}, code: CodePackageLimits, message: "package inflates to more than 1000 bytes"},
		{name: "entry count", archive: zipRaw(t, many...),
			limits: PackageLimits{MaxMembers: 10}, code: CodePackageLimits, message: "package has 52 entries, over the limit of 10"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			docs, diags := LoadBytes("p.son", tc.archive, LoadOptions{Limits: tc.limits})
			var got *Diagnostic
			for i := range diags {
				if diags[i].Code == CodePackageUnsafePath || diags[i].Code == CodePackageLimits {
					got = &diags[i]
				}
			}
			switch {
			case tc.code == "" && got != nil:
				t.Fatalf("refused: %v", got)
			case tc.code == "":
				return
			case got == nil || got.Code != tc.code:
				t.Fatalf("diagnostics %v, want %s", diags, tc.code)
			case !strings.Contains(got.Message, tc.message):
				t.Fatalf("message %q, want %q", got.Message, tc.message)
			case len(docs) != 0:
				t.Fatalf("a refused package gave %d documents", len(docs))
			}
		})
	}
}

// TestStdinSizeLimit: standard input is read up to the descriptor limit,
// packages included, and what is over it is refused unparsed.
func TestStdinSizeLimit(t *testing.T) {
	zipped := zipRaw(t, rawMember{name: "META-INF/MANIFEST.MF", body: []byte(limitsManifest)},
		rawMember{name: "docker_files/x", body: bytes.Repeat([]byte("abcdefgh"), 4096), stored: true})
	for name, in := range map[string][]byte{
		"yaml":    append([]byte("vendor: v\n"), bytes.Repeat([]byte("# padding\n"), 200)...),
		"package": zipped,
	} {
		_, diags := LoadPaths(context.Background(), []string{"-"}, LoadOptions{Stdin: bytes.NewReader(in), MaxFileSize: 1024})
		if len(diags) != 1 || diags[0].Code != CodeTooLarge || !strings.Contains(diags[0].Message, "standard input holds more than 1024 bytes") {
			t.Errorf("%s: %v", name, diags)
		}
	}
}

// TestDescriptorSizeLimit: a descriptor file over the limit is refused
// without being parsed; so is a descriptor inside a package.
func TestDescriptorSizeLimit(t *testing.T) {
	big := append([]byte("vendor: v\n"), bytes.Repeat([]byte("# padding\n"), 200)...)
	_, diags := LoadBytes("big.yml", big, LoadOptions{MaxFileSize: 1024})
	if len(diags) != 1 || diags[0].Code != CodeTooLarge {
		t.Fatalf("loose file: %v", diags)
	}
	pd := "descriptor_version: '1.0'\nvendor: p\nname: p\nversion: '1'\npackage_content:\n  - {name: /function_descriptors/v.yml, content-type: application/sonata.function_descriptor}\n"
	archive := zipRaw(t, rawMember{name: "META-INF/MANIFEST.MF", body: []byte(pd)}, rawMember{name: "function_descriptors/v.yml", body: big})
	_, diags = LoadBytes("p.son", archive, LoadOptions{MaxFileSize: 1024})
	found := false
	for _, d := range diags {
		if d.Code == CodeTooLarge && d.File == "p.son:function_descriptors/v.yml" {
			found = true
		}
	}
	if !found {
		t.Fatalf("packaged descriptor: %v", diags)
	}
}
