package schema

import (
	"archive/zip"
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// PackageLimits bound the work a .son package can cause. A package over
// any limit is rejected whole, with a package.limits diagnostic, before
// any member is inflated: the limits are checked against the sizes the
// zip directory declares, and a member that inflates past its declared
// size is cut off and reported as corrupt.
type PackageLimits struct {
	// MaxMembers is the most entries a package may have.
	MaxMembers int
	// MaxMemberSize is the largest uncompressed size of one member.
	MaxMemberSize int64
	// MaxTotalSize is the largest uncompressed size of all members.
	MaxTotalSize int64
	// MaxRatio is the largest compression ratio (uncompressed size over
	// compressed size) of a member bigger than RatioFloor.
	MaxRatio int64
}

// Default package limits. They are generous for real packages
// (descriptors, Dockerfiles, scripts, the odd VM image) and stop zip
// bombs: a package can make manoctl inflate at most MaxRatio times its
// own size, and never more than DefaultMaxPackageTotal.
const (
	// DefaultMaxPackageMembers is the most entries of a package.
	DefaultMaxPackageMembers = 10000
	// DefaultMaxPackageMember is the largest uncompressed member (1 GiB).
	DefaultMaxPackageMember = 1 << 30
	// DefaultMaxPackageTotal is the largest uncompressed package (2 GiB).
	DefaultMaxPackageTotal = 2 << 30
	// DefaultMaxPackageRatio is the largest compression ratio of a
	// member over RatioFloor. YAML descriptors deflate about 5:1 and
	// images far less; deflate's own maximum is about 1032:1, which is
	// what zip bombs use.
	DefaultMaxPackageRatio = 100
	// RatioFloor is the uncompressed size under which a member's
	// compression ratio is not checked: a small member cannot cost much
	// however well it compresses.
	RatioFloor = 1 << 20
)

// DefaultPackageLimits are the limits LoadPaths and LoadBytes apply when
// LoadOptions.Limits leaves a field zero.
var DefaultPackageLimits = PackageLimits{
	MaxMembers:    DefaultMaxPackageMembers,
	MaxMemberSize: DefaultMaxPackageMember,
	MaxTotalSize:  DefaultMaxPackageTotal,
	MaxRatio:      DefaultMaxPackageRatio,
}

func (l PackageLimits) withDefaults() PackageLimits {
	if l.MaxMembers <= 0 {
		l.MaxMembers = DefaultPackageLimits.MaxMembers
	}
	if l.MaxMemberSize <= 0 {
		l.MaxMemberSize = DefaultPackageLimits.MaxMemberSize
	}
	if l.MaxTotalSize <= 0 {
		l.MaxTotalSize = DefaultPackageLimits.MaxTotalSize
	}
	if l.MaxRatio <= 0 {
		l.MaxRatio = DefaultPackageLimits.MaxRatio
	}
	return l
}

// Content types of package_content entries that hold descriptors. The
// prefix match also takes the "application/sonata.service_descriptors"
// typo seen in the wild.
const (
	contentService  = "application/sonata.service_descriptor"
	contentFunction = "application/sonata.function_descriptor"
	manifestPath    = "META-INF/MANIFEST.MF"
)

// pkgReader abstracts a zip archive and an unpacked package directory.
type pkgReader struct {
	name    string          // the package path as given
	members []string        // regular files, slash-separated, sorted
	dirs    map[string]bool // directory entries ("service_descriptors")
	open    func(string) (io.ReadCloser, error)
	sizeOf  func(string) int64
	display func(member string) string // the File of a member's diagnostics
}

func loadZipFile(p string, opts LoadOptions) ([]*Document, []Diagnostic) {
	f, err := os.Open(p)
	if err != nil {
		return nil, []Diagnostic{unreadable(p, err)}
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, []Diagnostic{unreadable(p, err)}
	}
	zr, err := zip.NewReader(f, fi.Size())
	if err != nil {
		return nil, []Diagnostic{packageDiag(p, CodePackageFormat, "not a .son package: %v", err)}
	}
	return loadZip(p, zr, fi.Size(), opts)
}

func loadZipBytes(name string, data []byte, opts LoadOptions) ([]*Document, []Diagnostic) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, []Diagnostic{packageDiag(name, CodePackageFormat, "not a .son package: %v", err)}
	}
	return loadZip(name, zr, int64(len(data)), opts)
}

