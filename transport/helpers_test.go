package transport_test

import (
	"net/http"

	"github.com/weftmesh/weft/internal/engine"
	"github.com/weftmesh/weft/transport"
	"github.com/weftmesh/weft/transport/observe"
	"github.com/weftmesh/weft/transport/route"
)

// router is a node's client side as the tests drive it: the engine and
// the HTTP clients over it.
type router struct {
	*engine.Engine
	http *transport.Clients
}

// routerConfig configures newTestRouter.
type routerConfig struct {
	Base   http.RoundTripper
	Source string
}

func newTestRouter(cfg routerConfig) *router {
	e := engine.New(engine.Config{Source: cfg.Source})
	return &router{Engine: e, http: transport.NewClients(transport.Config{Engine: e, Base: cfg.Base})}
}

// routing is the client side of a policy as a test writes it; its
// destinations get their defaults as the policy package gives them.
type routing struct {
	Destinations map[string]engine.DestinationConfig
	Default      engine.DestinationConfig
	Egress       transport.EgressConfig
	Routes       map[string]route.Config
}

func (r *router) UpdateRouting(rt routing) error {
	n := engine.Routing{Default: rt.Default.WithDefaults(), Routes: rt.Routes, Destinations: make(map[string]engine.DestinationConfig)}
	for name, d := range rt.Destinations {
		n.Destinations[name] = d.WithDefaults()
	}
	if err := r.Engine.UpdateRouting(n); err != nil {
		return err
	}
	r.http.SetEgress(rt.Egress)
	return nil
}

func (r *router) client(service string) http.RoundTripper { return r.http.RoundTripper(service, nil) }

func (r *router) Endpoints(service string) []string { return r.http.Endpoints(service) }

func (r *router) Destinations() []observe.DestinationStatus { return r.http.Status() }

func (r *router) CloseIdleConnections() { r.http.CloseIdleConnections() }

func (r *router) Close() {
	r.Engine.Close()
	r.http.CloseIdleConnections()
}
