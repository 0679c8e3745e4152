package admin_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/weftmesh/weft/internal/proctest"
)

// chromium returns the browser to drive: $WEFT_CHROMIUM, which
// scripts/install-packages sets, else chromium on the PATH. $WEFT_CHROMIUM
// naming a browser that is not there is a failure. Without a browser the
// test fails on CI ($CI non-empty) and is skipped elsewhere
// (proctest.Missing), saying why.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("WEFT_CHROMIUM"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("WEFT_CHROMIUM=%s: %v", p, err)
		}
		return p
	}
	p, why := chromiumOnPath()
	if p == "" {
		proctest.Missing(t, why)
	}
	return p
}

// chromiumOnPath returns the path of chromium on the PATH, or why there
// is none, quoting $WEFT_CHROMIUM_MISSING: the reason
// scripts/install-packages gives when it cannot install Chromium.
func chromiumOnPath() (path, why string) {
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, ""
		}
	}
	why = "Chromium is not installed"
	if reason := os.Getenv("WEFT_CHROMIUM_MISSING"); reason != "" {
		why += " and scripts/install-packages could not install it: " + reason
	}
	return "", why + `; run eval "$(scripts/install-packages)" (apt-get install chromium on Debian), which sets WEFT_CHROMIUM`
}

// Without Chromium, the browser test says why scripts/install-packages
// could not install it.
func TestChromiumMissingSaysWhy(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	t.Setenv("WEFT_CHROMIUM_MISSING", "apt-get install -y chromium failed")
	p, why := chromiumOnPath()
	if p != "" || !strings.Contains(why, "could not install it: apt-get install -y chromium failed") || !strings.Contains(why, "scripts/install-packages") {
		t.Errorf("chromiumOnPath() = %q, %q; want the reason quoted", p, why)
	}
}

// artifacts returns where screenshots go: $WEFT_ARTIFACTS/<test>, else a
// temporary directory.
func artifacts(t *testing.T) string {
	dir := t.TempDir()
	if base := os.Getenv("WEFT_ARTIFACTS"); base != "" {
		dir = filepath.Join(base, t.Name())
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// browser starts headless Chromium as the project runs it: no sandbox
// (tests run as root), no network of its own, a fresh profile.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1000),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx, chromedp.WithErrorf(t.Logf))
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
	})
	// The first Run starts the browser, which lives as long as its
	// context: it must not be one with a shorter deadline.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	return ctx
}

// traffic sends requests from loadgen to checkout's path every interval
// until the test ends.
func traffic(t *testing.T, s *shop, path string, interval time.Duration) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	c := s.loadgen.NewClient("checkout")
	wg.Go(func() {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			req, _ := newRequest(ctx, "http://checkout"+path)
			if resp, err := c.Do(req); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}
	})
}

// edgeJS reads an edge of the graph as the page drew it.
const edgeJS = `(() => {
  const g = document.querySelector('#graph g.edge[data-source=%q][data-destination=%q]');
  return g ? {rps: +g.dataset.rps, success: +g.dataset.successRate} : {rps: -1, success: -1};
})()`

type drawnEdge struct {
	RPS     float64 `json:"rps"`
	Success float64 `json:"success"`
}

// waitEdge polls the page until the edge src → dst satisfies ok.
func waitEdge(t *testing.T, ctx context.Context, src, dst, what string, ok func(drawnEdge) bool) drawnEdge {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var e drawnEdge
	for {
		var err error
		if e, err = chromedp.Run(ctx, chromedp.Evaluate[drawnEdge](fmt.Sprintf(edgeJS, src, dst))); err != nil {
			t.Fatalf("reading edge %s → %s: %v", src, dst, err)
		}
		if ok(e) {
			return e
		}
		if time.Now().After(deadline) {
			t.Fatalf("edge %s → %s: %s not seen within 30s; last drawn %+v", src, dst, what, e)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func screenshot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// TestDashboardInABrowser drives the dashboard in headless Chromium
// against a running mesh: the graph shows the mesh's edges with traffic,
// a failing backend turns its edge's success rate below 100%, and the tap
// shows a request made after it was opened.
func TestDashboardInABrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a browser")
	}
	ctx := browser(t)
	s := newShop(t, "")
	dir := artifacts(t)
	traffic(t, s, "/ok", 50*time.Millisecond)

	url := "http://" + s.loadgen.AdminAddr() + "/ui/"
	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		c, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(c, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	attr := func(sel, name string) string {
		t.Helper()
		c, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		a, err := chromedp.Run(c, chromedp.AttributeValue(sel, name))
		if err != nil {
			t.Fatalf("%s of %s: %v", name, sel, err)
		}
		return a.Value
	}
	run("open the dashboard", chromedp.Navigate(url), chromedp.WaitVisible(`#graph g.svc[data-service="payments"]`))
	for _, e := range [][2]string{{"loadgen", "checkout"}, {"checkout", "payments"}} {
		got := waitEdge(t, ctx, e[0], e[1], "traffic at 100%", func(d drawnEdge) bool { return d.RPS > 0 && d.Success == 1 })
		t.Logf("%s → %s: %.2f req/s, success %.0f%%", e[0], e[1], got.RPS, 100*got.Success)
	}
	if health := attr(`#graph g.svc[data-service="payments"]`, "data-health"); health != "healthy" {
		t.Errorf("payments is drawn %q, want healthy", health)
	}
	screenshot(t, ctx, dir, "1-graph-healthy")

	traffic(t, s, "/fail", 50*time.Millisecond)
	got := waitEdge(t, ctx, "checkout", "payments", "a success rate below 100%", func(d drawnEdge) bool { return d.Success > 0 && d.Success < 1 })
	t.Logf("with a failing backend, checkout → payments: success %.1f%%", 100*got.Success)
	if class := attr(`#graph g.edge[data-source="checkout"][data-destination="payments"]`, "class"); class == "edge ok" {
		t.Errorf("a failing edge is drawn as healthy")
	}
	screenshot(t, ctx, dir, "2-graph-failing")

	run("endpoints", chromedp.Navigate(url+"#endpoints"), chromedp.WaitVisible(`#destinations tr[data-endpoint]`))
	run("policy", chromedp.Navigate(url+"#policy"), chromedp.WaitVisible(`#policy-yaml`))

	// The tap, opened on checkout, shows a request made after it opened.
	run("open the tap", chromedp.Navigate("http://"+s.checkout.AdminAddr()+"/ui/#tap"),
		chromedp.WaitVisible(`#tap-form`),
		chromedp.SetValue(`#tap-form input[name="path"]`, "/tapped"),
		chromedp.Click(`#tap-start`),
		chromedp.WaitVisible(`body[data-tap="watching"]`))
	s.call(t, 1, "/tapped/by-the-browser-test")
	run("see the request", chromedp.WaitVisible(`tr.tap-row[data-path="/tapped/by-the-browser-test"][data-direction="in"]`),
		chromedp.WaitVisible(`tr.tap-row[data-path="/tapped/by-the-browser-test"][data-direction="out"]`))
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('tr.tap-row').length`))
	if err != nil {
		t.Fatal(err)
	}
	if rows != 2 {
		t.Errorf("%d tap rows, want 2: the filter lets through only the tapped request, in and out", rows)
	}
	screenshot(t, ctx, dir, "3-tap")
}
