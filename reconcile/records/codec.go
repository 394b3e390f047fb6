package records

// The binary object codec shared by the journal and snapshots (format
// version 1, described in README.md). It is hand-written rather than gob or
// JSON because loading 100,000 services means decoding 400,000 objects in a
// fraction of the 2 s budget: varints, no reflection, strings sliced out of
// one buffer per chunk, repeated strings (statuses, digests, identities,
// connection-point ids) written once per chunk and interned.
//
// Every decode is bounds-checked and never panics: a length or count larger
// than what is left is an error, not an allocation.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
	"unique"
)

// objectVersion is the version byte that starts every encoded object. A
// decoder refuses versions it does not know instead of misreading them.
const objectVersion = 1

// maxDepth bounds the nesting of descriptor documents, in both directions,
// so that a hostile or corrupt document cannot exhaust the stack.
const maxDepth = 512

var errShort = errors.New("truncated data")

// encoder appends to buf. With a dictionary (snapshot chunks), sym strings
// are written once and then referred to by number.
type encoder struct {
	buf  []byte
	dict map[string]uint64
}

func (e *encoder) byte(b byte)      { e.buf = append(e.buf, b) }
func (e *encoder) uvarint(v uint64) { e.buf = binary.AppendUvarint(e.buf, v) }
func (e *encoder) varint(v int64)   { e.buf = binary.AppendVarint(e.buf, v) }
func (e *encoder) f64(f float64) {
	e.buf = binary.LittleEndian.AppendUint64(e.buf, math.Float64bits(f))
}
func (e *encoder) str(s string)              { e.uvarint(uint64(len(s))); e.buf = append(e.buf, s...) }
func (e *encoder) count(n int)               { e.uvarint(uint64(n)) }
func (e *encoder) idx(create, modify uint64) { e.uvarint(create); e.uvarint(modify) }

// sym writes a string that is likely to repeat. Dictionary form: 0 followed
// by the string defines the next entry; k > 0 refers to entry k-1.
func (e *encoder) sym(s string) {
	if e.dict == nil {
		e.str(s)
		return
	}
	if k, ok := e.dict[s]; ok {
		e.uvarint(k + 1)
		return
	}
	e.dict[s] = uint64(len(e.dict))
	e.uvarint(0)
	e.str(s)
}

// time writes zero as a single 0 and other times as seconds and
// nanoseconds, which, unlike UnixNano, cover every representable time.
func (e *encoder) time(t time.Time) {
	if t.IsZero() {
		e.uvarint(0)
		return
	}
	e.uvarint(1)
	e.varint(t.Unix())
	e.uvarint(uint64(t.Nanosecond()))
}

// decoder reads from src. Strings are substrings of src, so one chunk costs
// one string allocation, not one per field. The first error sticks: later
// reads return zero values, and callers check err once at the end.
type decoder struct {
	src      string
	off      int
	err      error
	dictMode bool
	dict     []string
	slab     *slab
}

func newDecoder(src string, dictMode bool) *decoder {
	return &decoder{src: src, dictMode: dictMode}
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("offset %d: %s", d.off, fmt.Sprintf(format, args...))
	}
}

func (d *decoder) remaining() int { return len(d.src) - d.off }

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if d.off >= len(d.src) {
		d.fail("%v", errShort)
		return 0
	}
	b := d.src[d.off]
	d.off++
	return b
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	var x uint64
	var s uint
	for i := 0; i < binary.MaxVarintLen64; i++ {
		if d.off >= len(d.src) {
			d.fail("%v", errShort)
			return 0
		}
		b := d.src[d.off]
		d.off++
		if b < 0x80 {
			if i == binary.MaxVarintLen64-1 && b > 1 {
				d.fail("varint overflows 64 bits")
				return 0
			}
			return x | uint64(b)<<s
		}
		x |= uint64(b&0x7f) << s
		s += 7
	}
	d.fail("varint overflows 64 bits")
	return 0
}

func (d *decoder) varint() int64 {
	ux := d.uvarint()
	x := int64(ux >> 1)
	if ux&1 != 0 {
		x = ^x
	}
	return x
}

func (d *decoder) int() int {
	v := d.varint()
	if int64(int(v)) != v {
		d.fail("integer %d overflows int", v)
		return 0
	}
	return int(v)
}

