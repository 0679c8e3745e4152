package workload

import (
	"fmt"
	"net/url"
	"os"
	"path"

	"github.com/spiffe/go-spiffe/v2/workloadapi"

	"github.com/weftmesh/weft/internal/fielderr"
)

// SocketEnv is the environment variable that names the Workload API
// address when [Config.Socket] is empty, as the SPIFFE standard defines.
const SocketEnv = workloadapi.SocketEnv

// Config says where the Workload API is. The policy decodes into it
// (key `security.identity.spiffe`).
type Config struct {
	// Socket is the Workload API address: "unix:///run/spire/agent.sock"
	// for a unix socket (an absolute path), or "tcp://127.0.0.1:8081" for
	// TCP (an IP and a port). If empty, $SPIFFE_ENDPOINT_SOCKET; when
	// that is empty too, [New] fails with [ErrNoAddress].
	Socket string `yaml:"socket"`
}

// Validate checks that Socket, when set, is an address the Workload API
// client can dial.
func (c Config) Validate() error {
	var es fielderr.List
	if c.Socket != "" {
		if msg := checkAddress(c.Socket); msg != "" {
			es.Add("socket", "%s", msg)
		}
	}
	return es.Prefix("spiffe").Err()
}

// address returns the configured address, or the one in the environment.
func (c Config) address() string {
	if c.Socket != "" {
		return c.Socket
	}
	return os.Getenv(SocketEnv)
}

// checkAddress returns "" when addr is a valid Workload API address, or
// what is wrong with it and what to write instead.
func checkAddress(addr string) string {
	const want = "write unix:///path/to/agent.sock or tcp://IP:port"
	if err := workloadapi.ValidateAddress(addr); err != nil {
		return fmt.Sprintf("invalid Workload API address %q (%v): %s", addr, err, want)
	}
	// go-spiffe passes unix URLs to gRPC as written, and gRPC takes no
	// host in them: "unix://run/agent.sock" would be refused at dial time.
	u, err := url.Parse(addr)
	if err == nil && u.Scheme == "unix" {
		if u.Host != "" || !path.IsAbs(u.Path) {
			return fmt.Sprintf("a unix address takes an absolute path after three slashes, got %q: %s", addr, want)
		}
	}
	return ""
}
