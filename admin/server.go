package admin

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/weftmesh/weft/admin/stats"
	"github.com/weftmesh/weft/admin/tap"
	"github.com/weftmesh/weft/discovery"
	"github.com/weftmesh/weft/security"
)

// Protocol is the protocol of the catalog endpoint where a member serves
// its admin endpoint.
const Protocol = "admin"

// Node is what the admin endpoint reads from the node it serves. Its
// methods are called from request goroutines, concurrently, and must not
// block for long.
type Node interface {
	// Status returns a snapshot of what the node sees.
	Status() Status
	// Draining reports that the node shuts down (/readyz answers 503).
	Draining() bool
	// Instances returns the mesh's live catalog entries, the node's own
	// included, as the node sees them.
	Instances() []*discovery.Instance
	// Members returns the gossip members, the node included, as the node
	// sees them. Their gossip addresses tell which members share the
	// node's host, and so may be asked on a loopback admin address.
	Members() []discovery.Member
}

// Config configures [Start].
type Config struct {
	// Listener is where the endpoint serves. Start takes it over: Close
	// closes it. With an identity, wrap it in a [security.Listener] so
	// that it accepts mutual TLS as well as plaintext.
	Listener net.Listener
	// Node is the node served. Required.
	Node Node
	// NodeName is the node's member name, to tell it from its peers.
	NodeName string
	// Stats counts the node's requests per edge; if nil, /weft/stats
	// answers 404 and the mesh view has no counts of this node.
	Stats *stats.Recorder
	// Tap streams the node's requests; if nil, /weft/tap answers 404.
	Tap *tap.Tap
	// Metrics serves /metrics; if nil, /metrics answers 404.
	Metrics http.Handler
	// Access returns who may read the endpoint; it is called for every
	// request, so that a policy reload applies at once. If nil, anyone
	// who reaches the endpoint may.
	Access func() Access
	// PeerTLS returns the client configuration to reach the admin
	// endpoint of an instance of service over mutual TLS; nil (or a nil
	// PeerTLS) fetches in plaintext.
	PeerTLS func(service string) *tls.Config
	// Logger receives the endpoint's errors. If nil, slog.Default().
	Logger *slog.Logger
}

// Access says who may read the endpoint.
type Access struct {
	// Protected requires, for everything but /healthz, /readyz and
	// /metrics, a caller that proved over mutual TLS an identity Allowed
	// accepts.
	Protected bool
	// Allowed reports whether a verified caller may read; nil allows none.
	Allowed func(spiffeid.ID) bool
	// Hint says how to get access, for the 403 answer.
	Hint string
}

// Server is a running admin endpoint.
type Server struct {
	cfg   Config
	srv   *http.Server
	done  chan struct{}
	peers peerClient
	once  sync.Once
}

// Start serves the admin endpoint on cfg.Listener until [Server.Close].
func Start(cfg Config) (*Server, error) {
	if cfg.Listener == nil || cfg.Node == nil {
		return nil, errors.New("admin: Config needs a Listener and a Node")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{cfg: cfg, done: make(chan struct{})}
	s.peers.tls = cfg.PeerTLS
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if cfg.Node.Draining() {
			http.Error(w, "draining", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	if cfg.Metrics != nil {
		mux.Handle("GET /metrics", cfg.Metrics)
	}
	mux.Handle("GET /debug/weft", s.guard(http.HandlerFunc(s.serveStatus)))
	mux.Handle("GET /weft/stats", s.guard(http.HandlerFunc(s.serveStats)))
	mux.Handle("GET /weft/mesh", s.guard(http.HandlerFunc(s.serveMesh)))
	mux.Handle("GET /weft/tap", s.guard(http.HandlerFunc(s.serveTap)))
	mux.Handle("GET /ui/", s.guard(uiHandler()))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ui/", http.StatusFound)
	})
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ConnContext: security.ConnContext}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(cfg.Listener); !errors.Is(err, http.ErrServerClosed) {
			cfg.Logger.Error("weft: admin endpoint stopped", "err", err)
		}
	}()
	return s, nil
}

// Addr returns the address the endpoint listens on.
func (s *Server) Addr() string { return s.cfg.Listener.Addr().String() }

// Close stops the endpoint at once, ending tap streams, and waits for it.
// It is idempotent.
func (s *Server) Close() {
	s.once.Do(func() {
		s.srv.Close()
		<-s.done
		s.peers.close()
	})
}

// guard refuses callers the access rules do not let in.
func (s *Server) guard(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.Access != nil {
			if err := s.cfg.Access().check(r); err != nil {
				http.Error(w, err.Error(), http.StatusForbidden)
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

func (a Access) check(r *http.Request) error {
	if !a.Protected {
		return nil
	}
	id, ok := security.PeerID(r.TLS)
	if !ok {
		return fmt.Errorf("admin: this endpoint requires mutual TLS with an allowed identity; %s", a.Hint)
	}
	if a.Allowed == nil || !a.Allowed(id) {
		return fmt.Errorf("admin: %s is not allowed; %s", id, a.Hint)
	}
	return nil
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func (s *Server) serveStatus(w http.ResponseWriter, r *http.Request) {
	st := s.cfg.Node.Status()
	if wantsHTML(r) {
		writeStatusHTML(w, st)
		return
	}
	writeJSON(w, st)
}

func (s *Server) serveStats(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Stats == nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(s.cfg.Stats.Snapshot())
}
