// machineid-go reads /etc/machine-id and returns it.
package main

import (
	"os"
	"strings"

	si "sysinspect/sdk"
)

func main() {
	if _, err := si.ReadHeader(); err != nil {
		si.Fail(1, err.Error())
	}
	data, err := os.ReadFile("/etc/machine-id")
	if err != nil {
		si.Log(si.Error, "cannot read /etc/machine-id: "+err.Error())
		si.Fail(1, "cannot read /etc/machine-id")
	}
	_ = si.Print(map[string]any{"machine-id": strings.TrimSpace(string(data))})
}
