package transport_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/weftmesh/weft/internal/inbound"
	"github.com/weftmesh/weft/transport"
)

func TestInbound(t *testing.T) {
	var g inbound.Gate
	in := transport.NewInbound(&g)
	var flushable bool
	h := in.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if got := g.InFlight(); got != 1 {
			t.Errorf("in flight during the request = %d, want 1", got)
		}
		_, flushable = w.(http.Flusher)
	}))

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if !flushable {
		t.Error("the ResponseWriter lost http.Flusher")
	}
	if rec.Header().Get("Connection") != "" {
		t.Error("Connection header set while not draining")
	}

	g.SetDraining(true)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Header().Get("Connection") != "close" {
		t.Error("draining response does not ask the client to close the connection")
	}
	if g.Served() != 2 || g.InFlight() != 0 {
		t.Errorf("served %d, in flight %d; want 2 and 0", g.Served(), g.InFlight())
	}
}
