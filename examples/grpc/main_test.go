package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/weftmesh/weft/internal/leakcheck"
)

func TestMain(m *testing.M) {
	leakcheck.Main(m)
}

// TestExample runs the example: three payments instances over mutual TLS,
// a drain midway, authorization by method; no charge may fail.
func TestExample(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, 3*time.Second, &out, io.Discard); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	t.Log("\n" + out.String())
	for _, want := range []string{", 0 failed", "payments-2 drained", "reports: Quote allowed", "reports: Charge refused", "batch: 3 charges", "watch: 3 updates"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
}
