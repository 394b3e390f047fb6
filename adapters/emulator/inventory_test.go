package emulator

import (
	"strconv"
	"strings"
	"testing"

	"github.com/google/uuid"
)

func TestParseInventory(t *testing.T) {
	inv, err := ParseInventory([]byte(`
vims:
  - name: athens
    city: Athens
    endpoint: http://athens:5000
    cores: 8
    memory_mb: 16384
  - name: aveiro
    uuid: 1111-22222222-33333333-4444
    city: Aveiro
    domain: it
    cores: 2
    memory_mb: 4096
wims:
  - name: core
    vims: [athens, 1111-22222222-33333333-4444]
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.VIMs) != 2 || inv.VIMs[1].UUID != "1111-22222222-33333333-4444" || inv.VIMs[0].MemoryMB != 16384 || len(inv.WIMs[0].VIMs) != 2 {
		t.Fatalf("%+v", inv)
	}
	// JSON is YAML.
	if _, err := ParseInventory([]byte(`{"vims": [{"name": "a", "cores": 1, "memory_mb": 1}]}`)); err != nil {
		t.Fatal(err)
	}
}

func TestParseInventoryErrors(t *testing.T) {
	if _, err := ParseInventory([]byte("vims:\n  - name: a\n    memory: 4\n")); err == nil || !strings.Contains(err.Error(), "memory") {
		t.Errorf("unknown key: %v", err)
	}
	// Every problem at once.
	_, err := ParseInventory([]byte(`
vims:
  - name: a
    cores: -1
  - name: a
    memory_mb: -5
  - city: nowhere
  - name: b
    uuid: 1
  - name: c
    uuid: 1
wims:
  - name: w
    vims: [zzz]
`))
	if err == nil {
		t.Fatal("invalid inventory accepted")
	}
	for _, want := range []string{"cores -1 is negative", `name "a" already used`, "memory_mb -5", "vims[2]: name is required", "uuid 1 already used", `attached VIM "zzz"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if _, err := New(Inventory{VIMs: []VIMConfig{{Cores: 1}}}); err == nil {
		t.Error("New accepted an invalid inventory")
	}
}

// Derived uuids depend on the name only, are valid version-5 uuids, and
// never collide between kinds.
func TestDerivedUUIDs(t *testing.T) {
	a := DeriveVIMUUID("athens")
	if a != DeriveVIMUUID("athens") || a == DeriveVIMUUID("athens2") || a == DeriveWIMUUID("athens") {
		t.Fatal("derived uuids not stable or not distinct")
	}
	u, err := uuid.Parse(a)
	if err != nil || u.Version() != 5 {
		t.Fatalf("%s: %v version %d", a, err, u.Version())
	}
	// A golden value: changing the derivation changes every plan.
	if a != "cd64c3f5-c944-52e1-82ed-8e0aa7854e08" {
		t.Errorf("DeriveVIMUUID(athens) = %s; update the golden only on purpose", a)
	}
}

func TestAddressFormatting(t *testing.T) {
	if got := ipString(10<<24 | 1<<16 | 2<<8 | 255); got != "10.1.2.255" {
		t.Errorf("ipString %s", got)
	}
	if got := macString(0xA1B2C3); got != "fa:16:3e:a1:b2:c3" {
		t.Errorf("macString %s", got)
	}
	if hash64("a", "bc") == hash64("ab", "c") {
		t.Error("hash64 ignores part boundaries")
	}
}

// A pool with every candidate taken reports exhaustion instead of looping.
func TestAddressPoolExhaustion(t *testing.T) {
	var st state
	st.reset(Inventory{})
	f := &functionState{}
	first, err := st.allocInterface("0", "i", "vdu", "cp", false, f)
	if err != nil {
		t.Fatal(err)
	}
	// Same inputs again: the first candidate is taken, a probe finds
	// another; with every probe taken, allocation fails.
	second, err := st.allocInterface("0", "i", "vdu", "cp", false, f)
	if err != nil || second.Address == first.Address || second.HardwareAddress == first.HardwareAddress {
		t.Fatalf("probe failed: %v %v %v", first, second, err)
	}
	for probe := 0; probe < maxProbes; probe++ {
		h := hash64("0", "i", "vdu", "cp2", strconv.Itoa(probe))
		st.addrs[fixedBase|uint32(h>>8)&0x1FFFFF<<3|(1+uint32(h%6))] = struct{}{}
	}
	if _, err := st.allocInterface("0", "i", "vdu", "cp2", false, f); err != errAddressPool {
		t.Fatalf("err %v, want pool exhausted", err)
	}
}
