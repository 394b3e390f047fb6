// Package ociimage builds manoctl's daemon container image without a
// Docker daemon, reproducibly: the same binary and inputs give the same
// image digest on every build. It is the engine of `make image`
// (.ci/image) and of the image test; .ci/image/Dockerfile describes the
// same image for people who build with Docker.
//
// Reproducibility comes from:
//   - layer tarballs with entries sorted by path, fixed owners, modes and
//     modification times (SOURCE_DATE_EPOCH, default the Unix epoch), no
//     user or group names, parent directories made explicit;
//   - gzip without timestamps (go-containerregistry's compressor);
//   - a config whose created time and history carry the same fixed time;
//   - a static binary built with -trimpath and -buildvcs=false, version
//     and commit stamped with -ldflags -X, so that nothing of the build
//     machine's path or working-tree state leaks in.
//
// The default base is scratch plus the few files distroless/static
// provides and a static Go daemon needs: /etc/passwd and /etc/group with
// an unprivileged user (nonroot, 65532), /etc/nsswitch.conf for Go's
// resolver, a CA bundle, /tmp, a home and a state directory. A pulled
// base (an OCI layout, e.g. from `crane pull --format=oci`) can replace
// it.
package ociimage

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The daemon image's fixed facts; .ci/image/Dockerfile states the same
// (a test compares them).
const (
	// BinaryPath is where the manoctl binary lives in the image.
	BinaryPath = "/usr/local/bin/manoctl"
	// NonrootUID and NonrootGID are distroless's unprivileged user.
	NonrootUID = 65532
	NonrootGID = 65532
	// User is the image's USER: numeric, so that no lookup is needed.
	User = "65532:65532"
	// StateDir is the daemon's working directory, writable by the user.
	StateDir = "/var/lib/manoctl"
	// HomeDir is the user's home.
	HomeDir = "/home/nonroot"
	// CABundlePath is where the CA certificates go (Go's first choice on
	// Linux, and SSL_CERT_FILE).
	CABundlePath = "/etc/ssl/certs/ca-certificates.crt"
)

// Entrypoint is the image's entrypoint: the daemon.
var Entrypoint = []string{BinaryPath, "daemon"}

// File is one entry of a layer.
type File struct {
	// Path is absolute, inside the image.
	Path string
	// Mode holds the permission bits (and sticky bit).
	Mode int64
	UID  int
	GID  int
	// Dir makes a directory; otherwise a regular file with Data.
	Dir  bool
	Data []byte
}

// Layer returns a layer of files: a tar archive with sorted entries, the
// missing parent directories added (root, 0755), every time set to mtime,
// gzip-compressed, with the OCI layer media type.
func Layer(files []File, mtime time.Time) (v1.Layer, error) {
	b, err := Tar(files, mtime)
	if err != nil {
		return nil, err
	}
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	}, tarball.WithMediaType(types.OCILayer), tarball.WithCompressionLevel(gzip.BestCompression))
}

