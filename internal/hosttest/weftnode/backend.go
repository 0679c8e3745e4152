package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/weftmesh/weft/internal/hosttest/nodeapi"
)

// backend is the node's HTTP service. It answers "<host> <node>" and
// appends each request ID it receives to the served log, a file that
// outlives the process, so that the IDs a killed node had received can
// still be read.
type backend struct {
	host string
	node string // set before serving starts
	work time.Duration

	mu  sync.Mutex // one write per ID, whole
	log *os.File
}

func newBackend(host, servedLog string, work time.Duration) (*backend, error) {
	f, err := os.OpenFile(servedLog, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("weftnode: served log: %w", err)
	}
	return &backend{host: host, work: work, log: f}, nil
}

func (b *backend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if id := r.Header.Get(nodeapi.RequestIDHeader); id != "" {
		b.record(id)
	}
	_, _ = io.Copy(io.Discard, r.Body)
	if b.work > 0 {
		t := time.NewTimer(b.work)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return
		}
	}
	fmt.Fprintf(w, "%s %s\n", b.host, b.node)
}

// record notes that the request id reached the handler: a write to the
// kernel per ID, so that a SIGKILL loses none.
func (b *backend) record(id string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, err := b.log.WriteString(id + "\n"); err != nil {
		fmt.Fprintf(os.Stderr, "weftnode: served log: %v\n", err)
	}
}
