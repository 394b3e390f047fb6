package schema

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
)

// DefaultMaxFileSize is the largest descriptor file manoctl reads (16
// MiB), the largest descriptor or MANIFEST.MF inside a .son package, and
// the most it reads from standard input. Real descriptors are a few KiB;
// anything near this is a mistake or an attack. A bigger file is not
// read: it gets a load.too_large diagnostic ("file is N bytes, over the
// 16 MiB limit for descriptors") and validate exits 3. .son packages
// read from a file are bounded by PackageLimits instead.
const DefaultMaxFileSize = 16 << 20

// LoadOptions tune LoadPaths and LoadBytes. The zero value is ready to
// use.
type LoadOptions struct {
	// Kind forces the kind of every loose document (--kind). Documents
	// inside .son packages keep their detected kinds: the package layout
	// says what they are.
	Kind Kind
	// Stdin is read for the path "-"; nil means os.Stdin.
	Stdin io.Reader
	// MaxFileSize overrides DefaultMaxFileSize when positive.
	MaxFileSize int64
	// Limits bound what a .son package may make manoctl read; zero
	// fields take the defaults of DefaultPackageLimits.
	Limits PackageLimits
	// Workers is the number of files parsed at once; 0 means GOMAXPROCS.
	Workers int
}

func (o LoadOptions) maxFileSize() int64 {
	if o.MaxFileSize > 0 {
		return o.MaxFileSize
	}
	return DefaultMaxFileSize
}

// descriptorExt reports whether a file found while walking a directory is
// read as a descriptor.
func descriptorExt(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".yml", ".yaml", ".json":
		return true
	}
	return false
}

// source is one unit of loading work: a file, a package or stdin.
type source struct {
	path   string
	kind   sourceKind
	walked bool
}

type sourceKind int

const (
	srcFile sourceKind = iota
	srcStdin
	srcZip
	srcPackageDir
)

// loaded is what one source produced.
type loaded struct {
	docs  []*Document
	diags []Diagnostic
}

// LoadPaths loads every document named by paths: YAML or JSON files,
// directories (recursively: .yml, .yaml, .json files, .son packages and
// unpacked package directories named *.son), .son packages, and "-" for
// standard input. Documents come back in argument order, files in
// lexical order within a directory, documents in file order. Problems
// (unreadable paths, broken YAML, binary or oversized files, unsafe or
// bomb-like packages, the package-level checks of spec/descriptors.md
// §9.3) come back as diagnostics, never as a panic. Files are parsed in
// parallel.
func LoadPaths(ctx context.Context, paths []string, opts LoadOptions) ([]*Document, []Diagnostic) {
	var (
		srcs  []source
		diags []Diagnostic
	)
	for _, p := range paths {
		s, d := expand(p)
		srcs = append(srcs, s...)
		diags = append(diags, d...)
	}
	results := make([]loaded, len(srcs))
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	jobs := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < workers && w < len(srcs); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				results[i] = loadSource(srcs[i], opts)
			}
		}()
	}
feed:
	for i := range srcs {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		diags = append(diags, Diagnostic{Severity: SeverityError, Code: CodeUnreadable,
			Message: fmt.Sprintf("loading interrupted: %v", err), Level: LevelSyntax})
	}
	var docs []*Document
	for _, r := range results {
		docs = append(docs, r.docs...)
		diags = append(diags, r.diags...)
	}
	return docs, diags
}

// LoadBytes parses data as if it were the file name: a .son package when
// it is a zip, YAML or JSON otherwise. Tests and the fuzz target use it;
// so does stdin.
func LoadBytes(name string, data []byte, opts LoadOptions) ([]*Document, []Diagnostic) {
	if isZip(data) {
		return loadZipBytes(name, data, opts)
	}
	if int64(len(data)) > opts.maxFileSize() {
		return nil, []Diagnostic{tooLarge(name, int64(len(data)), opts.maxFileSize())}
	}
	return parseSource(parseConfig{file: name, json: isJSONName(name), kind: opts.Kind}, data)
}

func isJSONName(name string) bool { return strings.EqualFold(filepath.Ext(name), ".json") }

func isZip(data []byte) bool { return len(data) >= 4 && string(data[:4]) == "PK\x03\x04" }

func tooLarge(file string, size, limit int64) Diagnostic {
	return Diagnostic{File: file, Severity: SeverityError, Code: CodeTooLarge, Level: LevelSyntax,
		Message: fmt.Sprintf("file is %d bytes, over the %d MiB limit for descriptors", size, limit>>20)}
}

