package opatest_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/weftmesh/weft/internal/opatest"
)

func TestStart(t *testing.T) {
	o := opatest.New(t, "package t\n\nallow if input.user == \"alice\"\n")
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Post(o.URL()+"/v1/data/t/allow", "application/json", strings.NewReader(`{"input":{"user":"alice"}}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || strings.TrimSpace(string(b)) != `{"result":true}` {
		t.Fatalf("%d %s\n%s", resp.StatusCode, b, o.Log())
	}
}
