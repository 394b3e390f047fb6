package emulator

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/manoctl/manoctl/schema/descriptor"
)

// Enumerations of the IA's Java VNFD model (wire-protocol §8.3). A value
// outside them fails Jackson's binding, which the IA answers with
// "Deployment Error". The schema's PT and PiT memory units are not in the
// Java model.
var (
	javaCPTypes      = setOf("external", "internal", "interface", "management")
	javaImageFormats = setOf("bare", "docker", "iso", "ova", "ovf", "qcow2", "raw", "vdi", "vhd", "vmdk")
	javaMemoryUnits  = setOf("B", "kB", "KiB", "MB", "MiB", "GB", "GiB", "TB", "TiB", "PB", "PiB")
)

func setOf(vs ...string) map[string]bool {
	m := make(map[string]bool, len(vs))
	for _, v := range vs {
		m[v] = true
	}
	return m
}

// checkVNFD reports why the IA's Java model would not accept vnfd, or nil.
// It checks what binding needs (types, enums) and the two ids the reply is
// made of; it is not schema validation.
func checkVNFD(vnfd map[string]any) []string {
	if vnfd == nil {
		return []string{"vnfd is missing or not a mapping"}
	}
	var p problems
	for _, key := range []string{"uuid", "instance_uuid"} {
		if descriptor.Str(vnfd, key) == "" {
			p.add("vnfd.%s is missing", key)
		}
	}
	p.checkCPs(vnfd, "vnfd")
	vdus, ok := listOf(vnfd, "virtual_deployment_units")
	if !ok {
		p.add("vnfd.virtual_deployment_units is %T, not a list", vnfd["virtual_deployment_units"])
	}
	for i, e := range vdus {
		where := "vnfd.virtual_deployment_units[" + strconv.Itoa(i) + "]"
		vdu := descriptor.AsMap(e)
		if vdu == nil {
			p.add("%s is %T, not a mapping", where, e)
			continue
		}
		if descriptor.Str(vdu, "id") == "" {
			p.add("%s.id is missing", where)
		}
		if f, ok := vdu["vm_image_format"]; ok && f != nil && !javaImageFormats[descriptor.ToString(f)] {
			p.add("%s.vm_image_format %v is not one of the IA's formats", where, f)
		}
		p.checkCPs(vdu, where)
		rr, present := vdu["resource_requirements"]
		if !present || rr == nil {
			continue
		}
		req := descriptor.AsMap(rr)
		if req == nil {
			p.add("%s.resource_requirements is %T, not a mapping", where, rr)
			continue
		}
		if cpu := descriptor.Map(req, "cpu"); cpu != nil {
			p.checkNumber(cpu, "vcpus", where+".resource_requirements.cpu")
		}
		for _, key := range []string{"memory", "storage"} {
			m, present := req[key]
			if !present || m == nil {
				continue
			}
			size := descriptor.AsMap(m)
			if size == nil {
				p.add("%s.resource_requirements.%s is %T, not a mapping", where, key, m)
				continue
			}
			p.checkNumber(size, "size", where+".resource_requirements."+key)
			if u, ok := size["size_unit"]; ok && u != nil && !javaMemoryUnits[descriptor.ToString(u)] {
				p.add("%s.resource_requirements.%s.size_unit %v is not one of the IA's units", where, key, u)
			}
		}
	}
	return p
}

type problems []string

func (p *problems) add(format string, args ...any) { *p = append(*p, fmt.Sprintf(format, args...)) }

// checkCPs checks the connection_points list of doc.
func (p *problems) checkCPs(doc map[string]any, where string) {
	cps, ok := listOf(doc, "connection_points")
	if !ok {
		p.add("%s.connection_points is %T, not a list", where, doc["connection_points"])
	}
	for i, e := range cps {
		cp := descriptor.AsMap(e)
		if cp == nil {
			p.add("%s.connection_points[%d] is %T, not a mapping", where, i, e)
			continue
		}
		if t, ok := cp["type"]; ok && t != nil && !javaCPTypes[descriptor.ToString(t)] {
			p.add("%s.connection_points[%d].type %v is not one of the IA's types", where, i, t)
		}
	}
}

// checkNumber checks that doc[key], if present, is a non-negative number.
func (p *problems) checkNumber(doc map[string]any, key, where string) {
	v, present := doc[key]
	if !present || v == nil {
		return
	}
	n, ok := descriptor.Number(doc, key)
	switch {
	case !ok:
		p.add("%s.%s is %T, not a number", where, key, v)
	case n < 0:
		p.add("%s.%s is negative", where, key)
	}
}

// listOf returns doc[key] as a list; ok is false when the key is present
// with another type (absent and null give an empty list).
func listOf(doc map[string]any, key string) ([]any, bool) {
	v, present := doc[key]
	if !present || v == nil {
		return nil, true
	}
	l, ok := v.([]any)
	return l, ok
}

// errAddressPool is returned when no free address can be found; with the
// pools' sizes it means millions of live connection points.
var errAddressPool = errors.New("fake address pool exhausted")

