package sprest_test

import (
	"testing"

	"github.com/manoctl/manoctl/adapters/sprest"
)

func TestFromEnv(t *testing.T) {
	cases := []struct {
		name                  string
		env                   map[string]string
		nsr, vnfr, monitoring string
		err                   bool
	}{
		{name: "nothing set", env: map[string]string{}},
		{name: "empty values", env: map[string]string{"url_nsr_repository": " ", "url_monitoring_server": ""}},
		{
			// The values of the original's deployment scripts: paths are
			// rebuilt from scheme, host and port (§4.1, §6.1).
			name: "original deployment",
			env: map[string]string{
				"url_nsr_repository":    "http://sp.int3.sonata-nfv.eu:4002/records/nsr/",
				"url_vnfr_repository":   "http://sp.int3.sonata-nfv.eu:4002/records/vnfr/",
				"url_monitoring_server": "http://sp.int3.sonata-nfv.eu:8000/api/v1/",
			},
			nsr: "http://sp.int3.sonata-nfv.eu:4002/records/nsr/", vnfr: "http://sp.int3.sonata-nfv.eu:4002/records/vnfr/",
			monitoring: "http://sp.int3.sonata-nfv.eu:8000/api/v1/",
		},
		{
			name: "SLM default form",
			env:  map[string]string{"url_nsr_repository": "http://son-catalogue-repos:4011/api/v2/"},
			nsr:  "http://son-catalogue-repos:4011/records/nsr/", vnfr: "http://son-catalogue-repos:4011/records/vnfr/",
		},
		{
			name: "VNFR repository elsewhere",
			env:  map[string]string{"url_nsr_repository": "http://a:1/x", "url_vnfr_repository": "https://b:2/records/vnfr/?q=1"},
			nsr:  "http://a:1/records/nsr/", vnfr: "https://b:2/records/vnfr/",
		},
		{
			name: "only the VNFR repository",
			env:  map[string]string{"url_vnfr_repository": "http://son-catalogue-repos:4011/records/vnfr/"},
			nsr:  "http://son-catalogue-repos:4011/records/nsr/", vnfr: "http://son-catalogue-repos:4011/records/vnfr/",
		},
		{
			name: "no scheme, monitoring without slash",
			env:  map[string]string{"url_nsr_repository": "repos:4011", "url_monitoring_server": "http://mon:8000/api/v1"},
			nsr:  "http://repos:4011/records/nsr/", vnfr: "http://repos:4011/records/vnfr/", monitoring: "http://mon:8000/api/v1/",
		},
		{name: "monitoring only", env: map[string]string{"url_monitoring_server": "http://[::1]:8000/api/v1/"}, monitoring: "http://[::1]:8000/api/v1/"},
		{name: "bad scheme", env: map[string]string{"url_nsr_repository": "ftp://x/"}, err: true},
		{name: "no host", env: map[string]string{"url_monitoring_server": "http:///api/v1/"}, err: true},
		{name: "credentials", env: map[string]string{"url_vnfr_repository": "http://u:p@x/"}, err: true},
		{name: "unparsable", env: map[string]string{"url_nsr_repository": "http://x:port/"}, err: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := sprest.FromEnv(func(k string) (string, bool) { v, ok := c.env[k]; return v, ok })
			if (err != nil) != c.err {
				t.Fatalf("err %v", err)
			}
			if err != nil {
				return
			}
			if cfg.NSRBase != c.nsr || cfg.VNFRBase != c.vnfr || cfg.MonitoringBase != c.monitoring {
				t.Fatalf("got %q %q %q", cfg.NSRBase, cfg.VNFRBase, cfg.MonitoringBase)
			}
			if cfg.Enabled() != (c.nsr != "" || c.monitoring != "") || cfg.RecordsEnabled() != (c.nsr != "") || cfg.MonitoringEnabled() != (c.monitoring != "") {
				t.Fatalf("enabled flags wrong for %+v", cfg)
			}
		})
	}
}
