package placement

import (
	"net"
	"net/netip"
	"net/url"
	"strings"
)

// ipv4Of extracts the IPv4 address of an endpoint or NAP: a bare address,
// host:port, a URL, or an address with a prefix length. Host names are not
// resolved (placement does no I/O): they give no address, and so no
// proximity reward.
func ipv4Of(s string) ([4]byte, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return [4]byte{}, false
	}
	if a, ok := parse4(s); ok {
		return a, true
	}
	if strings.Contains(s, "://") {
		if u, err := url.Parse(s); err == nil {
			return parse4(u.Hostname())
		}
	}
	if host, _, err := net.SplitHostPort(s); err == nil {
		return parse4(host)
	}
	if p, err := netip.ParsePrefix(s); err == nil {
		return parse4(p.Addr().String())
	}
	return [4]byte{}, false
}

func parse4(s string) ([4]byte, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return [4]byte{}, false
	}
	a = a.Unmap()
	if !a.Is4() {
		return [4]byte{}, false
	}
	return a.As4(), true
}

// commonOctets is the number of leading octets a and b share, 0 to 4: the
// 2018 model's distance between two addresses.
func commonOctets(a, b [4]byte) int {
	n := 0
	for n < 4 && a[n] == b[n] {
		n++
	}
	return n
}
