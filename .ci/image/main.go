// Command image builds manoctl's daemon container image without a Docker
// daemon (`make image`): a static binary per platform, layered onto
// scratch plus the files a static daemon needs (or onto a base read from
// an OCI layout), written as an OCI image layout and, for one platform,
// a `docker load` tarball. The build is reproducible: run it twice and
// the digests are the same. See adapters/ociimage.
//
//	go run ./.ci/image -version v0.1.0 -commit abc123 -platforms linux/amd64,linux/arm64
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/manoctl/manoctl/adapters/ociimage"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		out        = flag.String("o", "dist/image", "OCI image layout directory to write (replaced)")
		tarFile    = flag.String("tarball", "dist/manoctl-image.tar", "docker-load tarball to write (single platform only; empty: none)")
		platforms  = flag.String("platforms", "linux/amd64", "comma-separated os/arch list")
		version    = flag.String("version", "devel", "version stamped into the binary and the labels")
		commit     = flag.String("commit", "unknown", "commit stamped into the binary and the labels")
		repo       = flag.String("repository", "manoctl", "image name for the reference (tag = version)")
		caBundle   = flag.String("ca-certs", "/etc/ssl/certs/ca-certificates.crt", "CA bundle to put in the image (empty: none)")
		baseLayout = flag.String("base-layout", "", "OCI layout holding a base image (e.g. distroless/static) instead of scratch")
		infoFile   = flag.String("info", "", "write the image summary as JSON to this file")
		maxSize    = flag.Int64("max-size", 64<<20, "fail if an image's compressed size exceeds this many bytes (0: no limit)")
	)
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	root, err := moduleRoot()
	if err != nil {
		return err
	}
	created, err := ociimage.SourceDateEpoch(os.Getenv)
	if err != nil {
		return err
	}
	var ca []byte
	if *caBundle != "" && *baseLayout == "" {
		if ca, err = os.ReadFile(*caBundle); err != nil {
			return fmt.Errorf("CA bundle: %w (set -ca-certs= to build without one)", err)
		}
	}
	ref := *repo + ":" + strings.NewReplacer("+", "-", "/", "-").Replace(*version)
	labels := map[string]string{
		"org.opencontainers.image.title":       "manoctl",
		"org.opencontainers.image.description": "manoctl daemon: the SONATA MANO framework as a declarative reconciler",
		"org.opencontainers.image.source":      "https://github.com/manoctl/manoctl",
		"org.opencontainers.image.version":     *version,
		"org.opencontainers.image.revision":    *commit,
		"org.opencontainers.image.created":     created.Format("2006-01-02T15:04:05Z"),
	}

	var imgs []v1.Image
	var infos []ociimage.Info
	for _, ps := range strings.Split(*platforms, ",") {
		plat, err := ociimage.ParsePlatform(strings.TrimSpace(ps))
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "image: building %s binary\n", plat.String())
		bin, err := ociimage.BuildBinary(ctx, ociimage.BinaryConfig{
			Dir: root, GOOS: plat.OS, GOARCH: plat.Architecture, Version: *version, Commit: *commit,
			Tags: []string{"timetzdata"},
		})
		if err != nil {
			return err
		}
		var base v1.Image
		if *baseLayout != "" {
			if base, err = ociimage.LoadLayoutImage(*baseLayout, plat); err != nil {
				return fmt.Errorf("base: %w", err)
			}
		}
		img, err := ociimage.Build(ociimage.Config{Base: base, CABundle: ca, Platform: plat, Binary: bin, Created: created, Labels: labels})
		if err != nil {
			return err
		}
		info, err := ociimage.Describe(img)
		if err != nil {
			return err
		}
		if *maxSize > 0 && info.Compressed > *maxSize {
			return fmt.Errorf("%s image is %d bytes, over the %d-byte limit", plat.String(), info.Compressed, *maxSize)
		}
		imgs = append(imgs, img)
		infos = append(infos, info)
	}
	if err := ociimage.WriteLayout(*out, ref, imgs); err != nil {
		return err
	}
	for _, info := range infos {
		fmt.Printf("%s %s %s: %.1f MiB compressed, %.1f MiB uncompressed, %d layers, entrypoint %v, user %s\n",
			ref, info.Platform, info.Digest, mib(info.Compressed), mib(info.Uncompressed), info.Layers, info.Entrypoint, info.User)
	}
	fmt.Printf("OCI layout: %s\n", *out)
	if *tarFile != "" && len(imgs) == 1 {
		if err := ociimage.WriteTarball(*tarFile, ref, imgs[0]); err != nil {
			return err
		}
		fmt.Printf("docker load -i %s\n", *tarFile)
	}
	if *infoFile != "" {
		b, _ := json.MarshalIndent(infos, "", "  ")
		if err := os.WriteFile(*infoFile, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

// moduleRoot finds the directory of go.mod from the working directory up.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}
