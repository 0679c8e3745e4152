package security

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"github.com/weftmesh/weft/security/devca"
	"github.com/weftmesh/weft/security/files"
	"github.com/weftmesh/weft/security/workload"
)

// ErrNoIdentity is returned by [Open] for a configuration that names no
// identity provider.
var ErrNoIdentity = errors.New("security: no identity provider configured")

// Identity is a node's SPIFFE identity: its provider, the ID it presents,
// the template that maps other services to theirs, and the TLS
// configurations built on them. It is safe for concurrent use.
type Identity struct {
	src    Source
	id     spiffeid.ID
	tmpl   Template
	server *tls.Config
	logger *slog.Logger

	mu      sync.Mutex // guards clients
	clients map[spiffeid.ID]*tls.Config

	stop chan struct{}
	wg   sync.WaitGroup
	once sync.Once
}

// Open starts the provider cfg names and waits, within ctx, for the first
// SVID of service. td is the mesh's trust domain. The SVID must carry the
// ID that cfg's template gives service: callers check exactly that ID.
//
// When no SVID arrives before ctx ends, the error says why (no Workload
// API at the socket, no registration entry, unreadable files).
func Open(ctx context.Context, cfg Config, td spiffeid.TrustDomain, service string, logger *slog.Logger) (*Identity, error) {
	if !cfg.Enabled() {
		return nil, ErrNoIdentity
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	tmpl, err := ParseTemplate(cfg.IDTemplate, td)
	if err != nil {
		return nil, err
	}
	id, err := tmpl.ID(service)
	if err != nil {
		return nil, err
	}
	var src Source
	switch i := cfg.Identity; {
	case i.SPIFFE != nil:
		src, err = workload.New(ctx, *i.SPIFFE, id, logger)
	case i.Files != nil:
		src, err = files.New(*i.Files, logger)
	case i.Dev != nil:
		src, err = devca.NewSource(*i.Dev, id, logger)
	}
	if err != nil {
		return nil, fmt.Errorf("security: identity of %s: %w", service, err)
	}
	svid, err := src.GetX509SVID()
	if err == nil && svid.ID != id {
		err = fmt.Errorf("security: the SVID is for %s, but %s must present %s (see security.idTemplate)", svid.ID, service, id)
	}
	if err != nil {
		src.Close()
		return nil, err
	}
	return newIdentity(pin(src, id, logger), id, tmpl, logger), nil
}

// NewIdentity returns the identity id backed by src, for a source made
// outside [Open]. It takes ownership of src: Close closes it.
func NewIdentity(src Source, id spiffeid.ID, tmpl Template, logger *slog.Logger) *Identity {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return newIdentity(pin(src, id, logger), id, tmpl, logger)
}

func newIdentity(src Source, id spiffeid.ID, tmpl Template, logger *slog.Logger) *Identity {
	i := &Identity{
		src:     src,
		id:      id,
		tmpl:    tmpl,
		server:  ServerTLS(src),
		logger:  logger,
		clients: make(map[spiffeid.ID]*tls.Config),
		stop:    make(chan struct{}),
	}
	i.wg.Add(1)
	go i.watchExpiry()
	return i
}

// ID returns the SPIFFE ID the node presents.
func (i *Identity) ID() spiffeid.ID { return i.id }

// Template returns the mapping between service names and SPIFFE IDs.
func (i *Identity) Template() Template { return i.tmpl }

// Source returns the node's SVID and bundle provider.
func (i *Identity) Source() Source { return i.src }

// ServerTLS returns the configuration of the node's mesh listeners.
func (i *Identity) ServerTLS() *tls.Config { return i.server }

// ClientTLS returns the configuration for connections to service's
// instances, which must present the ID the template gives service. The
// same service always gets the same *tls.Config.
func (i *Identity) ClientTLS(service string) (*tls.Config, error) {
	want, err := i.tmpl.ID(service)
	if err != nil {
		return nil, err
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	c, ok := i.clients[want]
	if !ok {
		c = ClientTLS(i.src, want)
		i.clients[want] = c
	}
	return c, nil
}

// Expiry returns when the current SVID expires; zero if there is none.
func (i *Identity) Expiry() time.Time {
	svid, err := i.src.GetX509SVID()
	if err != nil {
		return time.Time{}
	}
	return svid.Certificates[0].NotAfter
}

// Close stops the expiry watch and the provider. It is idempotent.
func (i *Identity) Close() error {
	var err error
	i.once.Do(func() {
		close(i.stop)
		i.wg.Wait()
		err = i.src.Close()
	})
	return err
}

// watchExpiry warns when the SVID was not renewed in time: providers renew
// at half of its lifetime, so an SVID with less than a third left means
// renewals are failing, and connections will fail when it expires.
func (i *Identity) watchExpiry() {
	defer i.wg.Done()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var (
		current *x509svid.SVID // the SVID being watched
		seen    time.Time      // when it was first seen
		warned  bool           // whether it was warned about
	)
	if svid, err := i.src.GetX509SVID(); err == nil {
		current, seen = svid, time.Now()
	}
	for {
		select {
		case <-i.stop:
			return
		case <-tick.C:
		}
		svid, err := i.src.GetX509SVID()
		if err != nil {
			continue
		}
		leaf := svid.Certificates[0]
		if svid != current {
			current, seen, warned = svid, time.Now(), false
		}
		// Issuers backdate NotBefore for clock skew (SPIRE by 10 s, the
		// development CA by a minute): the life that matters starts when
		// the SVID arrived, or at NotBefore if that is later.
		start := seen
		if leaf.NotBefore.After(start) {
			start = leaf.NotBefore
		}
		life := leaf.NotAfter.Sub(start)
		left := time.Until(leaf.NotAfter)
		if left > life/3 || warned {
			continue
		}
		warned = true
		if left <= 0 {
			i.logger.Error("weft: the SVID has expired and was not renewed: mesh connections fail until it is", "id", i.id, "expired", leaf.NotAfter)
			continue
		}
		i.logger.Warn("weft: the SVID was not renewed in time: check the identity provider", "id", i.id, "expires_in", left.Round(time.Second))
	}
}
