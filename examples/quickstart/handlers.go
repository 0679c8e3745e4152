package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/weftmesh/weft/mesh"
)

// handlerFor returns the handler of the service spec names. Each one does
// a few milliseconds of simulated work and calls the services downstream
// of it through the node's mesh clients, passing the inbound request's
// context on so that its deadline and cancellation flow downstream.
func handlerFor(spec instanceSpec, n *mesh.Node) http.Handler {
	mux := http.NewServeMux()
	switch spec.service {
	case "frontend":
		inventory, checkout := n.NewClient("inventory"), n.NewClient("checkout")
		mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
			item := rand.IntN(1000)
			if !work(w, r, time.Millisecond, 3*time.Millisecond) {
				return
			}
			if err := call(r.Context(), inventory, fmt.Sprintf("http://inventory/stock?item=%d", item)); err != nil {
				http.Error(w, "frontend: "+err.Error(), http.StatusBadGateway)
				return
			}
			if err := call(r.Context(), checkout, fmt.Sprintf("http://checkout/order?item=%d", item)); err != nil {
				http.Error(w, "frontend: "+err.Error(), http.StatusBadGateway)
				return
			}
			fmt.Fprintf(w, "order for item %d placed\n", item)
		})
	case "checkout":
		payments := n.NewClient("payments")
		mux.HandleFunc("GET /order", func(w http.ResponseWriter, r *http.Request) {
			if !work(w, r, 2*time.Millisecond, 5*time.Millisecond) {
				return
			}
			if err := call(r.Context(), payments, "http://payments/charge?cents=1999"); err != nil {
				http.Error(w, "checkout: "+err.Error(), http.StatusBadGateway)
				return
			}
			fmt.Fprintln(w, "order confirmed")
		})
	case "payments":
		// v2 is the faster rewrite: least-request balancing gives it more
		// than its share.
		lo, hi := 3*time.Millisecond, 8*time.Millisecond
		if spec.version == "v2" {
			lo, hi = time.Millisecond, 4*time.Millisecond
		}
		mux.HandleFunc("GET /charge", func(w http.ResponseWriter, r *http.Request) {
			if !work(w, r, lo, hi) {
				return
			}
			fmt.Fprintf(w, "charged by payments %s\n", spec.version)
		})
	case "inventory":
		mux.HandleFunc("GET /stock", func(w http.ResponseWriter, r *http.Request) {
			if !work(w, r, time.Millisecond, 3*time.Millisecond) {
				return
			}
			fmt.Fprintf(w, "item %s: %d in stock\n", r.URL.Query().Get("item"), rand.IntN(50))
		})
	}
	return mux
}

// work simulates between lo and hi of processing. If the request is
// cancelled first, it answers 503 and returns false.
func work(w http.ResponseWriter, r *http.Request, lo, hi time.Duration) bool {
	t := time.NewTimer(lo + rand.N(hi-lo))
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		http.Error(w, "cancelled: "+context.Cause(r.Context()).Error(), http.StatusServiceUnavailable)
		return false
	}
}

// call GETs url with c and reads the whole response, which must be a 200.
func call(ctx context.Context, c *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		// The body of an error says why, down the chain of calls.
		why, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		io.Copy(io.Discard, resp.Body)
		return fmt.Errorf("%s answered %s: %s", req.URL.Host, resp.Status, strings.TrimSpace(string(why)))
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return fmt.Errorf("read %s response: %w", req.URL.Host, err)
	}
	return nil
}