func (d *decoder) f64() float64 {
	if d.err != nil {
		return 0
	}
	if d.remaining() < 8 {
		d.fail("%v", errShort)
		return 0
	}
	var v uint64
	for i := 7; i >= 0; i-- {
		v = v<<8 | uint64(d.src[d.off+i])
	}
	d.off += 8
	return math.Float64frombits(v)
}

func (d *decoder) str() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > uint64(d.remaining()) {
		d.fail("string of %d bytes with %d left", n, d.remaining())
		return ""
	}
	s := d.src[d.off : d.off+int(n)]
	d.off += int(n)
	return s
}

// sym reads a string written by encoder.sym. Repeated strings are interned
// process-wide, so that 300,000 functions share one "normal operation".
// Only fields with few distinct values are syms: interning a value that
// never repeats costs a map entry and saves nothing.
func (d *decoder) sym() string {
	if !d.dictMode {
		return intern(d.str())
	}
	k := d.uvarint()
	if d.err != nil {
		return ""
	}
	if k == 0 {
		s := intern(d.str())
		d.dict = append(d.dict, s)
		return s
	}
	if k-1 >= uint64(len(d.dict)) {
		d.fail("symbol %d not defined (%d known)", k-1, len(d.dict))
		return ""
	}
	return d.dict[k-1]
}

// count reads an element count and rejects counts that cannot fit in what
// is left, each element taking at least min bytes: no allocation is ever
// sized by unchecked input.
func (d *decoder) count(min int) int {
	n := d.uvarint()
	if d.err != nil {
		return 0
	}
	if min < 1 {
		min = 1
	}
	if n > uint64(d.remaining()/min) {
		d.fail("count %d too large for %d bytes left", n, d.remaining())
		return 0
	}
	return int(n)
}

func (d *decoder) time() time.Time {
	switch flag := d.uvarint(); flag {
	case 0:
		return time.Time{}
	case 1:
		sec := d.varint()
		nsec := d.uvarint()
		if nsec >= 1e9 {
			d.fail("nanoseconds %d out of range", nsec)
			return time.Time{}
		}
		return time.Unix(sec, int64(nsec)).UTC()
	default:
		d.fail("bad time flag %d", flag)
		return time.Time{}
	}
}

func (d *decoder) version(what string) {
	if v := d.uvarint(); d.err == nil && v != objectVersion {
		d.fail("%s: unknown object version %d", what, v)
	}
}

// intern returns the process-wide canonical copy of s, so that values that
// repeat across records (statuses, digests, ids of shared things) are stored
// once. unique.Make copies s, so interning a substring of a large buffer
// does not keep the buffer alive.
func intern(s string) string {
	if s == "" {
		return ""
	}
	return unique.Make(s).Value()
}

// slab hands out sub-slices of larger arrays, so that decoding a chunk of
// functions makes a few large allocations instead of one per VDU, VNFC and
// connection point. Sub-slices are capped (s[a:b:b]) so that appending to
// one, after a Copy, never writes into its neighbour.
type slab struct {
	services []Service
	funcs    []Function
	vdus     []VDU
	vnfcs    []VNFC
	cps      []ConnectionPoint
	eps      []Endpoint
	strs     []string
}

const slabSize = 1024

func take[T any](pool *[]T, n int) []T {
	if n == 0 {
		return nil
	}
	if len(*pool) < n {
		*pool = make([]T, max(n, slabSize))
	}
	s := (*pool)[:n:n]
	*pool = (*pool)[n:]
	return s
}

// The take functions return nil for zero elements, as the store keeps
// empty slices (see normalize), so that decoded records equal stored ones.

func (d *decoder) takeCPs(n int) []ConnectionPoint {
	if n == 0 {
		return nil
	}
	if d.slab == nil {
		return make([]ConnectionPoint, n)
	}
	return take(&d.slab.cps, n)
}

func (d *decoder) takeVDUs(n int) []VDU {
	if n == 0 {
		return nil
	}
	if d.slab == nil {
		return make([]VDU, n)
	}
	return take(&d.slab.vdus, n)
}

func (d *decoder) takeVNFCs(n int) []VNFC {
	if n == 0 {
		return nil
	}
	if d.slab == nil {
		return make([]VNFC, n)
	}
	return take(&d.slab.vnfcs, n)
}

func (d *decoder) takeEndpoints(n int) []Endpoint {
	if n == 0 {
		return nil
	}
	if d.slab == nil {
		return make([]Endpoint, n)
	}
	return take(&d.slab.eps, n)
}

