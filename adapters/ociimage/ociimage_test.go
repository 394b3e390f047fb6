package ociimage_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/manoctl/manoctl/adapters/ociimage"
)

var epoch = time.Unix(0, 0).UTC()

func TestTarIsDeterministic(t *testing.T) {
	files := []ociimage.File{
		{Path: "/usr/local/bin/manoctl", Mode: 0o755, Data: []byte("binary")},
		{Path: "/etc/passwd", Mode: 0o644, Data: []byte("root:x:0:0::/:\n")},
		{Path: "/var/lib/manoctl", Dir: true, Mode: 0o700, UID: 65532, GID: 65532},
		{Path: "/tmp", Dir: true, Mode: 0o1777},
	}
	a, err := ociimage.Tar(files, epoch)
	if err != nil {
		t.Fatal(err)
	}
	rev := slices.Clone(files)
	slices.Reverse(rev)
	b, err := ociimage.Tar(rev, epoch)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Fatal("input order changes the archive")
	}
	entries := readTar(t, a)
	var names []string
	for _, h := range entries {
		names = append(names, h.hdr.Name)
		if !h.hdr.ModTime.Equal(epoch) || h.hdr.Uname != "" || h.hdr.Gname != "" {
			t.Errorf("%s: mtime %v uname %q gname %q", h.hdr.Name, h.hdr.ModTime, h.hdr.Uname, h.hdr.Gname)
		}
	}
	want := []string{"etc/", "etc/passwd", "tmp/", "usr/", "usr/local/", "usr/local/bin/", "usr/local/bin/manoctl", "var/", "var/lib/", "var/lib/manoctl/"}
	if !slices.Equal(names, want) {
		t.Fatalf("entries %v, want %v (sorted, parents added)", names, want)
	}
	for _, e := range entries {
		switch e.hdr.Name {
		case "tmp/":
			if e.hdr.Mode != 0o1777 {
				t.Errorf("/tmp mode %o", e.hdr.Mode)
			}
		case "var/lib/manoctl/":
			if e.hdr.Uid != 65532 || e.hdr.Mode != 0o700 {
				t.Errorf("state dir %+v", e.hdr)
			}
		case "usr/local/":
			if e.hdr.Uid != 0 || e.hdr.Mode != 0o755 {
				t.Errorf("implicit parent %+v", e.hdr)
			}
		}
	}
	if _, err := ociimage.Tar([]ociimage.File{{Path: "/a"}, {Path: "a"}}, epoch); err == nil {
		t.Error("duplicate path accepted")
	}
	if _, err := ociimage.Tar([]ociimage.File{{Path: "/a", Data: []byte("x")}, {Path: "/a/b"}}, epoch); err == nil {
		t.Error("file used as directory accepted")
	}
	if _, err := ociimage.Tar([]ociimage.File{{Path: "/"}}, epoch); err == nil {
		t.Error("root accepted as file")
	}
}

type tarEntry struct {
	hdr  *tar.Header
	data []byte
}

func readTar(t *testing.T, b []byte) []tarEntry {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(b))
	var out []tarEntry
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		out = append(out, tarEntry{h, data})
	}
}

// layerFiles lists an image's files, last layer winning.
func layerFiles(t *testing.T, img v1.Image) map[string]tarEntry {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]tarEntry{}
	for _, l := range layers {
		mt, _ := l.MediaType()
		if mt != types.OCILayer {
			t.Errorf("layer media type %s", mt)
		}
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		for _, e := range readTar(t, b) {
			out["/"+strings.TrimSuffix(e.hdr.Name, "/")] = e
		}
	}
	return out
}

func checkDaemonImage(t *testing.T, img v1.Image, plat string) ociimage.Info {
	t.Helper()
	info, err := ociimage.Describe(img)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(info.Entrypoint, []string{"/usr/local/bin/manoctl", "daemon"}) {
		t.Errorf("entrypoint %v", info.Entrypoint)
	}
	uid, _, _ := strings.Cut(info.User, ":")
	if n, err := strconv.Atoi(uid); err != nil || n == 0 {
		t.Errorf("user %q is not a numeric non-root uid", info.User)
	}
	if info.Platform != plat {
		t.Errorf("platform %s, want %s", info.Platform, plat)
	}
	mt, _ := img.MediaType()
	if mt != types.OCIManifestSchema1 {
		t.Errorf("manifest media type %s", mt)
	}
	m, _ := img.Manifest()
	if m.Config.MediaType != types.OCIConfigJSON {
		t.Errorf("config media type %s", m.Config.MediaType)
	}
	cf, _ := img.ConfigFile()
	if cf.Config.WorkingDir != ociimage.StateDir || len(cf.Config.Cmd) != 0 {
		t.Errorf("config %+v", cf.Config)
	}
	if !slices.Contains(cf.Config.Env, "SSL_CERT_FILE="+ociimage.CABundlePath) {
		t.Errorf("env %v", cf.Config.Env)
	}
	for _, h := range cf.History {
		if !h.Created.Time.Equal(cf.Created.Time) {
			t.Errorf("history time %v vs created %v", h.Created, cf.Created)
		}
	}
	files := layerFiles(t, img)
	bin, ok := files[ociimage.BinaryPath]
	if !ok || bin.hdr.Mode != 0o755 || bin.hdr.Uid != 0 {
		t.Fatalf("binary entry %+v", bin.hdr)
	}
	// The user exists and owns the state directory.
	if pw := string(files["/etc/passwd"].data); !strings.Contains(pw, "nonroot:x:65532:65532:") {
		t.Errorf("/etc/passwd %q", pw)
	}
	if st := files[ociimage.StateDir]; st.hdr == nil || st.hdr.Uid != 65532 {
		t.Errorf("state dir %+v", st.hdr)
	}
	return info
}

