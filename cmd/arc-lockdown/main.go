// Command arc-lockdown locks down the egress of actions-runner-controller
// runners. Each subcommand lives in a file of its own and registers itself
// in commands.
package main

import (
	"fmt"
	"io"
	"os"
	"sort"
)

// command is one subcommand of the arc-lockdown binary.
type command struct {
	// summary is the one-line description shown by `arc-lockdown help`.
	summary string
	// run executes the subcommand with the arguments after its name and
	// returns the process exit code.
	run func(args []string, stdout, stderr io.Writer) int
}

// commands maps subcommand names to their implementations. Files of this
// package add to it from init functions.
var commands = map[string]command{}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		printUsage(stdout)
		return 0
	}

	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "arc-lockdown: unknown command %q\n\n", args[0])
		printUsage(stderr)
		return 2
	}
	return cmd.run(args[1:], stdout, stderr)
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "Usage: arc-lockdown <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")

	names := make([]string, 0, len(commands))
	for name := range commands {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(w, "  %-12s %s\n", name, commands[name].summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run `arc-lockdown <command> -h` for the flags of a command.")
}
