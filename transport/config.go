package transport

import "time"

// DestinationConfig is how clients call one destination service. The policy
// file's `defaults` section and each `services.<name>` section decode into
// it; fields left empty in a service fall back to the defaults.
type DestinationConfig struct {
	// LoadBalancer names the picker: "round_robin" or "least_request".
	// If empty, "least_request".
	LoadBalancer string `yaml:"loadBalancer"`
	// Timeout bounds a whole call, connection, retries and response
	// headers included. If zero, 5 s in defaults; in a service, the
	// defaults' value.
	Timeout time.Duration `yaml:"timeout"`
}

// EgressConfig controls requests to hosts that are not mesh services.
type EgressConfig struct {
	// Allow lists the hosts (exact names, or "*.example.com" for any
	// subdomain) clients may reach outside the mesh. If nil, any host is
	// allowed; an empty list forbids them all.
	Allow []string `yaml:"allow"`
}