func TestBuildImage(t *testing.T) {
	plat, _ := ociimage.ParsePlatform("linux/arm64")
	cfg := ociimage.Config{
		CABundle: []byte("-----BEGIN CERTIFICATE-----\n"), Platform: plat, Binary: []byte("\x7fELF fake"),
		Created: epoch, Labels: map[string]string{"org.opencontainers.image.version": "v1"},
	}
	a, err := ociimage.Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	info := checkDaemonImage(t, a, "linux/arm64")
	if info.Layers != 2 {
		t.Fatalf("%d layers", info.Layers)
	}
	b, _ := ociimage.Build(cfg)
	da, _ := a.Digest()
	db, _ := b.Digest()
	if da != db {
		t.Fatalf("same inputs, digests %s and %s", da, db)
	}
	cfg.Created = time.Unix(1700000000, 0)
	c, _ := ociimage.Build(cfg)
	if dc, _ := c.Digest(); dc == da {
		t.Fatal("the time does not reach the image")
	}
	cf, _ := a.ConfigFile()
	if cf.Config.Labels["org.opencontainers.image.version"] != "v1" || !cf.Created.Time.Equal(epoch) {
		t.Fatalf("config %+v", cf)
	}
	if _, err := ociimage.Build(ociimage.Config{Platform: plat}); err == nil {
		t.Fatal("no binary accepted")
	}
}

func TestBaseFromLayout(t *testing.T) {
	plat, _ := ociimage.ParsePlatform("linux/amd64")
	other, _ := ociimage.ParsePlatform("linux/arm64")
	// A "pulled" base: two platforms in one layout.
	var bases []v1.Image
	for _, p := range []v1.Platform{plat, other} {
		img, err := ociimage.Build(ociimage.Config{Platform: p, Binary: []byte("base " + p.Architecture), Created: epoch})
		if err != nil {
			t.Fatal(err)
		}
		bases = append(bases, img)
	}
	dir := filepath.Join(t.TempDir(), "base")
	if err := ociimage.WriteLayout(dir, "base:latest", bases); err != nil {
		t.Fatal(err)
	}
	base, err := ociimage.LoadLayoutImage(dir, plat)
	if err != nil {
		t.Fatal(err)
	}
	img, err := ociimage.Build(ociimage.Config{Base: base, Platform: plat, Binary: []byte("app"), Created: epoch})
	if err != nil {
		t.Fatal(err)
	}
	info := checkDaemonImage(t, img, "linux/amd64")
	if info.Layers != 3 {
		t.Fatalf("%d layers, want the base's 2 and the binary", info.Layers)
	}
	if got := string(layerFiles(t, img)[ociimage.BinaryPath].data); got != "app" {
		t.Fatalf("binary %q", got)
	}
	if _, err := ociimage.LoadLayoutImage(dir, v1.Platform{OS: "linux", Architecture: "s390x"}); err == nil {
		t.Fatal("missing platform found")
	}
}

func TestSourceDateEpoch(t *testing.T) {
	env := map[string]string{}
	get := func(k string) string { return env[k] }
	if ts, err := ociimage.SourceDateEpoch(get); err != nil || !ts.Equal(epoch) {
		t.Fatal(ts, err)
	}
	env["SOURCE_DATE_EPOCH"] = "1700000000"
	if ts, _ := ociimage.SourceDateEpoch(get); ts.Unix() != 1700000000 {
		t.Fatal(ts)
	}
	env["SOURCE_DATE_EPOCH"] = "yesterday"
	if _, err := ociimage.SourceDateEpoch(get); err == nil {
		t.Fatal("bad SOURCE_DATE_EPOCH accepted")
	}
}

// TestDockerfileAgrees keeps .ci/image/Dockerfile and the builder on the
// same binary path, entrypoint, user and working directory.
func TestDockerfileAgrees(t *testing.T) {
	b, err := os.ReadFile("../../.ci/image/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var entrypoint []string
	var user, workdir string
	var binaryCopied bool
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "ENTRYPOINT":
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "ENTRYPOINT")), &entrypoint); err != nil {
				t.Fatalf("ENTRYPOINT is not the exec form: %v", err)
			}
		case "USER":
			user = f[1]
		case "WORKDIR":
			workdir = f[1]
		case "COPY":
			binaryCopied = binaryCopied || f[len(f)-1] == ociimage.BinaryPath
		}
	}
	if !slices.Equal(entrypoint, ociimage.Entrypoint) || user != ociimage.User || workdir != ociimage.StateDir || !binaryCopied {
		t.Fatalf("Dockerfile: entrypoint %v user %q workdir %q binary copied %v; builder: %v %q %q %s",
			entrypoint, user, workdir, binaryCopied, ociimage.Entrypoint, ociimage.User, ociimage.StateDir, ociimage.BinaryPath)
	}
}

