package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// adminTimeout bounds one request to a node's admin endpoint.
const adminTimeout = 10 * time.Second

// nodeStatus is the part of a node's /debug/weft answer the commands
// print. It is decoded leniently: fields a newer node adds are ignored,
// fields an older one lacks stay zero.
type nodeStatus struct {
	Node       string `json:"node"`
	Service    string `json:"service"`
	Mesh       string `json:"mesh"`
	GossipAddr string `json:"gossipAddr"`
	Local      struct {
		Version string `json:"version"`
		Zone    string `json:"zone"`
		State   string `json:"state"`
	} `json:"local"`
	Members []struct {
		Name    string `json:"name"`
		Addr    string `json:"addr"`
		Status  string `json:"status"`
		Service string `json:"service"`
	} `json:"members"`
	Gossip struct {
		Members        int    `json:"members"`
		HealthScore    int    `json:"healthScore"`
		DroppedPackets uint64 `json:"droppedPackets"`
		DroppedEntries uint64 `json:"droppedEntries"`
	} `json:"gossip"`
	Policy struct {
		Source    string         `json:"source"`
		SHA256    string         `json:"sha256"`
		Applied   uint64         `json:"reloadsApplied"`
		Rejected  uint64         `json:"reloadsRejected"`
		LastError string         `json:"lastError"`
		Effective map[string]any `json:"effective"`
	} `json:"policy"`
	Inbound struct {
		InFlight int64             `json:"inFlight"`
		Served   uint64            `json:"served"`
		Rejected map[string]uint64 `json:"rejected"`
	} `json:"inbound"`
	Identity *struct {
		ID               string  `json:"id"`
		ExpiresInSeconds float64 `json:"expiresInSeconds"`
		Mode             string  `json:"mtls"`
		Denied           uint64  `json:"authorizationDenied"`
	} `json:"identity"`
	Destinations []destinationStatus `json:"destinations"`
	Decisions    []struct {
		Time        time.Time `json:"time"`
		Destination string    `json:"destination"`
		Method      string    `json:"method"`
		Path        string    `json:"path"`
		Route       string    `json:"route"`
		Subset      string    `json:"subset"`
		Endpoint    string    `json:"endpoint"`
		Attempts    int       `json:"attempts"`
		Status      int       `json:"status"`
		Outcome     string    `json:"outcome"`
		Error       string    `json:"error"`
		DurationMs  float64   `json:"durationMs"`
	} `json:"decisions"`
	Telemetry *struct {
		Tracing         bool   `json:"tracing"`
		TraceExporter   string `json:"traceExporter"`
		Sampler         string `json:"sampler"`
		MetricsExporter string `json:"metricsExporter"`
		AccessLog       bool   `json:"accessLog"`
	} `json:"telemetry"`
}

type destinationStatus struct {
	Service      string `json:"service"`
	LoadBalancer string `json:"loadBalancer"`
	Ready        int    `json:"ready"`
	Unready      int    `json:"unready"`
	RetryBudget  int    `json:"retryBudget"`
	Endpoints    []struct {
		Addr      string   `json:"addr"`
		Node      string   `json:"node"`
		Zone      string   `json:"zone"`
		Version   string   `json:"version"`
		Weight    uint32   `json:"weight"`
		Subsets   []string `json:"subsets"`
		InFlight  int64    `json:"inFlight"`
		LatencyMs float64  `json:"latencyMs"`
		Down      bool     `json:"down"`
		Ejected   bool     `json:"ejected"`
		Breaker   string   `json:"breaker"`
	} `json:"endpoints"`
}

// adminURL turns the command line's ADMIN (host:port, or a URL) into the
// URL of the node's status.
func adminURL(admin string) (string, error) {
	if admin == "" {
		return "", errors.New("no admin address given")
	}
	base := admin
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	if !strings.HasPrefix(base, "http://") && !strings.HasPrefix(base, "https://") {
		return "", fmt.Errorf("admin address %q: write host:port, like 127.0.0.1:9901, or an http:// URL", admin)
	}
	return strings.TrimSuffix(base, "/") + "/debug/weft", nil
}

// fetchStatus reads a node's status: the raw JSON, for --json, and its
// decoded form.
func fetchStatus(admin string) ([]byte, *nodeStatus, error) {
	url, err := adminURL(admin)
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("admin address %q: %w", admin, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot reach the node's admin endpoint: %w (is the node running with admin.listen or WEFT_ADMIN_ADDR set to %s?)", err, admin)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, nil, fmt.Errorf("reading %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("%s answered %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	var st nodeStatus
	if err := json.Unmarshal(body, &st); err != nil {
		return nil, nil, fmt.Errorf("%s did not answer with a Weft status (%v); is it a Weft admin endpoint?", url, err)
	}
	return body, &st, nil
}