func (d *decoder) takeStrings(n int) []string {
	if n == 0 {
		return nil
	}
	if d.slab == nil {
		return make([]string, n)
	}
	return take(&d.slab.strs, n)
}

func (d *decoder) newService() *Service {
	if d.slab == nil {
		return new(Service)
	}
	return &take(&d.slab.services, 1)[0]
}

func (d *decoder) newFunction() *Function {
	if d.slab == nil {
		return new(Function)
	}
	return &take(&d.slab.funcs, 1)[0]
}

// ---- records ----

func encodeRef(e *encoder, r *DescriptorRef) {
	e.sym(r.Digest)
	e.sym(r.Identity.Vendor)
	e.sym(r.Identity.Name)
	e.sym(r.Identity.Version)
	e.sym(r.UUID)
}

func decodeRef(d *decoder, r *DescriptorRef) {
	r.Digest = d.sym()
	r.Identity.Vendor = d.sym()
	r.Identity.Name = d.sym()
	r.Identity.Version = d.sym()
	r.UUID = d.sym()
}

func encodeEndpoints(e *encoder, eps []Endpoint) {
	e.count(len(eps))
	for _, ep := range eps {
		e.sym(ep.Location)
		e.str(ep.NAP)
	}
}

func decodeEndpoints(d *decoder) []Endpoint {
	n := d.count(2)
	eps := d.takeEndpoints(n)
	for i := range eps {
		eps[i].Location = d.sym()
		eps[i].NAP = d.str()
	}
	return eps
}

func encodeService(e *encoder, s *Service) {
	e.uvarint(objectVersion)
	e.str(s.ID)
	e.str(s.Name)
	e.sym(string(s.Status))
	e.sym(string(s.RecordStatus))
	e.uvarint(s.Version)
	encodeRef(e, &s.NSD)
	e.count(len(s.Functions))
	for _, f := range s.Functions {
		e.str(f)
	}
	encodeEndpoints(e, s.Ingresses)
	encodeEndpoints(e, s.Egresses)
	e.str(s.Spec.Digest)
	e.sym(s.Spec.Placement)
	e.str(s.Error)
	e.str(s.LastOperation)
	e.time(s.CreatedAt)
	e.time(s.UpdatedAt)
	e.idx(s.CreateIndex, s.ModifyIndex)
}

func decodeService(d *decoder) *Service {
	d.version("service")
	s := d.newService()
	s.ID = d.str()
	s.Name = d.str()
	s.Status = ServiceStatus(d.sym())
	s.RecordStatus = RecordStatus(d.sym())
	s.Version = d.uvarint()
	decodeRef(d, &s.NSD)
	n := d.count(1)
	s.Functions = d.takeStrings(n)
	for i := range s.Functions {
		s.Functions[i] = d.str()
	}
	s.Ingresses = decodeEndpoints(d)
	s.Egresses = decodeEndpoints(d)
	s.Spec.Digest = d.str()
	s.Spec.Placement = d.sym()
	s.Error = d.str()
	s.LastOperation = d.str()
	s.CreatedAt = d.time()
	s.UpdatedAt = d.time()
	s.CreateIndex, s.ModifyIndex = d.uvarint(), d.uvarint()
	return s
}

func encodeCPs(e *encoder, cps []ConnectionPoint) {
	e.count(len(cps))
	for i := range cps {
		cp := &cps[i]
		e.sym(cp.ID)
		e.sym(cp.Type)
		e.str(cp.Address)
		e.sym(cp.Netmask)
		e.str(cp.HardwareAddress)
	}
}

func decodeCPs(d *decoder) []ConnectionPoint {
	n := d.count(5)
	cps := d.takeCPs(n)
	for i := range cps {
		cp := &cps[i]
		cp.ID = d.sym()
		cp.Type = d.sym()
		cp.Address = d.str()
		cp.Netmask = d.sym()
		cp.HardwareAddress = d.str()
	}
	return cps
}

