// hostview-go uses upstream's host helpers and PackageKit wrappers as a module
// author does. Arguments: trait (default "system.hostname"), path (default
// "sharelib"), pk (optional: available, status, packages, history, install,
// remove or upgrade), names (package names), count (history). It prints
// {"has", "trait", "paths", "path"} (null for what is absent), plus
// "pk_available" and the helper's answer "pk" (an {"error": ...} answer as it
// came) when pk is given.
package main

import (
	"encoding/json"
	"errors"

	si "sysinspect/sdk"
)

func orNull(raw json.RawMessage, ok bool) json.RawMessage {
	if !ok {
		return json.RawMessage("null")
	}
	return raw
}

func main() {
	h, err := si.ReadHeader()
	if err != nil {
		si.Fail(1, err.Error())
	}
	traitName := h.Arg("trait", "system.hostname")
	pathName := h.Arg("path", "sharelib")
	out := map[string]any{
		"has":   si.HasTrait(traitName),
		"trait": orNull(si.TraitValue(traitName)),
		"paths": si.Paths(),
		"path":  orNull(si.PathValue(pathName)),
	}
	if op := h.Arg("pk", ""); op != "" {
		var names []string
		if list, ok := h.Args["names"].([]any); ok {
			for _, item := range list {
				if name, ok := item.(string); ok {
					names = append(names, name)
				}
			}
		}
		count := -1
		if c, ok := h.Args["count"].(float64); ok {
			count = int(c)
		}
		var answer any
		switch op {
		case "status":
			answer, err = si.PackageKitStatusNow()
		case "packages":
			answer, err = si.PackageKitPackages()
		case "history":
			answer, err = si.PackageKitHistory(names, count)
		case "install":
			answer, err = si.PackageKitInstall(names)
		case "remove":
			answer, err = si.PackageKitRemove(names)
		case "upgrade":
			answer, err = si.PackageKitUpgrade(names)
		}
		var failure *si.PackageKitError
		if errors.As(err, &failure) {
			answer = map[string]string{"error": failure.Message}
		} else if err != nil {
			answer = map[string]string{"sdk_error": err.Error()}
		}
		out["pk_available"] = si.PackageKitAvailable()
		out["pk"] = answer
	}
	if err := si.Print(out); err != nil {
		si.Fail(1, err.Error())
	}
}