// buildVNFR makes the IA record of a deployment and allocates its fake
// addresses. It must run with st.mu held. Ids and addresses are a function
// of the seed, the instance uuid, the VDU and the connection point, so a
// redeployment of the same instance gets the same ones; an address or MAC
// already in use by another function is skipped, which is the only case
// in which the result depends on what else is deployed.
func (st *state) buildVNFR(seed string, v *descriptor.VNFD, instance, vnfdUUID, vim string, f *functionState) (*VNFR, error) {
	r := &VNFR{
		DescriptorVersion:      vnfrSchema,
		ID:                     instance,
		DescriptorReference:    vnfdUUID,
		Status:                 vnfrStatusNormalOp,
		VirtualDeploymentUnits: make([]VDUR, 0, len(v.VDUs)),
		ConnectionPoints:       make([]VNFCPRef, 0, len(v.ConnectionPoints)),
	}
	for _, u := range v.VDUs {
		cps := make([]CPRecord, 0, len(u.ConnectionPoints))
		for _, c := range u.ConnectionPoints {
			typ := c.Type
			if typ == "" {
				typ = defaultCPType
			}
			iface, err := st.allocInterface(seed, instance, u.ID, c.ID, typ == managementCPType, f)
			if err != nil {
				return nil, err
			}
			cps = append(cps, CPRecord{ID: c.ID, Type: typ, Interface: iface})
		}
		r.VirtualDeploymentUnits = append(r.VirtualDeploymentUnits, VDUR{
			ID:                u.ID,
			VMImage:           u.VMImage,
			VDUReference:      v.Name + ":" + u.ID,
			NumberOfInstances: numberOfVNFCsPerVDU,
			VNFCInstance: []VNFCInstance{{
				ID:               "0", // the Heat wrapper's vnfc index
				VIMID:            vim,
				VCID:             derive("vc", seed, instance, u.ID),
				ConnectionPoints: cps,
			}},
		})
	}
	for _, c := range v.ConnectionPoints {
		r.ConnectionPoints = append(r.ConnectionPoints, VNFCPRef{ID: c.ID, Type: c.Type})
	}
	return r, nil
}

// Address pools. Fixed addresses come from 10.0.0.0/8 in /29 subnets (the
// Heat wrapper's netmask), floating (management) addresses from
// 172.16.0.0/12; MACs use OpenStack's fa:16:3e prefix.
const (
	fixedBase    = 10 << 24
	floatingBase = 172<<24 | 16<<16
	maxProbes    = 64
)

// allocInterface picks a free address and MAC for one connection point and
// records them in f.
func (st *state) allocInterface(seed, instance, vdu, cp string, floating bool, f *functionState) (InterfaceRecord, error) {
	var rec InterfaceRecord
	for probe := 0; ; probe++ {
		if probe == maxProbes {
			return rec, errAddressPool
		}
		h := hash64(seed, instance, vdu, cp, strconv.Itoa(probe))
		var ip uint32
		if floating {
			ip = floatingBase | uint32(h)&0xFFFFF
			if last := ip & 0xFF; last == 0 || last == 0xFF {
				continue
			}
		} else {
			block := uint32(h>>8) & 0x1FFFFF // 2^21 /29 subnets
			ip = fixedBase | block<<3 | (1 + uint32(h%6))
		}
		if _, used := st.addrs[ip]; used {
			continue
		}
		st.addrs[ip] = struct{}{}
		f.addrs = append(f.addrs, ip)
		rec.Address = ipString(ip)
		if !floating {
			rec.Netmask = fixedNetmask
		}
		break
	}
	for probe := 0; ; probe++ {
		if probe == maxProbes {
			return rec, errAddressPool
		}
		mac := uint32(hash64(seed, "mac", instance, vdu, cp, strconv.Itoa(probe))) & 0xFFFFFF
		if _, used := st.macs[mac]; used {
			continue
		}
		st.macs[mac] = struct{}{}
		f.macs = append(f.macs, mac)
		rec.HardwareAddress = macString(mac)
		return rec, nil
	}
}

// hash64 is FNV-1a over the parts with a separator, finished with a
// splitmix64 step so that every output bit depends on every input bit.
func hash64(parts ...string) uint64 {
	const prime = 1099511628211
	h := uint64(14695981039346656037)
	for _, p := range parts {
		for i := 0; i < len(p); i++ {
			h ^= uint64(p[i])
			h *= prime
		}
		h ^= 0xFF
		h *= prime
	}
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}

func ipString(ip uint32) string {
	b := make([]byte, 0, 15)
	for i := 3; i >= 0; i-- {
		b = strconv.AppendUint(b, uint64(ip>>(8*i)&0xFF), 10)
		if i > 0 {
			b = append(b, '.')
		}
	}
	return string(b)
}

func macString(low uint32) string {
	const hexdigits = "0123456789abcdef"
	b := []byte("fa:16:3e:00:00:00")
	for i, shift := 0, 16; i < 3; i, shift = i+1, shift-8 {
		x := byte(low >> shift)
		b[9+3*i] = hexdigits[x>>4]
		b[10+3*i] = hexdigits[x&0xF]
	}
	return string(b)
}