func unreadable(path string, err error) Diagnostic {
	return Diagnostic{File: path, Severity: SeverityError, Code: CodeUnreadable, Level: LevelSyntax,
		Message: fmt.Sprintf("cannot read: %v", unwrapPathError(err))}
}

// unwrapPathError drops the path that *fs.PathError repeats, since the
// diagnostic names the file already.
func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// expand turns one command-line path into sources.
func expand(p string) ([]source, []Diagnostic) {
	if p == "-" {
		return []source{{path: "-", kind: srcStdin}}, nil
	}
	fi, err := os.Stat(p)
	if err != nil {
		return nil, []Diagnostic{unreadable(p, err)}
	}
	if !fi.IsDir() {
		if strings.EqualFold(filepath.Ext(p), ".son") {
			return []source{{path: p, kind: srcZip}}, nil
		}
		return []source{{path: p, kind: srcFile}}, nil
	}
	if isPackageDir(p) {
		return []source{{path: p, kind: srcPackageDir}}, nil
	}
	var (
		srcs  []source
		diags []Diagnostic
	)
	err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			diags = append(diags, unreadable(path, err))
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		name := d.Name()
		if d.IsDir() {
			if path != p && strings.HasPrefix(name, ".") {
				return fs.SkipDir // .git and friends
			}
			if path != p && isPackageDir(path) {
				srcs = append(srcs, source{path: path, kind: srcPackageDir, walked: true})
				return fs.SkipDir
			}
			return nil
		}
		switch {
		case strings.HasPrefix(name, "."):
		case strings.EqualFold(filepath.Ext(name), ".son"):
			srcs = append(srcs, source{path: path, kind: srcZip, walked: true})
		case descriptorExt(name):
			srcs = append(srcs, source{path: path, kind: srcFile, walked: true})
		}
		return nil
	})
	if err != nil {
		diags = append(diags, unreadable(p, err))
	}
	return srcs, diags
}

// isPackageDir reports an unpacked .son package: a directory named *.son
// (the corpus keeps packages that way).
func isPackageDir(p string) bool {
	return strings.EqualFold(filepath.Ext(filepath.Clean(p)), ".son")
}

func loadSource(s source, opts LoadOptions) loaded {
	switch s.kind {
	case srcStdin:
		in := opts.Stdin
		if in == nil {
			in = os.Stdin
		}
		data, err := io.ReadAll(io.LimitReader(in, opts.maxFileSize()+1))
		if err != nil {
			return loaded{diags: []Diagnostic{unreadable("-", err)}}
		}
		if int64(len(data)) > opts.maxFileSize() {
			// Standard input is buffered whole, packages included, so
			// the descriptor limit applies to both; a bigger package
			// can be read from its file.
			return loaded{diags: []Diagnostic{{File: "-", Severity: SeverityError, Code: CodeTooLarge, Level: LevelSyntax,
				Message: fmt.Sprintf("standard input holds more than %d bytes, over the %d MiB limit for descriptors and packages read from it", opts.maxFileSize(), opts.maxFileSize()>>20)}}}
		}
		docs, diags := LoadBytes("-", data, opts)
		return loaded{docs, diags}
	case srcZip:
		docs, diags := loadZipFile(s.path, opts)
		return loaded{docs, diags}
	case srcPackageDir:
		docs, diags := loadPackageDir(s.path, opts)
		return loaded{docs, diags}
	}
	docs, diags := loadFile(s.path, s.walked, opts)
	return loaded{docs, diags}
}

func loadFile(path string, walked bool, opts LoadOptions) ([]*Document, []Diagnostic) {
	f, err := os.Open(path)
	if err != nil {
		return nil, []Diagnostic{unreadable(path, err)}
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, []Diagnostic{unreadable(path, err)}
	}
	if fi.Size() > opts.maxFileSize() {
		var magic [4]byte
		if n, _ := io.ReadFull(f, magic[:]); n == 4 && isZip(magic[:]) {
			return loadZipFile(path, opts)
		}
		return nil, []Diagnostic{tooLarge(path, fi.Size(), opts.maxFileSize())}
	}
	data, err := io.ReadAll(io.LimitReader(f, opts.maxFileSize()+1))
	if err != nil {
		return nil, []Diagnostic{unreadable(path, err)}
	}
	if isZip(data) {
		return loadZipBytes(path, data, opts)
	}
	return parseSource(parseConfig{file: path, json: isJSONName(path), kind: opts.Kind, walked: walked}, data)
}
