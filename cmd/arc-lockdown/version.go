package main

import (
	"fmt"
	"io"
	"runtime/debug"
)

func init() {
	commands["version"] = command{
		summary: "Print the version of this binary",
		run: func(_ []string, stdout, _ io.Writer) int {
			fmt.Fprintln(stdout, "arc-lockdown", buildVersion())
			return 0
		},
	}
}

// buildVersion returns the module version recorded by the Go toolchain, or
// "(devel)" for a build from a work tree.
func buildVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok || info.Main.Version == "" {
		return "(devel)"
	}
	return info.Main.Version
}
