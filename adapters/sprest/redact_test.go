package sprest_test

import (
	"strings"
	"testing"

	"github.com/manoctl/manoctl/adapters/sprest"
)

// TestURLErrorsHideThePassword: a repository or monitoring URL with
// credentials is refused, and no error quotes the password, whether the
// URL parses or not (docs/reliability.md, Security).
func TestURLErrorsHideThePassword(t *testing.T) {
	for _, raw := range []string{
		"http://user:s3cret@host:99x/records/",   // bad port: *url.Error quotes the URL
		"http://user:s3cret@[::1/records/",       // bad host
		"http://user:s3cret@/records/",           // no host
		"https://user:s3cret@host:4002/records/", // credentials
		"ftp://user:s3cret@host/",                // scheme
	} {
		for _, args := range [][3]string{{raw, "", ""}, {"", raw, ""}, {"", "", raw}} {
			_, err := sprest.FromURLs(args[0], args[1], args[2])
			if err == nil {
				t.Errorf("%s accepted", raw)
				continue
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error quotes the password: %v", err)
			}
		}
	}
}