// Tar writes the uncompressed layer archive.
func Tar(files []File, mtime time.Time) ([]byte, error) {
	entries := map[string]File{}
	for _, f := range files {
		p := path.Clean("/" + f.Path)
		if p == "/" {
			return nil, fmt.Errorf("ociimage: %q is not a file path", f.Path)
		}
		if _, dup := entries[p]; dup {
			return nil, fmt.Errorf("ociimage: %s given twice", p)
		}
		f.Path = p
		entries[p] = f
	}
	for p := range entries {
		for dir := path.Dir(p); dir != "/"; dir = path.Dir(dir) {
			if e, ok := entries[dir]; ok {
				if !e.Dir {
					return nil, fmt.Errorf("ociimage: %s is a file and a parent directory", dir)
				}
				continue
			}
			entries[dir] = File{Path: dir, Dir: true, Mode: 0o755}
		}
	}
	names := make([]string, 0, len(entries))
	for p := range entries {
		names = append(names, p)
	}
	sort.Strings(names)

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mtime = mtime.UTC()
	for _, p := range names {
		f := entries[p]
		h := &tar.Header{
			Name:    strings.TrimPrefix(p, "/"),
			Mode:    f.Mode,
			Uid:     f.UID,
			Gid:     f.GID,
			ModTime: mtime,
			Format:  tar.FormatPAX,
		}
		if f.Dir {
			h.Typeflag = tar.TypeDir
			h.Name += "/"
		} else {
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(f.Data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if !f.Dir {
			if _, err := tw.Write(f.Data); err != nil {
				return nil, err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// BaseFiles are the files of the scratch base: users, name service
// switch, CA bundle (omitted when caBundle is nil), /tmp, the user's home
// and the state directory.
func BaseFiles(caBundle []byte) []File {
	files := []File{
		{Path: "/etc/passwd", Mode: 0o644, Data: []byte(
			"root:x:0:0:root:/root:/sbin/nologin\n" +
				"nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n" +
				fmt.Sprintf("nonroot:x:%d:%d:nonroot:%s:/sbin/nologin\n", NonrootUID, NonrootGID, HomeDir))},
		{Path: "/etc/group", Mode: 0o644, Data: []byte(
			"root:x:0:\nnobody:x:65534:\n" + fmt.Sprintf("nonroot:x:%d:\n", NonrootGID))},
		{Path: "/etc/nsswitch.conf", Mode: 0o644, Data: []byte("hosts: files dns\n")},
		{Path: "/root", Dir: true, Mode: 0o700},
		{Path: "/tmp", Dir: true, Mode: 0o1777},
		{Path: HomeDir, Dir: true, Mode: 0o700, UID: NonrootUID, GID: NonrootGID},
		{Path: StateDir, Dir: true, Mode: 0o700, UID: NonrootUID, GID: NonrootGID},
	}
	if caBundle != nil {
		files = append(files, File{Path: CABundlePath, Mode: 0o644, Data: caBundle})
	}
	return files
}

// Config describes one image.
type Config struct {
	// Base is the image to build on; nil is scratch with BaseFiles.
	Base v1.Image
	// CABundle goes into the scratch base (ignored with Base).
	CABundle []byte
	// Platform is the image's OS and architecture.
	Platform v1.Platform
	// Binary is the static manoctl binary for Platform.
	Binary []byte
	// Created is the fixed time of every timestamp.
	Created time.Time
	// Labels are added to the config (org.opencontainers.image.*).
	Labels map[string]string
}

// Build returns the daemon image: base, then a layer with the binary;
// entrypoint `manoctl daemon`, user 65532:65532, OCI media types.
func Build(cfg Config) (v1.Image, error) {
	if len(cfg.Binary) == 0 {
		return nil, fmt.Errorf("ociimage: no binary")
	}
	if cfg.Platform.OS == "" || cfg.Platform.Architecture == "" {
		return nil, fmt.Errorf("ociimage: platform %q incomplete", cfg.Platform.String())
	}
	created := v1.Time{Time: cfg.Created.UTC()}
	img := cfg.Base
	var adds []mutate.Addendum
	if img == nil {
		img = mutate.MediaType(empty.Image, types.OCIManifestSchema1)
		img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
		base, err := Layer(BaseFiles(cfg.CABundle), cfg.Created)
		if err != nil {
			return nil, err
		}
		adds = append(adds, mutate.Addendum{Layer: base, MediaType: types.OCILayer, History: v1.History{
			Created: created, CreatedBy: "manoctl image: base files (passwd, group, nsswitch.conf, CA certificates, /tmp, home, state dir)",
		}})
	}
	app, err := Layer([]File{{Path: BinaryPath, Mode: 0o755, Data: cfg.Binary}}, cfg.Created)
	if err != nil {
		return nil, err
	}
	adds = append(adds, mutate.Addendum{Layer: app, MediaType: types.OCILayer, History: v1.History{
		Created: created, CreatedBy: "manoctl image: COPY manoctl " + BinaryPath,
	}})
	img, err = mutate.Append(img, adds...)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant, cf.OSVersion = cfg.Platform.OS, cfg.Platform.Architecture, cfg.Platform.Variant, cfg.Platform.OSVersion
	cf.Created = created
	cf.Author = ""
	c := &cf.Config
	c.Entrypoint = append([]string(nil), Entrypoint...)
	c.Cmd = nil
	c.User = User
	c.WorkingDir = StateDir
	c.Env = mergeEnv(c.Env, []string{
		"PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin",
		"SSL_CERT_FILE=" + CABundlePath,
		"HOME=" + HomeDir,
	})
	if c.Labels == nil {
		c.Labels = map[string]string{}
	}
	for k, v := range cfg.Labels {
		c.Labels[k] = v
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, err
	}
	return mutate.CreatedAt(img, created)
}

// mergeEnv sets each KEY=value of add in env, keeping env's order.
func mergeEnv(env, add []string) []string {
	out := append([]string(nil), env...)
	for _, kv := range add {
		k, _, _ := strings.Cut(kv, "=")
		replaced := false
		for i, e := range out {
			if ek, _, _ := strings.Cut(e, "="); ek == k {
				out[i], replaced = kv, true
			}
		}
		if !replaced {
			out = append(out, kv)
		}
	}
	return out
}

// Info summarises an image.
type Info struct {
	Platform   string  `json:"platform"`
	Digest     v1.Hash `json:"digest"`
	Config     v1.Hash `json:"config"`
	Layers     int     `json:"layers"`
	Compressed int64   `json:"compressed_bytes"`
	// Uncompressed is the sum of the layers' uncompressed sizes.
	Uncompressed int64    `json:"uncompressed_bytes"`
	Entrypoint   []string `json:"entrypoint"`
	User         string   `json:"user"`
}

// Describe reads an image's summary: digest, sizes (manifest, config and
// compressed layers), entrypoint and user.
func Describe(img v1.Image) (Info, error) {
	var info Info
	var err error
	if info.Digest, err = img.Digest(); err != nil {
		return info, err
	}
	if info.Config, err = img.ConfigName(); err != nil {
		return info, err
	}
	m, err := img.Manifest()
	if err != nil {
		return info, err
	}
	raw, err := img.RawManifest()
	if err != nil {
		return info, err
	}
	info.Compressed = int64(len(raw)) + m.Config.Size
	for _, l := range m.Layers {
		info.Compressed += l.Size
	}
	layers, err := img.Layers()
	if err != nil {
		return info, err
	}
	info.Layers = len(layers)
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			return info, err
		}
		n, err := io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil {
			return info, err
		}
		info.Uncompressed += n
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return info, err
	}
	info.Platform = cf.Platform().String()
	info.Entrypoint, info.User = cf.Config.Entrypoint, cf.Config.User
	return info, nil
}