func encodeFunction(e *encoder, f *Function) {
	e.uvarint(objectVersion)
	e.str(f.ID)
	e.str(f.ServiceID)
	e.sym(f.VNFID)
	encodeRef(e, &f.VNFD)
	e.sym(f.VIM)
	e.sym(string(f.Status))
	e.uvarint(f.Version)
	e.sym(f.DescriptorVersion)
	e.sym(f.DeploymentFlavour)
	e.str(f.Instance.Name)
	e.str(f.Instance.VIMUUID)
	e.count(len(f.VDUs))
	for i := range f.VDUs {
		u := &f.VDUs[i]
		e.sym(u.ID)
		e.sym(u.Reference)
		e.varint(int64(u.NumberOfInstances))
		e.sym(u.VMImage)
		e.count(len(u.VNFCs))
		for j := range u.VNFCs {
			c := &u.VNFCs[j]
			e.str(c.ID)
			e.sym(c.VIMID)
			e.str(c.VCID)
			encodeCPs(e, c.ConnectionPoints)
		}
	}
	encodeCPs(e, f.ConnectionPoints)
	e.varint(int64(f.Demand.Cores))
	e.f64(f.Demand.MemoryMB)
	e.idx(f.CreateIndex, f.ModifyIndex)
}

func decodeFunction(d *decoder) *Function {
	d.version("function")
	f := d.newFunction()
	f.ID = d.str()
	f.ServiceID = d.str()
	f.VNFID = d.sym()
	decodeRef(d, &f.VNFD)
	f.VIM = d.sym()
	f.Status = RecordStatus(d.sym())
	f.Version = d.uvarint()
	f.DescriptorVersion = d.sym()
	f.DeploymentFlavour = d.sym()
	f.Instance.Name = d.str()
	f.Instance.VIMUUID = d.str()
	f.VDUs = d.takeVDUs(d.count(5))
	for i := range f.VDUs {
		u := &f.VDUs[i]
		u.ID = d.sym()
		u.Reference = d.sym()
		u.NumberOfInstances = d.int()
		u.VMImage = d.sym()
		u.VNFCs = d.takeVNFCs(d.count(4))
		for j := range u.VNFCs {
			c := &u.VNFCs[j]
			c.ID = d.str()
			c.VIMID = d.sym()
			c.VCID = d.str()
			c.ConnectionPoints = decodeCPs(d)
		}
	}
	f.ConnectionPoints = decodeCPs(d)
	f.Demand.Cores = d.int()
	f.Demand.MemoryMB = d.f64()
	f.CreateIndex, f.ModifyIndex = d.uvarint(), d.uvarint()
	return f
}

func encodeDescriptor(e *encoder, x *Descriptor) error {
	e.uvarint(objectVersion)
	e.sym(x.Digest)
	e.sym(string(x.Kind))
	e.sym(x.Identity.Vendor)
	e.sym(x.Identity.Name)
	e.sym(x.Identity.Version)
	e.sym(x.UUID)
	if err := encodeValue(e, x.Doc, 0); err != nil {
		return err
	}
	e.idx(x.CreateIndex, x.ModifyIndex)
	return nil
}

func decodeDescriptor(d *decoder) *Descriptor {
	d.version("descriptor")
	x := new(Descriptor)
	x.Digest = d.sym()
	x.Kind = DescriptorKind(d.sym())
	x.Identity.Vendor = d.sym()
	x.Identity.Name = d.sym()
	x.Identity.Version = d.sym()
	x.UUID = d.sym()
	v := decodeValue(d, 0)
	if m, ok := v.(map[string]any); ok {
		x.Doc = m
	} else if d.err == nil {
		d.fail("descriptor document is %T, want a mapping", v)
	}
	x.CreateIndex, x.ModifyIndex = d.uvarint(), d.uvarint()
	return x
}

func encodeVIM(e *encoder, v *VIM) {
	e.uvarint(objectVersion)
	e.str(v.UUID)
	e.str(v.Name)
	e.sym(v.City)
	e.str(v.Endpoint)
	e.sym(v.Domain)
	e.varint(v.CoresTotal)
	e.varint(v.CoresUsed)
	e.varint(v.MemoryTotalMB)
	e.varint(v.MemoryUsedMB)
	e.idx(v.CreateIndex, v.ModifyIndex)
}

func decodeVIM(d *decoder) *VIM {
	d.version("vim")
	v := new(VIM)
	v.UUID = d.str()
	v.Name = d.str()
	v.City = d.sym()
	v.Endpoint = d.str()
	v.Domain = d.sym()
	v.CoresTotal = d.varint()
	v.CoresUsed = d.varint()
	v.MemoryTotalMB = d.varint()
	v.MemoryUsedMB = d.varint()
	v.CreateIndex, v.ModifyIndex = d.uvarint(), d.uvarint()
	return v
}

