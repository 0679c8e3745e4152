package hydratest

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weftmesh/weft/internal/proctest"
)

// BinaryEnv names the environment variable scripts/build-tools exports
// with the path of the hydra binary.
const BinaryEnv = "WEFT_HYDRA"

// Binary returns the path of the hydra binary from $WEFT_HYDRA; the test
// fails on CI and is skipped elsewhere when it is not set.
func Binary(t testing.TB) string {
	t.Helper()
	return proctest.Binaries(t, BinaryEnv)[0]
}

// Hydra is a running Hydra. Its methods are safe for concurrent use.
type Hydra struct {
	dir           string
	public, admin string // base URLs
	ca            string // path of the CA's PEM
	client        *http.Client
	proc          *proctest.Process
	once          sync.Once
}

// New starts a Hydra for t and stops it when t ends. Startup is bounded
// by 60 s.
func New(t testing.TB) *Hydra {
	t.Helper()
	bin := Binary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h, err := Start(ctx, bin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

// Start starts Hydra and returns once its admin API reports it ready. On
// error nothing is left running and the error quotes Hydra's log.
func Start(ctx context.Context, bin string) (*Hydra, error) {
	dir, err := os.MkdirTemp("", "hydra")
	if err != nil {
		return nil, fmt.Errorf("hydratest: %w", err)
	}
	h := &Hydra{dir: dir}
	ca, cert, key, err := writeCerts(dir)
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("hydratest: %w", err)
	}
	h.ca = ca
	ports, err := proctest.FreePorts(2)
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("hydratest: %w", err)
	}
	h.public = "https://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0]))
	h.admin = "https://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[1]))
	conf := filepath.Join(dir, "hydra.yaml")
	if err := os.WriteFile(conf, []byte(config(ports[0], ports[1], h.public+"/", cert, key)), 0o600); err != nil {
		h.Close()
		return nil, fmt.Errorf("hydratest: %w", err)
	}
	pem, err := os.ReadFile(ca)
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("hydratest: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	// No keep-alives: an idle connection would outlive the test.
	h.client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DisableKeepAlives: true, TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	h.proc, err = proctest.Start(proctest.Config{Name: "hydra", Bin: bin, LogPath: filepath.Join(dir, "hydra.log"),
		Args: []string{"serve", "all", "--config", conf}})
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("hydratest: %w", err)
	}
	if err := h.proc.AwaitReady(ctx, h.client, h.admin+"/health/ready", h.public+"/.well-known/jwks.json"); err != nil {
		h.Close()
		return nil, fmt.Errorf("hydratest: %w", err)
	}
	return h, nil
}

// config is Hydra's configuration: memory database, TLS on both ports,
// JWT access tokens that live an hour.
func config(public, admin int, issuer, cert, key string) string {
	return fmt.Sprintf(`dsn: memory
serve:
  public: {host: 127.0.0.1, port: %d}
  admin: {host: 127.0.0.1, port: %d}
  tls:
    enabled: true
    cert: {path: %q}
    key: {path: %q}
urls:
  self: {issuer: %q}
secrets:
  system: ["weft-hydratest-system-secret-0123456789"]
strategies:
  access_token: jwt
ttl:
  access_token: 1h
log:
  level: warn
`, public, admin, cert, key, issuer)
}

// Issuer returns the iss of the tokens Hydra issues.
func (h *Hydra) Issuer() string { return h.public + "/" }

// JWKSURL returns the https URL of Hydra's key set.
func (h *Hydra) JWKSURL() string { return h.public + "/.well-known/jwks.json" }

// CAFile returns the path of the PEM of the CA Hydra's certificate chains
// to.
func (h *Hydra) CAFile() string { return h.ca }

// Log returns the end of Hydra's log.
func (h *Hydra) Log() string { return h.proc.Tail() }

// Client is an OAuth client registered with Hydra.
type Client struct {
	ID, Secret string
}

// CreateClient registers a client allowed the client-credentials flow for
// the given scopes and audiences.
func (h *Hydra) CreateClient(ctx context.Context, scopes, audiences []string) (Client, error) {
	body, _ := json.Marshal(map[string]any{
		"grant_types":                []string{"client_credentials"},
		"token_endpoint_auth_method": "client_secret_basic",
		"scope":                      strings.Join(scopes, " "),
		"audience":                   audiences,
		"access_token_strategy":      "jwt",
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.admin+"/admin/clients", bytes.NewReader(body))
	if err != nil {
		return Client{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	var out struct {
		ID     string `json:"client_id"`
		Secret string `json:"client_secret"`
	}
	if err := h.do(req, http.StatusCreated, &out); err != nil {
		return Client{}, fmt.Errorf("hydratest: create client: %w", err)
	}
	return Client{ID: out.ID, Secret: out.Secret}, nil
}

// Token runs the client-credentials flow and returns the JWT access token.
func (h *Hydra) Token(ctx context.Context, c Client, scopes, audiences []string) (string, error) {
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {strings.Join(scopes, " ")}}
	for _, a := range audiences {
		form.Add("audience", a)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.public+"/oauth2/token", strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(c.ID), url.QueryEscape(c.Secret))
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := h.do(req, http.StatusOK, &out); err != nil {
		return "", fmt.Errorf("hydratest: token: %w", err)
	}
	return out.AccessToken, nil
}

func (h *Hydra) do(req *http.Request, want int, out any) error {
	resp, err := h.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s answered %s: %s", req.Method, req.URL.Path, resp.Status, bytes.TrimSpace(b))
	}
	return json.Unmarshal(b, out)
}

// Close stops Hydra and removes its directory. It may be called more than
// once.
func (h *Hydra) Close() {
	h.once.Do(func() {
		if h.proc != nil {
			h.proc.Stop()
		}
		if h.client != nil {
			h.client.CloseIdleConnections()
		}
		os.RemoveAll(h.dir)
	})
}
