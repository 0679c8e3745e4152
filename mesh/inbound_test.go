package mesh_test

import (
	"io"
	"net/http"
	"testing"

	"github.com/weftmesh/weft/mesh"
	"github.com/weftmesh/weft/mesh/meshtest"
)

func TestInboundLimits(t *testing.T) {
	m := meshtest.New(t)
	m.PolicyFile = writePolicy(t, `version: 1
mesh: {name: test}
defaults: {retries: {attempts: 1}}
services:
  api:
    inbound:
      rateLimit: {perCaller: {rps: 1, burst: 5}}
      maxConcurrent: 1
`)
	release := make(chan struct{})
	entered := make(chan struct{}, 10)
	api := m.Serve(mesh.Config{Service: "api"}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			entered <- struct{}{}
			<-release
		}
		io.WriteString(w, "ok")
	}))
	greedy := m.Start(mesh.Config{Service: "greedy"})
	polite := m.Start(mesh.Config{Service: "polite"})
	meshtest.WaitEndpoints(t, greedy, "api", 1)
	meshtest.WaitEndpoints(t, polite, "api", 1)

	status := func(n *mesh.Node, path string) (int, string) {
		resp, err := n.NewClient("api").Get("http://api" + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, resp.Header.Get("Retry-After")
	}
	for i := range 5 {
		if code, _ := status(greedy, "/"); code != 200 {
			t.Fatalf("request %d within the burst answered %d", i, code)
		}
	}
	code, retryAfter := status(greedy, "/")
	if code != http.StatusTooManyRequests || retryAfter == "" {
		t.Errorf("request past the burst answered %d with Retry-After %q, want 429 with Retry-After", code, retryAfter)
	}
	if code, _ := status(polite, "/"); code != 200 {
		t.Errorf("another caller answered %d: per-caller limits leaked across callers", code)
	}

	done := make(chan int)
	go func() {
		c, _ := status(polite, "/hold")
		done <- c
	}()
	<-entered
	if code, retryAfter := status(polite, "/"); code != http.StatusServiceUnavailable || retryAfter == "" {
		t.Errorf("request over maxConcurrent answered %d with Retry-After %q, want 503 with Retry-After", code, retryAfter)
	}
	close(release)
	if c := <-done; c != 200 {
		t.Errorf("held request answered %d", c)
	}
	rejected := api.Status().Inbound.Rejected
	if rejected["caller_rate"] != 1 || rejected["concurrency"] != 1 {
		t.Errorf("rejections counted %v, want one caller_rate and one concurrency", rejected)
	}
}
