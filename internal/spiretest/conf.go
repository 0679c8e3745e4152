package spiretest

import (
	"fmt"
	"strconv"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// minCATTL is the smallest CA lifetime written; SPIRE shortens SVIDs that
// would outlive its CA, and rotates the CA at half its life, so the CA
// must comfortably outlast every SVID a test asks for.
const minCATTL = 24 * time.Hour

// serverConf is the server's HCL configuration: everything on loopback or
// in dir, the CA key in memory, and entry changes picked up every second
// instead of every five.
func serverConf(td spiffeid.TrustDomain, dir string, port, healthPort int, svidTTL time.Duration) string {
	caTTL := minCATTL
	if 12*svidTTL > caTTL {
		caTTL = 12 * svidTTL
	}
	ttl := ""
	if svidTTL > 0 {
		ttl = fmt.Sprintf("    default_x509_svid_ttl = %q\n", svidTTL.String())
	}
	return fmt.Sprintf(`server {
    bind_address = "127.0.0.1"
    bind_port = "%d"
    socket_path = %s
    trust_domain = %q
    data_dir = %s
    log_level = "INFO"
    ca_ttl = %q
%s    experimental {
        cache_reload_interval = "1s"
    }
}

plugins {
    DataStore "sql" {
        plugin_data {
            database_type = "sqlite3"
            connection_string = %s
        }
    }
    NodeAttestor "join_token" {
        plugin_data {}
    }
    KeyManager "memory" {
        plugin_data {}
    }
}

health_checks {
    listener_enabled = true
    bind_address = "127.0.0.1"
    bind_port = "%d"
    live_path = "/live"
    ready_path = "/ready"
}
`, port, q(dir+"/server.sock"), td.Name(), q(dir+"/server"), caTTL.String(), ttl,
		q(dir+"/server/datastore.sqlite3"), healthPort)
}

// agentConf is the agent's HCL configuration. insecure_bootstrap trusts
// the server's first answer, which is sound on loopback with a server this
// package started itself.
func agentConf(td spiffeid.TrustDomain, dir string, serverPort, healthPort int) string {
	return fmt.Sprintf(`agent {
    server_address = "127.0.0.1"
    server_port = "%d"
    socket_path = %s
    trust_domain = %q
    data_dir = %s
    log_level = "INFO"
    insecure_bootstrap = true
    experimental {
        sync_interval = "1s"
    }
}

plugins {
    NodeAttestor "join_token" {
        plugin_data {}
    }
    KeyManager "memory" {
        plugin_data {}
    }
    WorkloadAttestor "unix" {
        plugin_data {}
    }
}

health_checks {
    listener_enabled = true
    bind_address = "127.0.0.1"
    bind_port = "%d"
    live_path = "/live"
    ready_path = "/ready"
}
`, serverPort, q(dir+"/agent.sock"), td.Name(), q(dir+"/agent"), healthPort)
}

// q quotes s as an HCL string, whose escapes are Go's.
func q(s string) string { return strconv.Quote(s) }
