package mesh_test

import (
	"context"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/weftmesh/weft/mesh"
	"github.com/weftmesh/weft/mesh/meshtest"
)

func TestStartRejectsBadPolicyListingEveryProblem(t *testing.T) {
	path := writePolicy(t, `version: 2
mesh: {name: Shop}
defaults: {loadBalancer: fastest, timeout: soon}
services:
  payments: {inbound: {authorization: {mode: never}}, colour: blue}
`)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := mesh.Start(ctx, mesh.Config{Service: "a", PolicyFile: path, Logger: meshtest.New(t).Logger})
	if err == nil {
		t.Fatal("Start accepted a bad policy")
	}
	for _, want := range []string{
		path + ":1:10:", // version
		path + ":2:14:", // mesh.name
		path + ":3:26:", // loadBalancer
		path + ":3:44:", // timeout
		path + ":5:46:", // authorization.mode
		path + ":5:55:", // unknown key
		`"never"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not contain %q:\n%v", want, err)
		}
	}
}

func TestPolicyHotReload(t *testing.T) {
	outside := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer outside.Close()
	host, _, _ := net.SplitHostPort(outside.Listener.Addr().String())

	path := writePolicy(t, "version: 1\negress: {allow: []}\n")
	m := meshtest.New(t)
	n := m.Start(mesh.Config{Service: "client", PolicyFile: path})
	hc := n.NewClient("anything")

	if _, err := hc.Get(outside.URL); !errors.Is(err, mesh.ErrEgressDenied) {
		t.Fatalf("egress before reload: err = %v, want ErrEgressDenied", err)
	}

	// A good change applies to new requests within a second.
	replacePolicy(t, path, "version: 1\negress: {allow: ["+host+"]}\n")
	start := time.Now()
	meshtest.WaitFor(t, time.Second, "reloaded egress allow-list", func() bool {
		resp, err := hc.Get(outside.URL)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return true
	})
	t.Logf("reload applied after %v", time.Since(start).Round(time.Millisecond))
	applied := n.Status().Policy
	if applied.Applied != 1 {
		t.Errorf("reloads applied = %d, want 1", applied.Applied)
	}

	// A broken change is rejected, counted, and the old policy stays.
	replacePolicy(t, path, "version: 1\negress: {allow: "+host+"}\nbogus: true\n")
	meshtest.WaitFor(t, 2*time.Second, "rejected reload", func() bool { return n.Status().Policy.Rejected == 1 })
	st := n.Status().Policy
	if st.SHA256 != applied.SHA256 {
		t.Errorf("policy hash changed to %s after a rejected reload", st.SHA256)
	}
	if !strings.Contains(st.LastError, "bogus") {
		t.Errorf("last error %q does not mention the bad key", st.LastError)
	}
	resp, err := hc.Get(outside.URL)
	if err != nil {
		t.Fatalf("old policy not kept: %v", err)
	}
	resp.Body.Close()
}

func TestWrongGossipKeyCannotSeeOrInject(t *testing.T) {
	key := func(b byte) string { return base64.StdEncoding.EncodeToString([]byte(strings.Repeat(string(b), 32))) }
	good := writePolicy(t, "version: 1\nmesh: {name: shop, gossipKey: \""+key('a')+"\"}\n")
	bad := writePolicy(t, "version: 1\nmesh: {name: shop, gossipKey: \""+key('b')+"\"}\n")
	clear := writePolicy(t, "version: 1\nmesh: {name: shop}\n")

	m := meshtest.New(t)
	m.PolicyFile = good
	var c counter
	m.Serve(mesh.Config{Service: "payments"}, named(&c, "genuine"))
	client := m.Start(mesh.Config{Service: "checkout"})
	meshtest.WaitEndpoints(t, client, "payments", 1)

	for _, tc := range []struct{ name, policy string }{{"wrong key", bad}, {"no key", clear}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_, err := mesh.Start(ctx, mesh.Config{
				Service: "payments", GossipAddr: "127.0.0.1:0", PolicyFile: tc.policy,
				Join: []string{client.GossipAddr()}, Logger: m.Logger,
			})
			if err == nil || !strings.Contains(err.Error(), client.GossipAddr()) {
				t.Fatalf("intruder joined, or the error does not name the seed: %v", err)
			}
			// A lone intruder that announces payments must not reach the mesh.
			intruder := meshtest.New(t)
			intruder.PolicyFile = tc.policy
			impostor := intruder.Serve(mesh.Config{Service: "payments"}, named(&c, "impostor"))
			intruderClient := intruder.Start(mesh.Config{Service: "spy", Join: []string{impostor.GossipAddr(), client.GossipAddr()}})
			if got := intruderClient.Catalog().Has("checkout"); got {
				t.Errorf("intruder sees the mesh's services")
			}
			hc := client.NewClient("payments")
			for range 50 {
				if body, err := get(hc, "http://payments/"); err != nil || body != "genuine" {
					t.Fatalf("request reached %q (err %v)", body, err)
				}
			}
			if got := len(client.Endpoints("payments")); got != 1 {
				t.Errorf("mesh balances over %d payments endpoints, want 1", got)
			}
		})
	}
}
