package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/weftmesh/weft/internal/policy"
)

const (
	validateArgs    = "FILE..."
	validateSummary = "check policy files; print every error as file:line:col: message"
)

var validateCommand = command{name: "validate", args: validateArgs, summary: validateSummary, run: runValidate}

// runValidate checks each file fully, so one run reports the problems of
// every file; it exits 1 if any file is invalid.
func runValidate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: weft validate %s\n\n%s.\nExits 0 if every file is valid, 1 if any is not, 2 on a usage error.\n",
			validateArgs, validateSummary)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fs.Usage()
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "weft validate: no policy file given")
		fs.Usage()
		return exitUsage
	}
	code := exitOK
	for _, file := range fs.Args() {
		p, err := policy.Load(file)
		if err != nil {
			fmt.Fprintln(stderr, err)
			code = exitFailure
			continue
		}
		fmt.Fprintf(stdout, "%s: ok (%s)\n", file, summary(p))
	}
	return code
}

// summary describes a valid policy in a few words.
func summary(p *policy.Policy) string {
	services := "services"
	if len(p.Services) == 1 {
		services = "service"
	}
	return fmt.Sprintf("mesh %q, %d %s, sha256 %s", p.Mesh.Name, len(p.Services), services, p.ShortHash())
}
