package emulator

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// TestWriteStateFile: the emulator's --state file is private (0600) even
// where an older, world-readable one stood, and replaced whole.
func TestWriteStateFile(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("POSIX permissions")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "emulator-state.json")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	emu, err := New(Inventory{VIMs: []VIMConfig{{Name: "athens", Cores: 4, MemoryMB: 4096}}})
	if err != nil {
		t.Fatal(err)
	}
	data, err := emu.Export()
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteStateFile(path, data); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("state file mode %v, want 0600", fi.Mode().Perm())
	}
	got, _ := os.ReadFile(path)
	if string(got) != string(data) {
		t.Errorf("state file holds %q", got)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
	if _, err := emu.Import(got); err != nil {
		t.Errorf("saved state does not import: %v", err)
	}
	if err := WriteStateFile(filepath.Join(dir, "missing", "x.json"), data); err == nil {
		t.Error("saving into a missing directory succeeded")
	}
}
