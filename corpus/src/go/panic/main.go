// fault-panic-go panics (a write to a nil map): the Go runtime prints the
// panic to stderr and exits with status 2.
package main

import (
	"os"

	si "sysinspect/sdk"
)

var table map[string]int

func main() {
	if _, err := si.ReadHeader(); err != nil {
		os.Exit(1)
	}
	si.Log(si.Info, "about to panic")
	table["boom"] = 1
}
