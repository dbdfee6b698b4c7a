// Command demo runs arc-lockdown end to end on one machine. It is what
// `make demo` runs.
package main

import (
	"fmt"
	"os"
)

func main() {
	// TODO: the end-to-end scenario (API server, GitHub stand-in,
	// controller, sample scale sets, access-log feedback) is not built yet.
	fmt.Fprintln(os.Stderr, "make demo: the end-to-end demo is not built yet; run `make test` to exercise what exists")
	os.Exit(2)
}
