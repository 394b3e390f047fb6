package sprest

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/manoctl/manoctl/reconcile/slm"
)

// Monitor is the SLM's monitoring port for a SONATA monitoring manager:
// ServiceStarted queues POST <monitoring>service/new with the message the
// SLM built (§10.3, expecting 200), ServiceStopped queues DELETE
// <monitoring>services/<serv_id> (§4.5 step 2, expecting 204). Both
// return at once: unlike the original, an unreachable monitoring manager
// does not fail (and roll back) the service; the failure is reported and
// the request retried, in order after the service's earlier writes.
type Monitor struct{ c *Client }

var _ slm.Monitor = (*Monitor)(nil)

// Monitor returns the monitoring port. Without a monitoring URL it does
// nothing.
func (c *Client) Monitor() *Monitor { return &Monitor{c: c} }

// ServiceStarted queues the monitoring message for servID.
func (m *Monitor) ServiceStarted(_ context.Context, servID string, message map[string]any) error {
	c := m.c
	if !c.cfg.MonitoringEnabled() {
		return nil
	}
	g, err := generic(message)
	if err == nil {
		var body []byte
		if body, err = marshalJSON(g); err == nil {
			c.enqueueMonitor(servID, &request{
				target: TargetMonitoring, method: http.MethodPost, url: c.cfg.MonitoringBase + MonitorNew,
				body: body, expect: []int{http.StatusOK},
			})
			return nil
		}
	}
	// Not encodable: a bug in the message builder, not an outage.
	err = fmt.Errorf("monitoring message for %s: %w", servID, err)
	c.log.Error("sprest: monitoring message not encodable", "service", servID, "err", err)
	c.drop(TargetMonitoring, servID, c.cfg.MonitoringBase+MonitorNew, err)
	return nil
}

// ServiceStopped queues the removal of servID from the monitoring
// manager. A 404 counts as done: there is nothing left to remove.
func (m *Monitor) ServiceStopped(_ context.Context, servID string) error {
	c := m.c
	if !c.cfg.MonitoringEnabled() {
		return nil
	}
	u := c.cfg.MonitoringBase + MonitorServices + url.PathEscape(servID)
	c.enqueueMonitor(servID, &request{
		target: TargetMonitoring, method: http.MethodDelete, url: u,
		expect: []int{http.StatusNoContent}, special: []int{http.StatusNotFound},
		handle: func(code int) outcome {
			if code == http.StatusNotFound {
				c.log.Info("sprest: monitoring manager does not know the service; nothing to remove", "service", servID, "url", u)
			}
			return outcomeDelivered
		},
	})
	return nil
}