func packageDiag(file, code, format string, args ...any) Diagnostic {
	return Diagnostic{File: file, Severity: SeverityError, Code: code, Level: LevelSyntax, Message: fmt.Sprintf(format, args...)}
}

// loadZip checks every entry's name, type and declared sizes before
// reading anything: a package with an unsafe name, a link, or over a
// limit is rejected whole. size is the archive's size.
func loadZip(name string, zr *zip.Reader, size int64, opts LoadOptions) ([]*Document, []Diagnostic) {
	lim := opts.Limits.withDefaults()
	if len(zr.File) > lim.MaxMembers {
		return nil, []Diagnostic{packageDiag(name, CodePackageLimits, "package has %d entries, over the limit of %d", len(zr.File), lim.MaxMembers)}
	}
	r := &pkgReader{name: name, dirs: map[string]bool{}}
	files := map[string]*zip.File{}
	var total, compressed uint64
	for _, zf := range zr.File {
		n := zf.Name
		if !safeMemberName(n) {
			return nil, []Diagnostic{packageDiag(name, CodePackageUnsafePath,
				"package entry %q is outside the package (absolute path, \"..\" or backslash); package not read", n)}
		}
		if zf.Mode()&fs.ModeSymlink != 0 {
			// manoctl never unpacks a package, but a tool that does would
			// follow the link out of the package.
			return nil, []Diagnostic{packageDiag(name, CodePackageUnsafePath,
				"package entry %q is a symbolic link; package not read", n)}
		}
		if zf.FileInfo().IsDir() || strings.HasSuffix(n, "/") {
			r.dirs[strings.TrimSuffix(n, "/")] = true
			continue
		}
		if zf.UncompressedSize64 > uint64(lim.MaxMemberSize) {
			return nil, []Diagnostic{packageDiag(name, CodePackageLimits,
				"package entry %q inflates to %d bytes, over the limit of %d; package not read", n, zf.UncompressedSize64, lim.MaxMemberSize)}
		}
		if zf.UncompressedSize64 > RatioFloor && zf.UncompressedSize64/max(zf.CompressedSize64, 1) > uint64(lim.MaxRatio) {
			return nil, []Diagnostic{packageDiag(name, CodePackageLimits,
				"package entry %q inflates from %d to %d bytes, over the %d:1 compression ratio limit (a zip bomb?); package not read",
				n, zf.CompressedSize64, zf.UncompressedSize64, lim.MaxRatio)}
		}
		total += zf.UncompressedSize64
		if total > uint64(lim.MaxTotalSize) {
			return nil, []Diagnostic{packageDiag(name, CodePackageLimits,
				"package inflates to more than %d bytes; package not read", lim.MaxTotalSize)}
		}
		compressed += zf.CompressedSize64
		if compressed > uint64(size) {
			// Entries that share their compressed data: the overlapping
			// zip bomb, which multiplies one well-compressed stream.
			return nil, []Diagnostic{packageDiag(name, CodePackageLimits,
				"package entries hold more compressed data than the %d-byte archive (overlapping entries, a zip bomb?); package not read", size)}
		}
		if _, dup := files[n]; dup {
			return nil, []Diagnostic{packageDiag(name, CodePackageFormat, "package has two entries named %q", n)}
		}
		files[n] = zf
		r.members = append(r.members, n)
	}
	sort.Strings(r.members)
	r.open = func(m string) (io.ReadCloser, error) {
		zf, ok := files[m]
		if !ok {
			return nil, fs.ErrNotExist
		}
		rc, err := zf.Open()
		if err != nil {
			return nil, err
		}
		// The declared size was checked; a member that inflates past it
		// is corrupt or hostile. archive/zip reports that as ErrFormat
		// when the stream ends; the limit stops the read before then.
		return readCloser{io.LimitReader(rc, int64(zf.UncompressedSize64)+1), rc}, nil
	}
	r.sizeOf = func(m string) int64 { return int64(files[m].UncompressedSize64) }
	r.display = func(m string) string { return name + ":" + m }
	return loadPackage(r, opts)
}

