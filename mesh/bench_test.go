package mesh_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/weftmesh/weft/mesh"
	"github.com/weftmesh/weft/mesh/meshtest"
)

var okHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })

// BenchmarkRequest compares one GET over loopback through plain net/http
// with the same GET through a Weft client and server, in plaintext and
// with (mutual) TLS on kept-alive connections: one caller at a time
// (serial), one per core (parallel) and 16 callers at once (c16).
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
	b.Run("net-http-mtls", func(b *testing.B) {
		serverTLS, clientTLS := rawMTLS(b)
		srv := httptest.NewUnstartedServer(okHandler)
		srv.TLS = serverTLS
		srv.StartTLS()
		defer srv.Close()
		tr := &http.Transport{TLSClientConfig: clientTLS, MaxIdleConnsPerHost: 128}
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

// BenchmarkProtocol compares HTTP/1.1 with HTTP/2 between two Weft nodes,
// in plaintext (h2c) and over mutual TLS, with one caller at a time and
// with 16 callers at once.
func BenchmarkProtocol(b *testing.B) {
	for _, mtls := range []bool{false, true} {
		for _, protocol := range []string{"http1", "h2"} {
			name := protocol
			if mtls {
				name += "-mtls"
			}
			b.Run(name, func(b *testing.B) {
				m := protoMesh(b, map[string]string{"http1": "http/1.1", "h2": "h2"}[protocol], mtls, "")
				m.Serve(mesh.Config{Service: "echo"}, okHandler)
				client := m.Start(mesh.Config{Service: "client"})
				meshtest.WaitEndpoints(b, client, "echo", 1)
				c := client.NewClient("echo")
				b.Run("c1", func(b *testing.B) { serial(b, c, "http://echo/") })
				b.Run("c16", func(b *testing.B) { concurrent(b, 16, c, "http://echo/") })
			})
		}
	}
}

func run(b *testing.B, c *http.Client, url string) {
	b.Run("serial", func(b *testing.B) { serial(b, c, url) })
	b.Run("parallel", func(b *testing.B) { concurrent(b, 0, c, url) })
	b.Run("c16", func(b *testing.B) { concurrent(b, 16, c, url) })
}

// serial sends one request at a time.
func serial(b *testing.B, c *http.Client, url string) {
	b.ReportAllocs()
	cpu := startCPU()
	for b.Loop() {
		mustGet(b, c, url)
	}
	cpu.report(b)
}

// concurrent sends requests from callers goroutines at once (one per
// core when 0), on kept-alive connections.
func concurrent(b *testing.B, callers int, c *http.Client, url string) {
	b.ReportAllocs()
	if callers > 0 {
		// RunParallel starts parallelism × GOMAXPROCS goroutines.
		procs := runtime.GOMAXPROCS(0)
		b.SetParallelism((callers + procs - 1) / procs)
	}
	cpu := startCPU()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			mustGet(b, c, url)
		}
	})
	cpu.report(b)
}

// cpuClock reads the CPU time the process used, client and server and
// everything else in it, to report CPU per request beside wall time.
type cpuClock struct{ start time.Duration }

func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func startCPU() cpuClock { return cpuClock{processCPU()} }

// report adds the CPU time per request, in microseconds, to b's results.
func (c cpuClock) report(b *testing.B) {
	b.ReportMetric(float64(processCPU()-c.start)/float64(time.Microsecond)/float64(b.N), "cpu-µs/op")
}

func mustGet(b *testing.B, c *http.Client, url string) {
	resp, err := c.Get(url)
	if err != nil {
		b.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}
