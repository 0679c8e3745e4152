package observe

// DestinationStatus is one destination service as a node's clients of one
// protocol see it, for the admin endpoint.
type DestinationStatus struct {
	Service string `json:"service"`
	// Protocol is "http" or "grpc": a service served over both has one
	// entry for each, with its own endpoints; the retry budget, breakers
	// and outlier detection are the service's, shared by both.
	Protocol     string `json:"protocol"`
	LoadBalancer string `json:"loadBalancer"`
	// Ready counts the endpoints clients balance over; Unready the
	// instances known but starting or draining.
	Ready   int `json:"ready"`
	Unready int `json:"unready,omitempty"`
	// RetryBudget is how many retries or hedges the budget would allow
	// right now.
	RetryBudget int `json:"retryBudget"`
	// Breakers and OutlierDetection report whether the policy turns them
	// on for the service.
	Breakers         bool             `json:"breakers,omitempty"`
	OutlierDetection bool             `json:"outlierDetection,omitempty"`
	Endpoints        []EndpointStatus `json:"endpoints"`
}

// EndpointStatus is one endpoint with the balancer's view of it.
type EndpointStatus struct {
	Addr    string            `json:"addr"`
	Node    string            `json:"node"`
	Zone    string            `json:"zone,omitempty"`
	Version string            `json:"version,omitempty"`
	Labels  map[string]string `json:"labels,omitempty"`
	Weight  uint32            `json:"weight"`
	// Subsets lists the policy's subsets that hold the endpoint.
	Subsets []string `json:"subsets,omitempty"`
	// InFlight counts requests outstanding from this node's clients.
	InFlight int64 `json:"inFlight"`
	// LatencyMs is the peak-sensitive latency average peak_ewma balances
	// on (failed tries count as slow), decayed to now; 0 before the first
	// response.
	LatencyMs float64 `json:"latencyMs"`
	// Down reports a refused connection that keeps the endpoint out of
	// picking for a few seconds; Ejected that a breaker or outlier
	// detection took it out.
	Down    bool `json:"down,omitempty"`
	Ejected bool `json:"ejected,omitempty"`
	// Breaker is the endpoint's circuit breaker: "closed", "open" or
	// "half-open"; "" without breakers.
	Breaker string `json:"breaker,omitempty"`
	// SlowStart is the share of its full weight the endpoint gets while
	// slow start ramps it up (0.1 to 1); 0 once ramped up or without
	// slow start.
	SlowStart float64 `json:"slowStart,omitempty"`
}
