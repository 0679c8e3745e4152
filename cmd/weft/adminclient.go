package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
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

// unreachable explains why a node's admin endpoint could not be read: a
// certificate the command could not verify, or present, means the
// endpoint requires mutual TLS.
func unreachable(err error, admin string) error {
	var unknown x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	var alert tls.AlertError
	var verify *tls.CertificateVerificationError
	if errors.As(err, &unknown) || errors.As(err, &invalid) || errors.As(err, &alert) || errors.As(err, &verify) {
		return fmt.Errorf("the node's admin endpoint at %s requires mutual TLS: %w (pass --cert and --key from weft ca issue for an identity admin.allow names, and --cacert with the mesh's root certificate)", admin, err)
	}
	return fmt.Errorf("cannot reach the node's admin endpoint: %w (is the node running with admin.listen or WEFT_ADMIN_ADDR set to %s?)", err, admin)
}

// tlsFlags reach an admin endpoint that requires mutual TLS.
type tlsFlags struct{ cert, key, ca *string }

func addTLSFlags(fs *flag.FlagSet) tlsFlags {
	return tlsFlags{
		cert: fs.String("cert", "", "client certificate for an admin endpoint that requires mutual TLS (weft ca issue)"),
		key:  fs.String("key", "", "its private key"),
		ca:   fs.String("cacert", "", "the mesh's root certificate, to verify the node with"),
	}
}

// client returns the HTTP client: plain, or presenting the certificate
// and verifying the node's chain against the CA. The node's certificate
// names its SPIFFE ID, not a host name, so the host is not checked.
func (f tlsFlags) client() (*http.Client, error) {
	if *f.cert == "" && *f.key == "" && *f.ca == "" {
		return &http.Client{}, nil
	}
	if *f.cert == "" || *f.key == "" || *f.ca == "" {
		return nil, errors.New("--cert, --key and --cacert go together")
	}
	pair, err := tls.LoadX509KeyPair(*f.cert, *f.key)
	if err != nil {
		return nil, err
	}
	pem, err := os.ReadFile(*f.ca)
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no certificate", *f.ca)
	}
	cfg := &tls.Config{
		Certificates:       []tls.Certificate{pair},
		InsecureSkipVerify: true, // verified below, without a host name
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("the node sent no certificate")
			}
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
			return err
		},
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg, ResponseHeaderTimeout: adminTimeout}}, nil
}

// fetchStatus reads a node's status through client: the raw JSON, for
// --json, and its decoded form.
func fetchStatus(client *http.Client, admin string) ([]byte, *nodeStatus, error) {
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
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, unreachable(err, admin)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, nil, fmt.Errorf("reading %s: %w", url, err)
	}
	if resp.StatusCode == http.StatusForbidden {
		return nil, nil, fmt.Errorf("%s answered %s: %s (over https://, --cert and --key present an identity, --cacert verifies the node)", url, resp.Status, strings.TrimSpace(string(body)))
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