type readCloser struct {
	io.Reader
	io.Closer
}

// safeMemberName rejects zip-slip names: absolute, climbing with "..",
// Windows separators or drive letters.
func safeMemberName(n string) bool {
	if n == "" || strings.ContainsAny(n, "\\\x00") || path.IsAbs(n) || (len(n) > 1 && n[1] == ':') {
		return false
	}
	for _, seg := range strings.Split(n, "/") {
		if seg == ".." {
			return false
		}
	}
	return true
}

// loadPackageDir reads an unpacked package directory (how the corpus
// stores packages).
func loadPackageDir(dir string, opts LoadOptions) ([]*Document, []Diagnostic) {
	r := &pkgReader{name: dir, dirs: map[string]bool{}}
	sizes := map[string]int64{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, rerr := filepath.Rel(dir, p)
		if rerr != nil || rel == "." {
			return rerr
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			r.dirs[rel] = true
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		fi, ierr := d.Info()
		if ierr != nil {
			return ierr
		}
		sizes[rel] = fi.Size()
		r.members = append(r.members, rel)
		return nil
	})
	if err != nil {
		return nil, []Diagnostic{unreadable(dir, err)}
	}
	r.open = func(m string) (io.ReadCloser, error) { return os.Open(filepath.Join(dir, filepath.FromSlash(m))) }
	r.sizeOf = func(m string) int64 { return sizes[m] }
	r.display = func(m string) string { return filepath.Join(dir, filepath.FromSlash(m)) }
	return loadPackage(r, opts)
}

func (r *pkgReader) has(m string) bool {
	i := sort.SearchStrings(r.members, m)
	return i < len(r.members) && r.members[i] == m
}

