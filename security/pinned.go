package security

import (
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
)

// pinnedSource holds a provider to the one ID the node must present. A
// provider that later hands out an SVID for another ID (a rotated file
// holding some other service's certificate) is not followed: the last SVID
// with the right ID is kept while it is valid, and the mistake is logged.
type pinnedSource struct {
	Source
	want   spiffeid.ID
	logger *slog.Logger
	good   atomic.Pointer[x509svid.SVID] // the newest SVID for want
	bad    atomic.Pointer[x509svid.SVID] // the last one refused, logged once
}

func pin(src Source, want spiffeid.ID, logger *slog.Logger) *pinnedSource {
	return &pinnedSource{Source: src, want: want, logger: logger}
}

func (p *pinnedSource) GetX509SVID() (*x509svid.SVID, error) {
	svid, err := p.Source.GetX509SVID()
	if err != nil {
		return nil, err
	}
	if svid.ID == p.want {
		p.good.Store(svid)
		return svid, nil
	}
	if p.bad.Swap(svid) != svid {
		p.logger.Error("weft: the identity provider now gives an SVID for another ID; keeping the last one for this service until it expires",
			"got", svid.ID, "want", p.want)
	}
	if good := p.good.Load(); good != nil && time.Now().Before(good.Certificates[0].NotAfter) {
		return good, nil
	}
	return nil, fmt.Errorf("security: the identity provider gives an SVID for %s, but this node must present %s", svid.ID, p.want)
}
