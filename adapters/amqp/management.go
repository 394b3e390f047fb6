package amqp

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
)

// ManagementAPI is a VhostManager over the RabbitMQ management HTTP API
// (rabbitmq_management plugin), as the original SMR uses it (§7.1).
type ManagementAPI struct {
	base     *url.URL
	user     string
	password string
	client   *http.Client
}

var _ VhostManager = (*ManagementAPI)(nil)

// NewManagementAPI returns a client for the API at cfg.URL (default
// broker_man_host, then http://localhost:15672) with cfg's credentials
// (default guest/guest). Credentials in the URL's userinfo are used when
// cfg has none, and are never shown.
func NewManagementAPI(cfg ManagerConfig) *ManagementAPI {
	raw := cfg.URL
	if raw == "" {
		raw = os.Getenv(EnvManagementURL)
	}
	if raw == "" {
		raw = DefaultManagementURL
	}
	u, err := url.Parse(strings.TrimRight(raw, "/"))
	if err != nil || u.Host == "" {
		u = &url.URL{Scheme: "http", Host: "invalid.invalid"} // every call fails, with a clean error
	}
	user, pass := cfg.User, cfg.Password
	if user == "" && u.User != nil {
		user = u.User.Username()
		pass, _ = u.User.Password()
	}
	u.User = nil
	if user == "" {
		user, pass = DefaultManagementUser, DefaultManagementPass
	}
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: defaultManagementTimeout}
	}
	return &ManagementAPI{base: u, user: user, password: pass, client: client}
}

// HTTPError is an unexpected status from the management API.
type HTTPError struct {
	Method, Path string
	Status       int
	Body         string // the API's error reason, shortened
}

func (e *HTTPError) Error() string {
	msg := fmt.Sprintf("amqp: management API %s %s: %d %s", e.Method, e.Path, e.Status, http.StatusText(e.Status))
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// Probe checks that the API answers and accepts the credentials.
func (m *ManagementAPI) Probe(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, managementProbeTimeout)
	defer cancel()
	return m.do(ctx, http.MethodGet, "/api/whoami", nil, nil, http.StatusOK)
}

// CreateVhost is PUT /api/vhosts/<name>: 201 created, 204 existed (§14.6 M1).
func (m *ManagementAPI) CreateVhost(ctx context.Context, name string) error {
	return m.do(ctx, http.MethodPut, "/api/vhosts/"+url.PathEscape(name), struct{}{}, nil, http.StatusCreated, http.StatusNoContent)
}

// DeleteVhost is DELETE /api/vhosts/<name>; 404 means already gone.
func (m *ManagementAPI) DeleteVhost(ctx context.Context, name string) error {
	return m.do(ctx, http.MethodDelete, "/api/vhosts/"+url.PathEscape(name), nil, nil, http.StatusNoContent, http.StatusNotFound)
}

// CreateUser is PUT /api/users/<name> with the password and the tags:
// 201 created, 204 updated.
func (m *ManagementAPI) CreateUser(ctx context.Context, name, password string, tags ...string) error {
	body := map[string]string{"password": password, "tags": strings.Join(tags, ",")}
	return m.do(ctx, http.MethodPut, "/api/users/"+url.PathEscape(name), body, nil, http.StatusCreated, http.StatusNoContent)
}

// DeleteUser is DELETE /api/users/<name>; 404 means already gone.
func (m *ManagementAPI) DeleteUser(ctx context.Context, name string) error {
	return m.do(ctx, http.MethodDelete, "/api/users/"+url.PathEscape(name), nil, nil, http.StatusNoContent, http.StatusNotFound)
}

// SetPermissions is PUT /api/permissions/<vhost>/<user>: 201 or 204.
func (m *ManagementAPI) SetPermissions(ctx context.Context, vhost, user string, p Permissions) error {
	path := "/api/permissions/" + url.PathEscape(vhost) + "/" + url.PathEscape(user)
	return m.do(ctx, http.MethodPut, path, p, nil, http.StatusCreated, http.StatusNoContent)
}

// CloseConnections lists the vhost's connections and deletes each one
// with reason in the X-Reason header. The API lists connections from its
// statistics database, which lags a few seconds behind the broker: a
// connection opened just before may be missed (deleting the vhost closes
// every connection to it at once; rabbitmqctl has no such lag).
func (m *ManagementAPI) CloseConnections(ctx context.Context, vhost, reason string) error {
	var conns []struct {
		Name string `json:"name"`
	}
	err := m.do(ctx, http.MethodGet, "/api/vhosts/"+url.PathEscape(vhost)+"/connections", nil, &conns, http.StatusOK)
	if err != nil {
		return err
	}
	for _, c := range conns {
		err := m.doReason(ctx, http.MethodDelete, "/api/connections/"+url.PathEscape(c.Name), reason, http.StatusNoContent, http.StatusNotFound)
		if err != nil {
			return err
		}
	}
	return nil
}

func (m *ManagementAPI) do(ctx context.Context, method, path string, in, out any, ok ...int) error {
	return m.request(ctx, method, path, "", in, out, ok)
}

func (m *ManagementAPI) doReason(ctx context.Context, method, path, reason string, ok ...int) error {
	return m.request(ctx, method, path, reason, nil, nil, ok)
}

func (m *ManagementAPI) request(ctx context.Context, method, path, reason string, in, out any, ok []int) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("amqp: management API %s %s: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	// path is escaped already ("/" in a vhost name is %2F); url.Parse
	// keeps that escaping.
	req, err := http.NewRequestWithContext(ctx, method, m.base.String()+path, body)
	if err != nil {
		return fmt.Errorf("amqp: management API %s %s: %w", method, path, err)
	}
	req.SetBasicAuth(m.user, m.password)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if reason != "" {
		req.Header.Set("X-Reason", reason)
	}
	resp, err := m.client.Do(req)
	if err != nil {
		// *url.Error quotes the URL, which holds no credentials here.
		return fmt.Errorf("amqp: management API %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	for _, s := range ok {
		if resp.StatusCode == s {
			if out != nil && resp.StatusCode == http.StatusOK {
				if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
					return fmt.Errorf("amqp: management API %s %s: decode: %w", method, path, err)
				}
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			return nil
		}
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	return &HTTPError{Method: method, Path: path, Status: resp.StatusCode, Body: apiReason(b)}
}

// apiReason extracts the "reason" of a management API error body.
func apiReason(b []byte) string {
	var e struct {
		Error  string `json:"error"`
		Reason string `json:"reason"`
	}
	if json.Unmarshal(b, &e) == nil && (e.Reason != "" || e.Error != "") {
		return strings.TrimSpace(e.Error + ": " + e.Reason)
	}
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}