func encodePlugin(e *encoder, p *Plugin) {
	e.uvarint(objectVersion)
	e.str(p.UUID)
	e.sym(p.Name)
	e.sym(p.Version)
	e.sym(p.Description)
	e.sym(p.State)
	e.time(p.RegisteredAt)
	e.time(p.LastHeartbeatAt)
	e.idx(p.CreateIndex, p.ModifyIndex)
}

func decodePlugin(d *decoder) *Plugin {
	d.version("plugin")
	p := new(Plugin)
	p.UUID = d.str()
	p.Name = d.sym()
	p.Version = d.sym()
	p.Description = d.sym()
	p.State = d.sym()
	p.RegisteredAt = d.time()
	p.LastHeartbeatAt = d.time()
	p.CreateIndex, p.ModifyIndex = d.uvarint(), d.uvarint()
	return p
}

func encodeOperation(e *encoder, o *Operation) {
	e.uvarint(objectVersion)
	e.str(o.ID)
	e.str(o.ServiceID)
	e.str(o.ServiceName)
	e.sym(string(o.Kind))
	e.str(o.CorrelationID)
	e.sym(string(o.Status))
	e.time(o.RequestedAt)
	e.time(o.StartedAt)
	e.time(o.EndedAt)
	e.count(len(o.Steps))
	for i := range o.Steps {
		s := &o.Steps[i]
		e.sym(s.Name)
		e.sym(string(s.Status))
		e.varint(int64(s.Attempt))
		e.time(s.StartedAt)
		e.time(s.EndedAt)
		e.str(s.Error)
	}
	e.sym(o.FailedStep)
	e.str(o.Error)
	e.sym(o.Resume)
	e.idx(o.CreateIndex, o.ModifyIndex)
}

func decodeOperation(d *decoder) *Operation {
	d.version("operation")
	o := new(Operation)
	o.ID = d.str()
	o.ServiceID = d.str()
	o.ServiceName = d.str()
	o.Kind = OperationKind(d.sym())
	o.CorrelationID = d.str()
	o.Status = OperationStatus(d.sym())
	o.RequestedAt = d.time()
	o.StartedAt = d.time()
	o.EndedAt = d.time()
	if n := d.count(6); n > 0 {
		o.Steps = make([]Step, n)
		for i := range o.Steps {
			s := &o.Steps[i]
			s.Name = d.sym()
			s.Status = StepStatus(d.sym())
			s.Attempt = d.int()
			s.StartedAt = d.time()
			s.EndedAt = d.time()
			s.Error = d.str()
		}
	}
	o.FailedStep = d.sym()
	o.Error = d.str()
	o.Resume = d.sym()
	o.CreateIndex, o.ModifyIndex = d.uvarint(), d.uvarint()
	return o
}

// encodeObject encodes obj, a record of table.
func encodeObject(e *encoder, table string, obj any) error {
	switch o := obj.(type) {
	case *Service:
		encodeService(e, o)
	case *Function:
		encodeFunction(e, o)
	case *Descriptor:
		return encodeDescriptor(e, o)
	case *VIM:
		encodeVIM(e, o)
	case *Plugin:
		encodePlugin(e, o)
	case *Operation:
		encodeOperation(e, o)
	default:
		return fmt.Errorf("records: cannot encode %T for table %s", obj, table)
	}
	return nil
}

// decodeObject decodes one record of table. Decoding fails on any
// inconsistency; it never panics.
func decodeObject(d *decoder, table string) (any, error) {
	var obj any
	switch table {
	case TableServices:
		obj = decodeService(d)
	case TableFunctions:
		obj = decodeFunction(d)
	case TableDescriptors:
		obj = decodeDescriptor(d)
	case TableVIMs:
		obj = decodeVIM(d)
	case TablePlugins:
		obj = decodePlugin(d)
	case TableOperations:
		obj = decodeOperation(d)
	default:
		return nil, fmt.Errorf("records: no decoder for table %q", table)
	}
	if d.err != nil {
		return nil, fmt.Errorf("records: decode %s: %w", table, d.err)
	}
	return obj, nil
}

// primaryKey returns the primary key of a record.
func primaryKey(obj any) string {
	switch o := obj.(type) {
	case *Service:
		return o.ID
	case *Function:
		return o.ID
	case *Descriptor:
		return o.Digest
	case *VIM:
		return o.UUID
	case *Plugin:
		return o.UUID
	case *Operation:
		return o.ID
	case *tableIndex:
		return o.Key
	}
	return ""
}
