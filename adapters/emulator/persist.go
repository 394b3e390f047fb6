package emulator

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/manoctl/manoctl/schema/descriptor"
)

// The embedded platform runs the emulator inside each manoctl invocation,
// yet the infrastructure it stands for must outlive the process: what one
// `manoctl apply` deployed, the next `manoctl plan` must find. Export and
// Import carry the emulator's state (prepared services and deployed
// functions; the VIM inventory comes from the manifest each time) through
// a file in the state directory. It is the infrastructure's truth, kept
// apart from the MANO's records, so that drift between the two is real.

// stateFormat versions the exported state.
const stateFormat = 1

type persisted struct {
	Format    int                 `json:"format"`
	Services  []persistedService  `json:"services"`
	Functions []persistedFunction `json:"functions"`
}

type persistedService struct {
	ID       string          `json:"id"`
	Prepared []persistedPrep `json:"prepared"`
	Chained  bool            `json:"chained,omitempty"`
	WAN      bool            `json:"wan,omitempty"`
	WANVIMs  []string        `json:"wan_vims,omitempty"`
}

type persistedPrep struct {
	VIM    string  `json:"vim"`
	Images []Image `json:"images,omitempty"`
}

type persistedFunction struct {
	ID       string              `json:"id"`
	Service  string              `json:"service"`
	VIM      string              `json:"vim"`
	VNFD     descriptor.Identity `json:"vnfd"`
	VNFDUUID string              `json:"vnfd_uuid"`
	Demand   descriptor.Demand   `json:"demand"`
	Reply    *DeployReply        `json:"reply"`
	Addrs    []uint32            `json:"addrs,omitempty"`
	MACs     []uint32            `json:"macs,omitempty"`
}

// Export serialises the prepared services and deployed functions.
func (e *Emulator) Export() ([]byte, error) {
	st := &e.st
	st.mu.Lock()
	defer st.mu.Unlock()
	p := persisted{Format: stateFormat}
	for _, s := range st.services {
		ps := persistedService{ID: s.id, Chained: s.chained, WAN: s.wan, WANVIMs: append([]string(nil), s.wanVIMs...)}
		for _, pv := range s.prepared {
			ps.Prepared = append(ps.Prepared, persistedPrep{VIM: pv.uuid, Images: append([]Image(nil), pv.images...)})
		}
		p.Services = append(p.Services, ps)
	}
	for _, f := range st.functions {
		p.Functions = append(p.Functions, persistedFunction{
			ID: f.id, Service: f.service, VIM: f.vim, VNFD: f.vnfd, VNFDUUID: f.vnfdUUID, Demand: f.demand,
			Reply: f.reply, Addrs: f.addrs, MACs: f.macs,
		})
	}
	sort.Slice(p.Services, func(i, j int) bool { return p.Services[i].ID < p.Services[j].ID })
	sort.Slice(p.Functions, func(i, j int) bool { return p.Functions[i].ID < p.Functions[j].ID })
	return json.MarshalIndent(p, "", " ")
}

// Import restores what Export wrote on top of the current inventory: VIM
// capacities are the inventory's, their use is recomputed from the
// functions. A function on a VIM the inventory no longer has is dropped
// (the VIM is gone, and so is what ran on it) and reported in the
// returned list. Call Import before Start.
func (e *Emulator) Import(data []byte) (dropped []string, err error) {
	var p persisted
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("emulator: import state: %w", err)
	}
	if p.Format != stateFormat {
		return nil, fmt.Errorf("emulator: import state: format %d, want %d", p.Format, stateFormat)
	}
	st := &e.st
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, ps := range p.Services {
		s := &serviceState{id: ps.ID, chained: ps.Chained, wan: ps.WAN, wanVIMs: ps.WANVIMs}
		for _, pv := range ps.Prepared {
			if _, ok := st.vims[pv.VIM]; ok {
				s.prepared = append(s.prepared, preparedVIM{uuid: pv.VIM, images: pv.Images})
			}
		}
		st.services[s.id] = s
	}
	for _, pf := range p.Functions {
		s := st.services[pf.Service]
		if s == nil || st.vims[pf.VIM] == nil || pf.Reply == nil {
			dropped = append(dropped, pf.ID)
			continue
		}
		f := &functionState{id: pf.ID, service: pf.Service, vim: pf.VIM, vnfd: pf.VNFD, vnfdUUID: pf.VNFDUUID,
			demand: pf.Demand, reply: pf.Reply, addrs: pf.Addrs, macs: pf.MACs}
		f.reply.wire = f.reply.doc()
		st.addFunction(s, f)
		for _, a := range f.addrs {
			st.addrs[a] = struct{}{}
		}
		for _, m := range f.macs {
			st.macs[m] = struct{}{}
		}
	}
	return dropped, nil
}

// WriteStateFile saves what Export returned to path, for `manoctl
// emulator --state`: written to a temporary file beside it, fsync'd,
// made private (0600: the state names every deployed function and its
// addresses) and renamed into place, so that a crash leaves the old state
// or the new one, never half of one.
func WriteStateFile(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("emulator: save state: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename, a no-op
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(0o600)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("emulator: save state %s: %w", path, err)
	}
	return nil
}
