package tui

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/manoctl/manoctl/reconcile/control"
	"github.com/manoctl/manoctl/reconcile/records"
)

// Records to rows: the embedded backend reads records.* objects, the
// daemon backend reads `manoctl get -o json` items and event objects.

// ChangeOf converts a records event into a change; ok is false for tables
// the UI does not show (descriptors).
func ChangeOf(e records.Event) (Change, bool) {
	c := Change{Key: e.Key, Deleted: e.Op == records.EventDelete}
	switch e.Table {
	case records.TablePlugins:
		c.Kind = KindPlugin
	case records.TableServices:
		c.Kind = KindService
	case records.TableFunctions:
		c.Kind = KindFunction
	case records.TableOperations:
		c.Kind = KindOperation
	case records.TableVIMs:
		c.Kind = KindVIM
	default:
		return c, false
	}
	if !c.Deleted {
		c.Row = RowOf(e.Object)
		if c.Row == nil {
			return c, false
		}
	}
	return c, true
}

// RowOf converts a record object into its row (nil for other types).
func RowOf(obj any) any {
	switch o := obj.(type) {
	case *records.Plugin:
		return &PluginRow{UUID: o.UUID, Name: o.Name, Version: o.Version, Description: o.Description, State: o.State,
			RegisteredAt: o.RegisteredAt, LastHeartbeat: o.LastHeartbeatAt}
	case *records.Service:
		return &ServiceRow{ID: o.ID, Name: o.Name, Status: string(o.Status), RecordStatus: string(o.RecordStatus),
			NSD: o.NSD.Identity.String(), NSDName: strings.TrimSpace(o.NSD.Identity.Name + " " + o.NSD.Identity.Version), Functions: o.Functions, Error: o.Error, LastOp: o.LastOperation, Version: o.Version,
			CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt}
	case *records.Function:
		return &FunctionRow{ID: o.ID, ServiceID: o.ServiceID, VNFID: o.VNFID, VNFD: o.VNFD.Identity.String(), VIM: o.VIM,
			Status: string(o.Status), Addresses: control.Addresses(o), Cores: o.Demand.Cores, MemoryMB: o.Demand.MemoryMB}
	case *records.Operation:
		r := &OperationRow{ID: o.ID, ServiceID: o.ServiceID, ServiceName: o.ServiceName, Kind: string(o.Kind), Status: string(o.Status),
			CorrelationID: o.CorrelationID, RequestedAt: o.RequestedAt, StartedAt: o.StartedAt, EndedAt: o.EndedAt,
			FailedStep: o.FailedStep, Error: o.Error}
		for _, s := range o.Steps {
			r.Steps = append(r.Steps, StepRow{Name: s.Name, Status: string(s.Status), Error: s.Error, StartedAt: s.StartedAt, EndedAt: s.EndedAt})
		}
		return r
	case *records.VIM:
		return &VIMRow{UUID: o.UUID, Name: o.Name, City: o.City, Endpoint: o.Endpoint, CoresTotal: o.CoresTotal, CoresUsed: o.CoresUsed,
			MemoryTotalMB: o.MemoryTotalMB, MemoryUsed: o.MemoryUsedMB}
	}
	return nil
}

// SnapshotRows reads every record of a snapshot as changes, for a Reset.
func SnapshotRows(r records.Reader) []Change {
	var out []Change
	add := func(k Kind, key string, obj any) {
		if row := RowOf(obj); row != nil {
			out = append(out, Change{Kind: k, Key: key, Row: row})
		}
	}
	if it, err := r.Plugins(nil); err == nil {
		for p := range it {
			add(KindPlugin, p.UUID, p)
		}
	}
	if it, err := r.Services(nil); err == nil {
		for s := range it {
			add(KindService, s.ID, s)
		}
	}
	if it, err := r.Functions(nil); err == nil {
		for f := range it {
			add(KindFunction, f.ID, f)
		}
	}
	if it, err := r.Operations(nil); err == nil {
		for o := range it {
			add(KindOperation, o.ID, o)
		}
	}
	if it, err := r.VIMs(nil); err == nil {
		for v := range it {
			add(KindVIM, v.UUID, v)
		}
	}
	return out
}

// kindOfTable maps a records table (the control kinds and the events
// topic suffixes use the same names) to a Kind.
func kindOfTable(table string) (Kind, bool) {
	for k, n := range kindNames {
		if n == table {
			return Kind(k), true
		}
	}
	return 0, false
}