// TestManoctlImageReproducible builds the real daemon image twice, from
// two compilations of cmd/manoctl, and checks the digest, the layout and
// the tarball are the same, the size is small, and the binary in the
// image is static and stamped.
func TestManoctlImageReproducible(t *testing.T) {
	if testing.Short() {
		t.Skip("builds cmd/manoctl")
	}
	if raceEnabled {
		// It compiles and gzips the daemon four times: minutes under the
		// race detector, which has nothing to find in it. `make test`
		// runs it again without -race.
		t.Skip("too slow under -race; make test runs it without")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	plat := v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
	compile := func() []byte {
		bin, err := ociimage.BuildBinary(ctx, ociimage.BinaryConfig{
			Dir: root, GOOS: plat.OS, GOARCH: plat.Architecture, Version: "v9.9.9-test", Commit: "0123456789ab",
			Tags: []string{"timetzdata"},
		})
		if err != nil {
			t.Fatal(err)
		}
		return bin
	}
	build := func(bin []byte) v1.Image {
		img, err := ociimage.Build(ociimage.Config{
			CABundle: []byte("test CA bundle\n"), Platform: plat, Binary: bin, Created: epoch,
			Labels: map[string]string{"org.opencontainers.image.version": "v9.9.9-test"},
		})
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	// Two compilations give the same bytes. In a working tree that
	// someone edits meanwhile they may not; a third compilation must then
	// agree with the second.
	bin := compile()
	bin2 := compile()
	if !bytes.Equal(bin, bin2) {
		t.Log("two compilations differ (sources edited meanwhile?); compiling a third time")
		bin, bin2 = bin2, compile()
		if !bytes.Equal(bin, bin2) {
			t.Fatal("cmd/manoctl does not compile reproducibly")
		}
	}
	a, b := build(bin), build(bin2)
	da, _ := a.Digest()
	db, _ := b.Digest()
	if da != db {
		t.Fatalf("two builds, digests %s and %s", da, db)
	}
	info := checkDaemonImage(t, a, plat.String())
	t.Logf("image %s: %d bytes compressed (%.1f MiB), %d uncompressed (%.1f MiB)",
		da, info.Compressed, float64(info.Compressed)/(1<<20), info.Uncompressed, float64(info.Uncompressed)/(1<<20))
	if info.Compressed > 32<<20 {
		t.Fatalf("image is %d bytes compressed, want at most 32 MiB", info.Compressed)
	}

	// The layout and the tarball are byte for byte the same too.
	tmp := t.TempDir()
	for i, img := range []v1.Image{a, b} {
		if err := ociimage.WriteLayout(filepath.Join(tmp, "layout"+strconv.Itoa(i)), "manoctl:v9.9.9-test", []v1.Image{img}); err != nil {
			t.Fatal(err)
		}
		if err := ociimage.WriteTarball(filepath.Join(tmp, "image"+strconv.Itoa(i)+".tar"), "manoctl:v9.9.9-test", img); err != nil {
			t.Fatal(err)
		}
	}
	if h0, h1 := treeHash(t, filepath.Join(tmp, "layout0")), treeHash(t, filepath.Join(tmp, "layout1")); h0 != h1 {
		t.Fatal("layouts differ")
	}
	if h0, h1 := fileHash(t, filepath.Join(tmp, "image0.tar")), fileHash(t, filepath.Join(tmp, "image1.tar")); h0 != h1 {
		t.Fatal("tarballs differ")
	}

	// Static: no program interpreter.
	ef, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ef.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatal("binary has a program interpreter: not static")
		}
	}
	// The binary in the image runs and carries the stamped version.
	img := layerFiles(t, a)[ociimage.BinaryPath].data
	exe := filepath.Join(tmp, "manoctl")
	if err := os.WriteFile(exe, img, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(ctx, exe, "version", "-o", "json").Output()
	if err != nil {
		t.Fatalf("manoctl version: %v", err)
	}
	var v struct{ Version, Commit string }
	if err := json.Unmarshal(out, &v); err != nil || v.Version != "v9.9.9-test" || v.Commit != "0123456789ab" {
		t.Fatalf("version %s (%v)", out, err)
	}
}

func fileHash(t *testing.T, p string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// treeHash hashes a directory's relative paths and contents.
func treeHash(t *testing.T, dir string) [32]byte {
	t.Helper()
	h := sha256.New()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		b, err := os.ReadFile(p)
		h.Write([]byte(rel + "\x00"))
		h.Write(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}
