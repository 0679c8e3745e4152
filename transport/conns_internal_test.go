package transport

import (
	"net/http"
	"testing"
)

func TestIsUpgrade(t *testing.T) {
	for _, tc := range []struct {
		conn []string
		want bool
	}{
		{nil, false},
		{[]string{"keep-alive"}, false},
		{[]string{"Upgrade"}, true},
		{[]string{"keep-alive, upgrade"}, true},
		{[]string{"close", " UPGRADE "}, true},
		{[]string{"upgraded"}, false},
	} {
		if got := isUpgrade(http.Header{"Connection": tc.conn}); got != tc.want {
			t.Errorf("Connection %q: isUpgrade = %v, want %v", tc.conn, got, tc.want)
		}
	}
}

func TestReplayable(t *testing.T) {
	body := http.NoBody
	for _, tc := range []struct {
		method string
		hdr    http.Header
		body   bool
		want   bool
	}{
		{http.MethodGet, nil, false, true},
		{http.MethodHead, nil, false, true},
		{http.MethodPost, nil, false, false},
		{http.MethodPost, http.Header{"Idempotency-Key": {"k"}}, false, true},
		{http.MethodGet, nil, true, false},
	} {
		req := &http.Request{Method: tc.method, Header: tc.hdr, Body: body}
		if tc.body {
			req.Body = nopBody{}
		}
		if got := replayable(req); got != tc.want {
			t.Errorf("%s %v body=%v: replayable = %v, want %v", tc.method, tc.hdr, tc.body, got, tc.want)
		}
	}
}

type nopBody struct{}

func (nopBody) Read([]byte) (int, error) { return 0, nil }
func (nopBody) Close() error             { return nil }
