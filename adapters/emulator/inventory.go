package emulator

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"

	"github.com/google/uuid"
	"gopkg.in/yaml.v3"
)

// Inventory is the infrastructure the emulator starts with: compute VIMs
// with capacity and, optionally, WIMs with the VIMs attached to them. In the
// embedded default it comes from the manifest; `manoctl emulator` reads it
// from a file (ParseInventory).
type Inventory struct {
	VIMs []VIMConfig `json:"vims" yaml:"vims"`
	WIMs []WIMConfig `json:"wims,omitempty" yaml:"wims,omitempty"`
}

// VIMConfig is one compute VIM (a PoP) of the inventory.
type VIMConfig struct {
	// Name is the VIM's name (vim_name); it must be unique, because the
	// uuid is derived from it when UUID is empty.
	Name string `json:"name" yaml:"name"`
	// UUID is the vim_uuid placement writes into each function. Empty
	// means DeriveVIMUUID(Name), stable across runs so that plans are
	// reproducible.
	UUID string `json:"uuid,omitempty" yaml:"uuid,omitempty"`
	// City is vim_city; placement SSMs match it to ingress/egress
	// locations.
	City string `json:"city" yaml:"city"`
	// Endpoint is vim_endpoint (the vim_address of compute.add).
	Endpoint string `json:"endpoint" yaml:"endpoint"`
	// Domain is vim_domain (Dec-2017 IA); empty omits the key.
	Domain string `json:"domain,omitempty" yaml:"domain,omitempty"`
	// Cores and MemoryMB are the VIM's capacity (core_total,
	// memory_total in MB).
	Cores    int `json:"cores" yaml:"cores"`
	MemoryMB int `json:"memory_mb" yaml:"memory_mb"`
}

// WIMConfig is one WAN infrastructure manager. Once any WIM exists, every
// VIM in a wan.configure must be attached to one, as with the real WIM
// adaptor; with no WIM at all every VIM counts as reachable.
type WIMConfig struct {
	Name string `json:"name" yaml:"name"`
	// UUID is empty for DeriveWIMUUID(Name).
	UUID     string `json:"uuid,omitempty" yaml:"uuid,omitempty"`
	Vendor   string `json:"vendor,omitempty" yaml:"vendor,omitempty"`
	Endpoint string `json:"endpoint,omitempty" yaml:"endpoint,omitempty"`
	// VIMs lists the attached compute VIMs by name or uuid.
	VIMs []string `json:"vims,omitempty" yaml:"vims,omitempty"`
}

// namespace roots every uuid the emulator derives (uuid version 5), so
// derived ids never collide with ids derived by other name-based schemes.
var namespace = uuid.MustParse("6d616e6f-6374-4c2d-8965-6d756c61746f")

// DeriveVIMUUID is the vim_uuid of a VIM named name whose uuid the
// inventory does not give. It depends on the name only.
func DeriveVIMUUID(name string) string { return derive("vim", name) }

// DeriveWIMUUID is the uuid of a WIM named name whose uuid is not given.
func DeriveWIMUUID(name string) string { return derive("wim", name) }

func derive(kind string, parts ...string) string {
	var b bytes.Buffer
	b.WriteString(kind)
	for _, p := range parts {
		b.WriteByte(0)
		b.WriteString(p)
	}
	return uuid.NewSHA1(namespace, b.Bytes()).String()
}

// ParseInventory reads an inventory from YAML or JSON. Unknown keys are
// errors (a misspelt memory_mb would otherwise give a VIM without memory).
// The result is validated; every problem is reported at once.
func ParseInventory(data []byte) (Inventory, error) {
	var inv Inventory
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&inv); err != nil {
		return Inventory{}, fmt.Errorf("emulator: inventory: %w", err)
	}
	if err := inv.Validate(); err != nil {
		return Inventory{}, err
	}
	return inv, nil
}

// Validate checks the inventory: names present and unique, capacities not
// negative, uuids unique, WIM attachments naming known VIMs.
func (inv Inventory) Validate() error {
	var errs []error
	add := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("emulator: inventory: "+format, args...))
	}
	names := make(map[string]int)
	uuids := make(map[string]string)
	for i, v := range inv.VIMs {
		where := "vims[" + strconv.Itoa(i) + "]"
		if v.Name == "" {
			add("%s: name is required", where)
		} else if j, dup := names[v.Name]; dup {
			add("%s: name %q already used by vims[%d]", where, v.Name, j)
		} else {
			names[v.Name] = i
		}
		if v.Cores < 0 {
			add("%s (%s): cores %d is negative", where, v.Name, v.Cores)
		}
		if v.MemoryMB < 0 {
			add("%s (%s): memory_mb %d is negative", where, v.Name, v.MemoryMB)
		}
		id := v.resolvedUUID()
		if id == "" {
			continue
		}
		if other, dup := uuids[id]; dup {
			add("%s (%s): uuid %s already used by %s", where, v.Name, id, other)
		} else {
			uuids[id] = where
		}
	}
	wimNames := make(map[string]bool)
	for i, w := range inv.WIMs {
		where := "wims[" + strconv.Itoa(i) + "]"
		if w.Name == "" {
			add("%s: name is required", where)
		} else if wimNames[w.Name] {
			add("%s: name %q used twice", where, w.Name)
		}
		wimNames[w.Name] = true
		if id := w.resolvedUUID(); id != "" {
			if other, dup := uuids[id]; dup {
				add("%s (%s): uuid %s already used by %s", where, w.Name, id, other)
			} else {
				uuids[id] = where
			}
		}
		for _, ref := range w.VIMs {
			if _, ok := inv.vimByRef(ref); !ok {
				add("%s (%s): attached VIM %q is not in the inventory", where, w.Name, ref)
			}
		}
	}
	return errors.Join(errs...)
}

func (v VIMConfig) resolvedUUID() string {
	switch {
	case v.UUID != "":
		return v.UUID
	case v.Name != "":
		return DeriveVIMUUID(v.Name)
	}
	return ""
}

func (w WIMConfig) resolvedUUID() string {
	switch {
	case w.UUID != "":
		return w.UUID
	case w.Name != "":
		return DeriveWIMUUID(w.Name)
	}
	return ""
}

// vimByRef finds a VIM by name or uuid.
func (inv Inventory) vimByRef(ref string) (VIMConfig, bool) {
	for _, v := range inv.VIMs {
		if v.Name == ref || v.resolvedUUID() == ref {
			return v, true
		}
	}
	return VIMConfig{}, false
}
