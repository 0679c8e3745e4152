package mesh_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/weftmesh/weft/mesh"
	"github.com/weftmesh/weft/mesh/meshtest"
)

var okHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })

// BenchmarkRequest compares one GET over loopback through plain net/http
// with the same GET through a Weft client and server, in plaintext and
// with (mutual) TLS on kept-alive connections.
func BenchmarkRequest(b *testing.B) {
	b.Run("net-http", func(b *testing.B) {
		srv := httptest.NewServer(okHandler)
		defer srv.Close()
		tr := &http.Transport{MaxIdleConnsPerHost: 128}
		defer tr.CloseIdleConnections()
		run(b, &http.Client{Transport: tr}, srv.URL)
	})
	b.Run("weft", func(b *testing.B) {
		m := meshtest.New(b)
		m.Serve(mesh.Config{Service: "echo"}, okHandler)
		client := m.Start(mesh.Config{Service: "client"})
		meshtest.WaitEndpoints(b, client, "echo", 1)
		run(b, client.NewClient("echo"), "http://echo/")
	})
	b.Run("net-http-tls", func(b *testing.B) {
		srv := httptest.NewTLSServer(okHandler)
		defer srv.Close()
		tr := srv.Client().Transport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 128
		defer tr.CloseIdleConnections()
		run(b, &http.Client{Transport: tr}, srv.URL)
	})
	b.Run("weft-mtls", func(b *testing.B) {
		_, caDir := meshtest.DevCA(b)
		m := meshtest.New(b)
		m.PolicyFile = meshtest.SecurePolicy(b, caDir, "")
		m.Serve(mesh.Config{Service: "echo"}, okHandler)
		client := m.Start(mesh.Config{Service: "client"})
		meshtest.WaitEndpoints(b, client, "echo", 1)
		run(b, client.NewClient("echo"), "http://echo/")
	})
}

func run(b *testing.B, c *http.Client, url string) {
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			mustGet(b, c, url)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				mustGet(b, c, url)
			}
		})
	})
}

func mustGet(b *testing.B, c *http.Client, url string) {
	resp, err := c.Get(url)
	if err != nil {
		b.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}
