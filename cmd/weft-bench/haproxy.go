package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/weftmesh/weft/internal/proctest"
)

// The marks the sidecars add to every answer (viaHeader). The second one
// is written by HAProxy B from the connection it received: "mtls 1 0"
// says that the client presented a certificate (ssl_c_used) and that it
// verified (ssl_c_verify is 0).
const (
	sidecarAMark = "haproxy-a"
	sidecarBMark = "haproxy-b mtls 1 0"
)

// sidecarConfigs returns the configurations of the two HAProxy processes
// of the sidecar pair: A takes plain HTTP from the client on aAddr and
// sends it over mutual TLS to B on bAddr, which passes it in plain HTTP to
// the server at serverAddr. Both use the certificates of the modes that
// secure plain Go by hand, one thread each, kept-alive HTTP/1.1
// connections on every hop, and server connections shared among clients
// (http-reuse always).
func sidecarConfigs(w workdir, aAddr, bAddr, serverAddr string) (a, b string) {
	// TLS 1.3 with the suite Go chooses on hardware with AES
	// instructions, so that both sides pay for the same cipher.
	const common = `global
    nbthread 1
    maxconn 4096
    ssl-default-bind-options ssl-min-ver TLSv1.3
    ssl-default-bind-ciphersuites TLS_AES_128_GCM_SHA256
    ssl-default-server-options ssl-min-ver TLSv1.3
    ssl-default-server-ciphersuites TLS_AES_128_GCM_SHA256

defaults
    mode http
    option http-keep-alive
    http-reuse always
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout http-keep-alive 60s
`
	a = common + fmt.Sprintf(`
frontend from_client
    bind %s
    http-response add-header %s %s
    default_backend to_b

backend to_b
    server b %s ssl crt %s ca-file %s verify required
`, aAddr, viaHeader, sidecarAMark, bAddr, w.pemPath(clientService), w.bundlePath())
	b = common + fmt.Sprintf(`
frontend from_a
    bind %s ssl crt %s ca-file %s verify required
    http-response add-header %s "haproxy-b mtls %%[ssl_c_used] %%[ssl_c_verify]"
    default_backend to_server

backend to_server
    server app %s
`, bAddr, w.pemPath(serverService), w.bundlePath(), viaHeader, serverAddr)
	return a, b
}

// startSidecars starts the HAProxy pair in front of serverAddr and returns
// the address of A and the processes, B first. Processes already started
// are returned with an error too, for the caller to stop.
func startSidecars(ctx context.Context, bin string, w workdir, name, serverAddr string) (string, []*proctest.Process, error) {
	ports, err := proctest.FreePorts(2)
	if err != nil {
		return "", nil, err
	}
	aAddr, bAddr := fmt.Sprintf("127.0.0.1:%d", ports[0]), fmt.Sprintf("127.0.0.1:%d", ports[1])
	aConf, bConf := sidecarConfigs(w, aAddr, bAddr, serverAddr)
	var procs []*proctest.Process
	for _, s := range []struct{ role, conf, addr string }{{"haproxy-b", bConf, bAddr}, {"haproxy-a", aConf, aAddr}} {
		path := w.path(name + "-" + s.role + ".cfg")
		if err := os.WriteFile(path, []byte(s.conf), 0o600); err != nil {
			return "", procs, err
		}
		p, err := proctest.Start(proctest.Config{Name: s.role, Bin: bin, Args: []string{"-db", "-f", path}, LogPath: w.logPath(name + "-" + s.role)})
		if err != nil {
			return "", procs, err
		}
		procs = append(procs, p)
		if err := awaitListening(ctx, p, s.addr); err != nil {
			return "", procs, err
		}
	}
	return aAddr, procs, nil
}

// awaitListening waits until addr accepts connections, failing early if p
// exits.
func awaitListening(ctx context.Context, p *proctest.Process, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-p.Done():
			return p.Failure(fmt.Errorf("exited before listening on %s", addr))
		case <-ctx.Done():
			return p.Failure(fmt.Errorf("not listening on %s: %w", addr, ctx.Err()))
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// haproxyVersion returns "HAProxy" and the version "haproxy -v" prints.
func haproxyVersion(bin string) (string, error) {
	out, err := exec.Command(bin, "-v").Output()
	if err != nil {
		return "", fmt.Errorf("%s -v: %w", bin, err)
	}
	// "HAProxy version 2.6.12-1+deb12u4 2026/10/17 - https://haproxy.org/"
	f := strings.Fields(string(out))
	if len(f) < 3 || f[1] != "version" {
		return "", fmt.Errorf("%s -v printed %q, not HAProxy's version", bin, out)
	}
	return "HAProxy " + f[2], nil
}

// findHAProxy returns the HAProxy binary to run: flag, else $WEFT_HAPROXY,
// else haproxy on the PATH or in /usr/sbin. The error says how to install it.
func findHAProxy(flag string) (string, error) {
	for _, p := range []string{flag, os.Getenv(envHAProxy)} {
		if p != "" {
			if _, err := os.Stat(p); err != nil {
				return "", fmt.Errorf("haproxy: %w", err)
			}
			return p, nil
		}
	}
	if p, err := exec.LookPath("haproxy"); err == nil {
		return p, nil
	}
	if _, err := os.Stat("/usr/sbin/haproxy"); err == nil {
		return "/usr/sbin/haproxy", nil
	}
	why := "haproxy is not installed"
	if m := os.Getenv(envHAProxyMissing); m != "" {
		why += ": " + m
	}
	return "", errors.New(why + "; install it with scripts/install-packages (apt-get install haproxy), or leave out mode haproxy-pair")
}

// Environment variables scripts/install-packages sets.
const (
	envHAProxy        = "WEFT_HAPROXY"
	envHAProxyMissing = "WEFT_HAPROXY_MISSING"
)
