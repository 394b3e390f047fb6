package slm

import (
	"strings"

	"github.com/manoctl/manoctl/schema/descriptor"
)

// monitoringMessage builds the message the original POSTed to the
// monitoring manager's service/new (wire-protocol §10.3): the service,
// one function per VNFC instance with the metrics its rules use, and the
// rules themselves.
func monitoringMessage(s *ServiceState) map[string]any {
	nsd := s.NSD
	msg := map[string]any{
		"service": map[string]any{
			"sonata_srv_id": s.ID,
			"name":          descriptor.Str(nsd, "name"),
			"description":   descriptor.Str(nsd, "description"),
			"host_id":       nil,
			"pop_id":        nil,
			"sonata_usr_id": nil,
		},
	}
	functions := []any{}
	rules := []any{}
	for _, f := range s.Functions {
		vnfd := f.VNFD
		conds := ""
		for _, r := range descriptor.Maps(vnfd, "monitoring_rules") {
			conds += " " + descriptor.Str(r, "condition")
		}
		for _, vdu := range descriptor.Maps(f.VNFR, "virtual_deployment_units") {
			vduID := descriptor.Str(vdu, "id")
			vnfdVDU := findVDU(vnfd, descriptor.Str(vdu, "vdu_reference"), vduID)
			var metrics []any
			for _, p := range descriptor.Maps(vnfdVDU, "monitoring_parameters") {
				name := descriptor.Str(p, "name")
				if name == "" || !strings.Contains(conds, name) {
					continue
				}
				metrics = append(metrics, map[string]any{
					"name": name, "unit": p["unit"], "threshold": p["threshold"],
					"interval": p["frequency"], "cmd": p["command"], "description": p["description"],
				})
			}
			if metrics == nil {
				metrics = []any{}
			}
			for _, vnfc := range descriptor.Maps(vdu, "vnfc_instance") {
				vcID := descriptor.Str(vnfc, "vc_id")
				functions = append(functions, map[string]any{
					"sonata_func_id": descriptor.Str(f.VNFR, "id"),
					"name":           descriptor.Str(vnfd, "name"),
					"description":    descriptor.Str(vnfd, "description"),
					"pop_id":         f.VIM,
					"host_id":        vcID,
					"metrics":        metrics,
				})
				for _, r := range descriptor.Maps(vnfd, "monitoring_rules") {
					cond := descriptor.Str(r, "condition")
					if i := strings.IndexByte(cond, ':'); i >= 0 {
						cond = cond[i+1:]
					}
					rules = append(rules, map[string]any{
						"name":              descriptor.Str(r, "name"),
						"summary":           "",
						"duration":          descriptor.Str(r, "duration") + descriptor.Str(r, "duration_unit"),
						"description":       descriptor.Str(r, "description"),
						"condition":         vcID + ":" + cond,
						"notification_type": notificationType(r),
					})
				}
			}
		}
	}
	msg["functions"] = functions
	msg["rules"] = rules
	return msg
}

func findVDU(vnfd descriptor.Doc, ref, id string) map[string]any {
	for _, u := range descriptor.Maps(vnfd, "virtual_deployment_units") {
		uid := descriptor.Str(u, "id")
		if uid == id || (uid != "" && strings.Contains(ref, uid)) {
			return u
		}
	}
	return nil
}

// notificationType maps a rule's first notification type to the monitoring
// manager's code: 1 sms, 2 rabbitmq_message, 3 email.
func notificationType(rule map[string]any) int {
	for _, n := range descriptor.Maps(rule, "notification") {
		switch descriptor.Str(n, "type") {
		case "sms":
			return 1
		case "rabbitmq_message":
			return 2
		case "email":
			return 3
		}
	}
	return 2
}
