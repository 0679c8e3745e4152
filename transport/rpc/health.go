package rpc

import (
	"context"
	"sync"

	"google.golang.org/grpc/health"
	healthgrpc "google.golang.org/grpc/health/grpc_health_v1"
)

// Health is the standard gRPC health service (grpc.health.v1.Health) of a
// node's servers, whose Watch streams end when the node stops serving
// ([Health.EndWatches]): long-lived health watches must not hold up a
// graceful stop, which waits for every stream. Health checks skip
// authorization and limits (see [ServerOptions]).
type Health struct {
	*health.Server
	stop     chan struct{}
	stopOnce sync.Once
}

// NewHealth returns a health service that reports every service as
// serving once told so with SetServingStatus.
func NewHealth() *Health {
	return &Health{Server: health.NewServer(), stop: make(chan struct{})}
}

// EndWatches ends every Watch stream, now and from now on. It is
// idempotent.
func (h *Health) EndWatches() { h.stopOnce.Do(func() { close(h.stop) }) }

// Watch implements the health service's Watch, ending it when the node
// stops serving.
func (h *Health) Watch(req *healthgrpc.HealthCheckRequest, stream healthgrpc.Health_WatchServer) error {
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	go func() {
		select {
		case <-h.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	return h.Server.Watch(req, &watchStream{Health_WatchServer: stream, ctx: ctx})
}

type watchStream struct {
	healthgrpc.Health_WatchServer
	ctx context.Context
}

func (w *watchStream) Context() context.Context { return w.ctx }
