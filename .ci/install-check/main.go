// Command install-check proves that `go install
// github.com/manoctl/manoctl/cmd/manoctl@latest` works for this tree
// without publishing it: it packs the working tree as a module zip into a
// file:// module proxy under a temporary version, runs go install
// ...@latest against that proxy (dependencies come from the module cache,
// nothing is downloaded), with CGO_ENABLED=0, and runs the installed
// binary's `version` to check the version it reports comes from the
// module version.
//
// The install uses a temporary module cache, filled from the machine's
// module cache used as a proxy (nothing is fetched from the network), so
// the fake version never reaches the real cache.
//
// What would break go install ...@latest and is checked here: replace or
// exclude directives in go.mod (go install refuses them), a main package
// that does not build without cgo, a go.sum missing entries.
//
//	go run ./.ci/install-check
package main

import (
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

const (
	modulePath = "github.com/manoctl/manoctl"
	version    = "v0.0.0-installcheck"
	// release is what @latest resolves to: the only version listed.
	release = "v0.999.0"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "install-check:", err)
		os.Exit(1)
	}
}

func run() error {
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return fmt.Errorf("run from the module root: %w", err)
	}
	if err := checkGoMod(gomod); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "manoctl-install-check-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	dir := filepath.Join(tmp, "proxy", modulePath, "@v")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	n, err := writeModuleZip(root, filepath.Join(dir, release+".zip"), modulePath+"@"+release)
	if err != nil {
		return err
	}
	info, _ := json.Marshal(map[string]string{"Version": release, "Time": time.Now().UTC().Format(time.RFC3339)})
	files := map[string][]byte{
		"list":            []byte(release + "\n"),
		release + ".info": info,
		release + ".mod":  gomod,
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return err
		}
	}
	fmt.Printf("install-check: module zip with %d files as %s@%s\n", n, modulePath, release)

	cache, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		return fmt.Errorf("go env GOMODCACHE: %w", err)
	}
	localProxy := "file://" + filepath.Join(strings.TrimSpace(string(cache)), "cache", "download")
	bin := filepath.Join(tmp, "bin")
	cmd := exec.Command("go", "install", modulePath+"/cmd/manoctl@latest")
	cmd.Dir = tmp // outside the module: a user's go install
	cmd.Env = append(os.Environ(),
		"GOPROXY=file://"+filepath.Join(tmp, "proxy")+","+localProxy+",off",
		"GOMODCACHE="+filepath.Join(tmp, "modcache"), "GOFLAGS=-modcacherw",
		"GOPRIVATE=", "GONOPROXY=", "GOSUMDB=off", // offline here; a user has sum.golang.org
		"GOBIN="+bin, "CGO_ENABLED=0", "GOWORK=off")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	fmt.Println("install-check: go install " + modulePath + "/cmd/manoctl@latest (CGO_ENABLED=0)")
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go install: %w", err)
	}
	out, err := exec.Command(filepath.Join(bin, "manoctl"), "version", "-o", "json").Output()
	if err != nil {
		return fmt.Errorf("installed manoctl version: %w", err)
	}
	var v struct{ Version string }
	if err := json.Unmarshal(out, &v); err != nil {
		return fmt.Errorf("manoctl version -o json: %w: %s", err, out)
	}
	if v.Version != release {
		return fmt.Errorf("installed manoctl reports version %q, want %q (from the module version)", v.Version, release)
	}
	fmt.Printf("install-check: ok, installed manoctl reports %s\n", v.Version)
	return nil
}

// checkGoMod refuses the directives go install pkg@version rejects.
func checkGoMod(b []byte) error {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) > 0 && (f[0] == "replace" || f[0] == "exclude") {
			return fmt.Errorf("go.mod has a %s directive: go install %s/cmd/manoctl@latest refuses it", f[0], modulePath)
		}
	}
	return nil
}

// writeModuleZip packs the module tree as the module proxy serves it:
// every file under prefix/, without VCS data, build output and nested
// modules.
func writeModuleZip(root, file, prefix string) (int, error) {
	f, err := os.Create(file)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	zw := zip.NewWriter(f)
	n := 0
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			switch {
			case rel == ".":
				return nil
			case rel == ".git" || rel == "bin" || rel == "dist" || rel == "vendor" || strings.HasSuffix(rel, "/vendor"):
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(p, "go.mod")); err == nil {
				return filepath.SkipDir // a nested module
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		w, err := zw.Create(prefix + "/" + rel)
		if err != nil {
			return err
		}
		r, err := os.Open(p)
		if err != nil {
			return err
		}
		defer r.Close()
		n++
		_, err = io.Copy(w, r)
		return err
	})
	if err != nil {
		return n, err
	}
	return n, zw.Close()
}
