package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"runtime"
)

const (
	dashboardArgs    = "ADMIN [--no-open] [--cert F --key F --cacert F]"
	dashboardSummary = "open a running node's dashboard of the whole mesh in a browser"
)

var dashboardCommand = command{name: "dashboard", args: dashboardArgs, summary: dashboardSummary, run: runDashboard}

// openBrowser opens url in the desktop's browser; tests replace it.
var openBrowser = func(url string) error {
	name, args := "xdg-open", []string{url}
	switch runtime.GOOS {
	case "darwin":
		name = "open"
	case "windows":
		name, args = "rundll32", []string{"url.dll,FileProtocolHandler", url}
	}
	return exec.Command(name, args...).Start()
}

func runDashboard(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("dashboard", flag.ContinueOnError)
	fs.SetOutput(stderr)
	noOpen := fs.Bool("no-open", false, "print the dashboard's URL without opening a browser")
	tc := addTLSFlags(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: weft dashboard %s\n\n%s: the service graph with\nrates, success and latency per edge, golden signals per service, endpoints, routing\ndecisions, the policy, and a live tap. ADMIN is the node's admin address; for a node whose\nadmin endpoint requires mutual TLS, an https:// URL with --cert, --key and --cacert checks it,\nand the browser needs the same client certificate.\nExits 0 when the dashboard answers, 1 if it does not, 2 on a usage error.\n", dashboardArgs, dashboardSummary)
	}
	base, code := adminArg("dashboard", fs, args, stdout, stderr)
	if code >= 0 {
		return code
	}
	client, err := tc.client()
	if err != nil {
		fmt.Fprintln(stderr, "weft dashboard:", err)
		return exitUsage
	}
	url := base + "/ui/"
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := client.Do(req)
	if err != nil {
		fmt.Fprintln(stderr, "weft dashboard:", unreachable(err, base))
		return exitFailure
	}
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusForbidden:
		fmt.Fprintf(stderr, "weft dashboard: %s requires mutual TLS with an identity admin.allow names: check it with --cert, --key and --cacert, open it with a browser that holds such a client certificate, or reach the node on its loopback address\n", url)
		return exitFailure
	default:
		fmt.Fprintf(stderr, "weft dashboard: %s answered %s; is it a Weft admin endpoint of this version?\n", url, resp.Status)
		return exitFailure
	}
	fmt.Fprintln(stdout, url)
	if !*noOpen {
		if err := openBrowser(url); err != nil {
			fmt.Fprintf(stderr, "weft dashboard: could not open a browser (%v); open the URL above\n", err)
		}
	}
	return exitOK
}
