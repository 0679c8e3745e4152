package main

import (
	"fmt"
	"io"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/weftmesh/weft/internal/hosttest/nodeapi"
)

// get makes a plain GET of url. A dropped connection ends as an error
// when timeout (if zero, 5 s) has passed.
func get(url string, timeout time.Duration) *nodeapi.GetResult {
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	c := &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(url)
	if err != nil {
		return &nodeapi.GetResult{Err: err.Error()}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	r := &nodeapi.GetResult{Status: resp.StatusCode, Body: string(b)}
	if err != nil {
		r.Err = "reading the body: " + err.Error()
	}
	return r
}

// busy keeps every CPU the process may use busy until d has passed, as a
// process overwhelmed by its own work would be, and returns the CPU time
// the process used meanwhile.
func busy(d time.Duration) (time.Duration, error) {
	before, err := cpuTime()
	if err != nil {
		return 0, err
	}
	end := time.Now().Add(d)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			x := uint64(1)
			for time.Now().Before(end) {
				for range 1 << 16 {
					x = x*6364136223846793005 + 1442695040888963407
				}
			}
			sink.Store(x)
		})
	}
	wg.Wait()
	after, err := cpuTime()
	return after - before, err
}

// cpuTime returns the CPU time, user and system, the process has used.
func cpuTime() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("weftnode: busy: getrusage: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

// sink keeps the busy loops' work from being optimised away.
var sink atomic.Uint64
