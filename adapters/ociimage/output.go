package ociimage

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// BinaryConfig says how to build the static manoctl binary.
type BinaryConfig struct {
	// Dir is the module root to build in.
	Dir string
	// Package is the main package; default ./cmd/manoctl.
	Package string
	// GOOS and GOARCH select the target.
	GOOS, GOARCH string
	// Version and Commit are stamped with -X main.version / main.commit.
	Version, Commit string
	// Tags are build tags; the image adds timetzdata (no zoneinfo in a
	// scratch image).
	Tags []string
	// Go is the go command; default "go" from PATH.
	Go string
}

// BuildBinary compiles a static binary (CGO_ENABLED=0, -trimpath,
// -buildvcs=false, stripped) and returns its bytes. Two builds of the
// same tree with the same toolchain give the same bytes.
func BuildBinary(ctx context.Context, cfg BinaryConfig) ([]byte, error) {
	if cfg.Package == "" {
		cfg.Package = "./cmd/manoctl"
	}
	if cfg.Go == "" {
		cfg.Go = "go"
	}
	out, err := os.MkdirTemp("", "manoctl-image-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(out)
	bin := filepath.Join(out, "manoctl")
	ldflags := "-s -w -buildid= -X main.version=" + cfg.Version + " -X main.commit=" + cfg.Commit
	args := []string{"build", "-trimpath", "-buildvcs=false", "-ldflags", ldflags, "-o", bin}
	if len(cfg.Tags) > 0 {
		args = append(args, "-tags", strings.Join(cfg.Tags, ","))
	}
	args = append(args, cfg.Package)
	cmd := exec.CommandContext(ctx, cfg.Go, args...)
	cmd.Dir = cfg.Dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+cfg.GOOS, "GOARCH="+cfg.GOARCH, "GOFLAGS=-mod=readonly")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("ociimage: go %s (GOOS=%s GOARCH=%s): %w\n%s", strings.Join(args, " "), cfg.GOOS, cfg.GOARCH, err, stderr.String())
	}
	return os.ReadFile(bin)
}

// ParsePlatform reads "os/arch[/variant]".
func ParsePlatform(s string) (v1.Platform, error) {
	p, err := v1.ParsePlatform(s)
	if err != nil {
		return v1.Platform{}, err
	}
	if p.OS == "" || p.Architecture == "" {
		return v1.Platform{}, fmt.Errorf("ociimage: platform %q: want os/arch", s)
	}
	return *p, nil
}

// SourceDateEpoch returns the time of $SOURCE_DATE_EPOCH (the
// reproducible-builds convention), or the Unix epoch when it is unset.
func SourceDateEpoch(getenv func(string) string) (time.Time, error) {
	v := strings.TrimSpace(getenv("SOURCE_DATE_EPOCH"))
	if v == "" {
		return time.Unix(0, 0).UTC(), nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q: %w", v, err)
	}
	return time.Unix(n, 0).UTC(), nil
}

// LoadLayoutImage reads the image for platform from an OCI image layout
// (a base pulled elsewhere, e.g. with crane pull --format=oci).
func LoadLayoutImage(dir string, platform v1.Platform) (v1.Image, error) {
	p, err := layout.FromPath(dir)
	if err != nil {
		return nil, err
	}
	idx, err := p.ImageIndex()
	if err != nil {
		return nil, err
	}
	return findImage(idx, platform, 0)
}

func findImage(idx v1.ImageIndex, platform v1.Platform, depth int) (v1.Image, error) {
	if depth > 4 {
		return nil, fmt.Errorf("ociimage: image indexes nested too deep")
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	for _, d := range m.Manifests {
		switch {
		case d.MediaType.IsIndex():
			child, err := idx.ImageIndex(d.Digest)
			if err != nil {
				return nil, err
			}
			if img, err := findImage(child, platform, depth+1); err == nil {
				return img, nil
			}
		case d.MediaType.IsImage():
			if d.Platform != nil && !d.Platform.Satisfies(platform) {
				continue
			}
			img, err := idx.Image(d.Digest)
			if err != nil {
				return nil, err
			}
			cf, err := img.ConfigFile()
			if err != nil {
				return nil, err
			}
			if cf.Platform() != nil && cf.Platform().Satisfies(platform) {
				return img, nil
			}
		}
	}
	return nil, fmt.Errorf("ociimage: no %s image in the layout", platform.String())
}

// Index combines per-platform images into an OCI image index.
func Index(imgs []v1.Image) (v1.ImageIndex, error) {
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	var adds []mutate.IndexAddendum
	for _, img := range imgs {
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, err
		}
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: cf.Platform()}})
	}
	return mutate.AppendManifests(idx, adds...), nil
}

// WriteLayout writes an OCI image layout at dir (replacing one there)
// whose index.json names the image, or the index of several, as ref
// (annotation org.opencontainers.image.ref.name).
func WriteLayout(dir, ref string, imgs []v1.Image) error {
	if len(imgs) == 0 {
		return fmt.Errorf("ociimage: no image to write")
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	ann := layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": ref})
	if len(imgs) == 1 {
		cf, err := imgs[0].ConfigFile()
		if err != nil {
			return err
		}
		return p.AppendImage(imgs[0], ann, layout.WithPlatform(*cf.Platform()))
	}
	idx, err := Index(imgs)
	if err != nil {
		return err
	}
	return p.AppendIndex(idx, ann)
}

// WriteTarball writes img as a `docker load` tarball tagged ref.
func WriteTarball(file, ref string, img v1.Image) error {
	tag, err := name.NewTag(ref)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	return tarball.WriteToFile(file, tag, img)
}