// ItemRow converts one item of a control Get reply (the `manoctl get -o
// json` shape) into a row and its key.
func ItemRow(k Kind, it map[string]any) (string, any) {
	switch k {
	case KindPlugin:
		r := &PluginRow{UUID: str(it, "uuid"), Name: str(it, "name"), Version: str(it, "version"), Description: str(it, "description"),
			State: str(it, "state"), RegisteredAt: tm(it, "registered_at"), LastHeartbeat: tm(it, "last_heartbeat_at")}
		return r.UUID, r
	case KindService:
		r := &ServiceRow{ID: str(it, "id"), Name: str(it, "name"), Status: str(it, "status"), RecordStatus: str(it, "record_status"),
			NSD: str(it, "nsd"), Functions: strs(it, "functions"), Error: str(it, "error"), LastOp: str(it, "last_operation"),
			Version: uint64(num(it, "version")), CreatedAt: tm(it, "created_at"), UpdatedAt: tm(it, "updated_at")}
		return r.ID, r
	case KindFunction:
		r := &FunctionRow{ID: str(it, "id"), ServiceID: str(it, "service_id"), VNFID: str(it, "vnf_id"), VNFD: str(it, "vnfd"),
			VIM: str(it, "vim"), Status: str(it, "status"), Addresses: strs(it, "addresses"), Cores: int(num(it, "cores")),
			MemoryMB: num(it, "memory_mb")}
		return r.ID, r
	case KindOperation:
		r := &OperationRow{ID: str(it, "id"), ServiceID: str(it, "service_id"), ServiceName: str(it, "service"), Kind: str(it, "kind"),
			Status: str(it, "status"), CorrelationID: str(it, "correlation_id"), RequestedAt: tm(it, "requested_at"),
			StartedAt: tm(it, "started_at"), EndedAt: tm(it, "ended_at"), FailedStep: str(it, "failed_step"), Error: str(it, "error")}
		if steps, ok := it["steps"].([]any); ok {
			for _, s := range steps {
				if m, ok := s.(map[string]any); ok {
					r.Steps = append(r.Steps, StepRow{Name: str(m, "name"), Status: str(m, "status"), Error: str(m, "error"),
						StartedAt: tm(m, "started_at"), EndedAt: tm(m, "ended_at")})
				}
			}
		}
		return r.ID, r
	case KindVIM:
		r := &VIMRow{UUID: str(it, "uuid"), Name: str(it, "name"), City: str(it, "city"), Endpoint: str(it, "endpoint"),
			CoresTotal: int64(num(it, "cores_total")), CoresUsed: int64(num(it, "cores_used")),
			MemoryTotalMB: int64(num(it, "memory_total_mb")), MemoryUsed: int64(num(it, "memory_used_mb"))}
		return r.UUID, r
	}
	return "", nil
}

// EventChange converts a daemon event into a change. The object may be
// the record as Go encodes it (records.Service: "ID", "Name", ...) or an
// item in the `get -o json` shape ("id", "name", ...); both are read.
func EventChange(e control.Event) (Change, error) {
	k, ok := kindOfTable(e.Table)
	if !ok {
		return Change{}, fmt.Errorf("unknown table %q", e.Table)
	}
	c := Change{Kind: k, Key: e.Key, Deleted: e.Op == string(records.EventDelete)}
	if c.Deleted {
		return c, nil
	}
	var m map[string]any
	if err := json.Unmarshal(e.Object, &m); err != nil {
		return c, fmt.Errorf("event %s/%s: %w", e.Table, e.Key, err)
	}
	if _, goShape := m["ID"]; goShape || m["UUID"] != nil {
		var obj any
		switch k {
		case KindPlugin:
			obj = &records.Plugin{}
		case KindService:
			obj = &records.Service{}
		case KindFunction:
			obj = &records.Function{}
		case KindOperation:
			obj = &records.Operation{}
		case KindVIM:
			obj = &records.VIM{}
		}
		if err := json.Unmarshal(e.Object, obj); err != nil {
			return c, fmt.Errorf("event %s/%s: %w", e.Table, e.Key, err)
		}
		c.Row = RowOf(obj)
	} else {
		key, row := ItemRow(k, m)
		if c.Key == "" {
			c.Key = key
		}
		c.Row = row
	}
	if c.Key == "" {
		c.Key = rowKey(c.Row)
	}
	return c, nil
}

func rowKey(row any) string {
	switch r := row.(type) {
	case *PluginRow:
		return r.UUID
	case *ServiceRow:
		return r.ID
	case *FunctionRow:
		return r.ID
	case *OperationRow:
		return r.ID
	case *VIMRow:
		return r.UUID
	}
	return ""
}

func str(m map[string]any, k string) string {
	switch v := m[k].(type) {
	case string:
		return v
	case nil:
		return ""
	default:
		return fmt.Sprint(v)
	}
}

func strs(m map[string]any, k string) []string {
	l, _ := m[k].([]any)
	out := make([]string, 0, len(l))
	for _, v := range l {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func num(m map[string]any, k string) float64 {
	switch v := m[k].(type) {
	case float64:
		return v
	case int:
		return float64(v)
	case int64:
		return float64(v)
	case uint64:
		return float64(v)
	case json.Number:
		f, _ := v.Float64()
		return f
	}
	return 0
}

func tm(m map[string]any, k string) time.Time {
	switch v := m[k].(type) {
	case string:
		t, err := time.Parse(time.RFC3339Nano, v)
		if err == nil {
			return t
		}
	case time.Time:
		return v
	}
	return time.Time{}
}
