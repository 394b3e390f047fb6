// Package corpus locates the shared SONATA descriptor corpus
// (../shared/corpus beside the module root, on developer machines and in
// CI alike) and reads its INDEX.md, for tests and benchmarks.
package corpus

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Dir returns the corpus directory, or an error that says where it was
// looked for.
func Dir() (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(filepath.Dir(root), "shared", "corpus")
	if _, err := os.Stat(filepath.Join(dir, "INDEX.md")); err != nil {
		return "", fmt.Errorf("corpus: %s/INDEX.md not found: the shared corpus must sit beside the module root as ../shared/corpus (%v)", dir, err)
	}
	return dir, nil
}

func moduleRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", errors.New("corpus: no go.mod above " + wd)
		}
	}
}

// Entry is one row of INDEX.md.
type Entry struct {
	// Repo is the section ("son-schema"), Path the original path inside
	// it; the file is Dir()/Repo/Path.
	Repo, Path string
	// Kind is the INDEX kind without qualifiers: nsd, vnfd, pd, nsr,
	// vnfr, test-instance, other.
	Kind string
	// List is true for files holding a list of records.
	List bool
	// Verdict is VALID, INVALID or n/a against son-schema v3.0.
	Verdict string
}

// File is the entry's path under dir.
func (e Entry) File(dir string) string {
	return filepath.Join(dir, e.Repo, filepath.FromSlash(e.Path))
}

// Index reads dir/INDEX.md.
func Index(dir string) ([]Entry, error) {
	f, err := os.Open(filepath.Join(dir, "INDEX.md"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var (
		out     []Entry
		repo    string
		columns map[string]int
	)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "## ") {
			repo, columns = strings.TrimSpace(line[3:]), nil
			continue
		}
		if repo == "" || !strings.HasPrefix(line, "|") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if columns == nil {
			columns = map[string]int{}
			for i, c := range cells {
				columns[c] = i
			}
			continue
		}
		if strings.HasPrefix(cells[0], "---") {
			continue
		}
		get := func(name string) string {
			if i, ok := columns[name]; ok && i < len(cells) {
				return cells[i]
			}
			return ""
		}
		kind := get("kind")
		e := Entry{Repo: repo, Path: get("original path"), Kind: strings.Fields(kind + " ?")[0],
			List: strings.Contains(kind, "(list)")}
		switch v := get("son-schema v3.0"); {
		case strings.HasPrefix(v, "VALID"):
			e.Verdict = "VALID"
		case strings.HasPrefix(v, "INVALID"):
			e.Verdict = "INVALID"
		default:
			e.Verdict = "n/a"
		}
		if e.Path == "" {
			return nil, fmt.Errorf("corpus: INDEX.md row without a path: %s", line)
		}
		out = append(out, e)
	}
	return out, sc.Err()
}