// read returns a member's bytes, refusing members over the descriptor
// size limit.
func (r *pkgReader) read(m string, limit int64) ([]byte, *Diagnostic) {
	if sz := r.sizeOf(m); sz > limit {
		d := tooLarge(r.display(m), sz, limit)
		return nil, &d
	}
	rc, err := r.open(m)
	if err != nil {
		d := unreadable(r.display(m), err)
		return nil, &d
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err == nil && int64(len(data)) > limit {
		err = errors.New("member inflates past its declared size")
	}
	if err != nil {
		d := packageDiag(r.display(m), CodePackageFormat, "cannot read package entry: %v", err)
		return nil, &d
	}
	return data, nil
}

// contentEntry is one package_content item of the PD.
type contentEntry struct {
	member      string // without the leading "/"
	contentType string
	md5         string
	pointer     string // of the item in the PD
}

// loadPackage runs the package-level checks of son-validate
// (spec/descriptors.md §9.3) and loads the PD and the descriptors it
// lists.
func loadPackage(r *pkgReader, opts LoadOptions) ([]*Document, []Diagnostic) {
	var (
		docs  []*Document
		diags []Diagnostic
	)
	structErr := func(format string, args ...any) {
		diags = append(diags, packageDiag(r.name, CodePackageStruct, format, args...))
	}
	// Structure.
	var metaInf []string
	for _, m := range r.members {
		if strings.HasPrefix(m, "META-INF/") {
			metaInf = append(metaInf, m)
		}
	}
	switch {
	case len(metaInf) == 0 && !r.dirs["META-INF"]:
		structErr("no META-INF/ directory: not a SONATA package")
	case !r.has(manifestPath):
		structErr("no %s in the package", manifestPath)
	case len(metaInf) > 1:
		structErr("META-INF/ must hold only MANIFEST.MF, found %s", strings.Join(metaInf, ", "))
	}
	for _, dir := range []string{"service_descriptors", "function_descriptors"} {
		if r.dirs[dir] && !r.hasUnder(dir+"/") {
			structErr("%s/ is present but empty", dir)
		}
	}
	sub := opts
	sub.Kind = KindUnknown
	var (
		pd      *Document
		entries []contentEntry
	)
	if r.has(manifestPath) {
		data, d := r.read(manifestPath, opts.maxFileSize())
		if d != nil {
			diags = append(diags, *d)
		} else {
			pds, pdiags := parseSource(parseConfig{file: r.display(manifestPath), pkg: r.name, kind: KindPD}, data)
			diags = append(diags, pdiags...)
			if len(pds) > 0 {
				pd = pds[0]
				docs = append(docs, pd)
				entries = contentEntries(pd)
			}
		}
	}
	// The descriptors: those the PD lists, or, without a usable PD, every
	// YAML file under the two descriptor directories.
	var members []string
	if pd != nil && entries != nil {
		for _, e := range entries {
			if !strings.HasPrefix(e.contentType, contentService) && !strings.HasPrefix(e.contentType, contentFunction) {
				continue
			}
			if !r.has(e.member) {
				diags = append(diags, pd.Diag(LevelIntegrity, SeverityError, CodePDInvalidReference, e.pointer+"/name",
					"referenced descriptor file /%s is not packaged", e.member))
				continue
			}
			members = append(members, e.member)
		}
	} else {
		for _, m := range r.members {
			if (strings.HasPrefix(m, "service_descriptors/") || strings.HasPrefix(m, "function_descriptors/")) && descriptorExt(m) {
				members = append(members, m)
			}
		}
	}
	seen := map[string]bool{}
	for _, m := range members {
		if seen[m] {
			continue
		}
		seen[m] = true
		data, d := r.read(m, opts.maxFileSize())
		if d != nil {
			diags = append(diags, *d)
			continue
		}
		mdocs, mdiags := parseSource(parseConfig{file: r.display(m), pkg: r.name, json: isJSONName(m)}, data)
		docs = append(docs, mdocs...)
		diags = append(diags, mdiags...)
	}
	if pd != nil {
		diags = append(diags, checkPDReferences(r, pd, entries)...)
	}
	return docs, diags
}

func (r *pkgReader) hasUnder(prefix string) bool {
	i := sort.SearchStrings(r.members, prefix)
	return i < len(r.members) && strings.HasPrefix(r.members[i], prefix)
}

// contentEntries reads package_content leniently: the PD's syntax check
// reports its shape; here only well-formed entries matter.
func contentEntries(pd *Document) []contentEntry {
	m, _ := pd.Value.(map[string]any)
	list, ok := m["package_content"].([]any)
	if !ok {
		return nil
	}
	out := make([]contentEntry, 0, len(list))
	for i, it := range list {
		e, _ := it.(map[string]any)
		name, _ := e["name"].(string)
		ct, _ := e["content-type"].(string)
		sum, _ := e["md5"].(string)
		if name == "" {
			continue
		}
		out = append(out, contentEntry{member: strings.TrimPrefix(name, "/"), contentType: ct, md5: sum, pointer: Pointer("package_content", i)})
	}
	return out
}

// checkPDReferences: the entry service template, and the MD5 sums.
func checkPDReferences(r *pkgReader, pd *Document, entries []contentEntry) []Diagnostic {
	var diags []Diagnostic
	m, _ := pd.Value.(map[string]any)
	switch est, _ := m["entry_service_template"].(string); {
	case est == "":
		diags = append(diags, pd.Diag(LevelIntegrity, SeverityError, CodePDMissingEntryService, "",
			"the package has no entry_service_template"))
	case !r.has(strings.TrimPrefix(est, "/")):
		diags = append(diags, pd.Diag(LevelIntegrity, SeverityError, CodePDInvalidReference, "/entry_service_template",
			"entry service template %s is not packaged", est))
	}
	for _, e := range entries {
		if e.md5 == "" || !r.has(e.member) {
			continue
		}
		got, err := r.md5(e.member)
		if err != nil {
			diags = append(diags, pd.Diag(LevelIntegrity, SeverityWarning, CodePDInvalidMD5, e.pointer+"/md5",
				"cannot check the MD5 of /%s: %v", e.member, err))
			continue
		}
		if !strings.EqualFold(got, e.md5) {
			diags = append(diags, pd.Diag(LevelIntegrity, SeverityWarning, CodePDInvalidMD5, e.pointer+"/md5",
				"MD5 of /%s is %s, the package descriptor says %s", e.member, got, e.md5))
		}
	}
	return diags
}

func (r *pkgReader) md5(m string) (string, error) {
	rc, err := r.open(m)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	h := md5.New()
	if _, err := io.Copy(h, rc); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
