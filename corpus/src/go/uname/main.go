// uname-go runs `uname -a` on the host through api.exec and logs through api.log.
package main

import (
	"strings"

	si "sysinspect/sdk"
)

func main() {
	if _, err := si.ReadHeader(); err != nil {
		si.Fail(1, err.Error())
	}
	argv := []string{"/usr/bin/uname", "-a"}
	si.Log(si.Info, "running "+strings.Join(argv, " "))
	res, err := si.Exec(argv, "", 0)
	if err != nil {
		si.Log(si.Error, "api.exec failed: "+err.Error())
		si.Fail(1, err.Error())
	}
	if res.Error != "" {
		si.Log(si.Error, "the host refused: "+res.Error)
		si.Fail(1, res.Error)
	}
	si.Logf(si.Debug, "uname exited with %d", res.ExitCode)
	_ = si.Print(map[string]any{
		"exit_code": res.ExitCode,
		"uname":     strings.TrimSpace(res.Stdout),
	})
}
