// Command weft is the command-line companion of the Weft service mesh:
// it checks policy files before they are rolled out, and creates the
// development certificate authority that gives nodes SPIFFE identities
// without SPIRE.
//
// Usage:
//
//	weft <command> [arguments]
//
// Run "weft help" for the list of commands.
package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
)

// command is one subcommand. Each lives in its own file and is listed in
// commands.
type command struct {
	name    string
	args    string // argument synopsis for the usage line
	summary string // one line for "weft help"
	// run executes the command with the arguments after its name and
	// returns the process exit code.
	run func(args []string, stdout, stderr io.Writer) int
}

// Exit codes shared by all commands.
const (
	exitOK      = 0
	exitFailure = 1 // the command ran and found a problem
	exitUsage   = 2 // the command line was wrong
)

// commands lists the subcommands in the order "weft help" shows them.
var commands = []command{
	validateCommand,
	caCommand,
	statusCommand,
	membersCommand,
	endpointsCommand,
	policyCommand,
	dashboardCommand,
	tapCommand,
	{name: "version", summary: "print the weft version", run: runVersion},
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches args (without the program name) to a command and returns
// the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		return runHelp(args[1:], stdout, stderr)
	}
	if c, ok := lookup(args[0]); ok {
		return c.run(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "weft: unknown command %q\n\n", args[0])
	usage(stderr)
	return exitUsage
}

func lookup(name string) (command, bool) {
	for _, c := range commands {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Weft checks and inspects Weft service mesh configuration.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage:")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "  weft <command> [arguments]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	fmt.Fprintln(w)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "  %-10s %s\n", "help", "show this help, or a command's with \"weft help <command>\"")
}

// runHelp prints the overview, or one command's usage.
func runHelp(args []string, stdout, stderr io.Writer) int {
	switch len(args) {
	case 0:
		usage(stdout)
		return exitOK
	case 1:
		c, ok := lookup(args[0])
		if !ok {
			fmt.Fprintf(stderr, "weft help: unknown command %q\n", args[0])
			return exitUsage
		}
		fmt.Fprintf(stdout, "Usage: weft %s %s\n\n%s\n", c.name, c.args, c.summary)
		return exitOK
	default:
		fmt.Fprintln(stderr, "usage: weft help [command]")
		return exitUsage
	}
}

// version is the weft release; release builds set it with
// -ldflags "-X main.version=v1.2.3". Otherwise the module version from the
// build information is used.
var version = ""

func runVersion(args []string, stdout, stderr io.Writer) int {
	if len(args) != 0 {
		fmt.Fprintln(stderr, "usage: weft version")
		return exitUsage
	}
	v := version
	if v == "" {
		v = "(devel)"
		if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" {
			v = info.Main.Version
		}
	}
	fmt.Fprintf(stdout, "weft %s %s %s/%s\n", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return exitOK
}
