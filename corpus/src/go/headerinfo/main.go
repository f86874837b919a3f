// headerinfo-go reports what it sees through api.header, api.header_has and
// api.header_get: host traits and paths, missing keys, pointer escaping, and
// whether api.header agrees with the header line read from stdin.
package main

import (
	"bytes"
	"encoding/json"

	si "sysinspect/sdk"
)

func get(pointer string) any {
	raw, err := si.Get(pointer)
	if err != nil {
		return map[string]string{"error": err.Error()}
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return map[string]string{"error": err.Error()}
	}
	return v
}

func main() {
	h, err := si.ReadHeader()
	if err != nil {
		si.Fail(1, err.Error())
	}
	whole, err := si.HeaderJSON()
	if err != nil {
		si.Fail(1, err.Error())
	}
	_ = si.Print(map[string]any{
		"hostname":        get("/host/traits/system.hostname"),
		"os":              get("/host/traits/system.os.name"),
		"sharelib":        get("/host/paths/sharelib"),
		"config_sharelib": get("/config/path.sharelib"),
		"slash_key":       get("/host/traits/a~1b"),
		"tilde_key":       get("/host/traits/c~0d"),
		"first_opt":       get("/opts/0"),
		"missing":         get("/host/traits/no.such.trait"),
		"has_traits":      si.Has("/host/traits"),
		"has_hostname":    si.Has("  /host/traits/system.hostname  "),
		"has_missing":     si.Has("/host/traits/no.such.trait"),
		"has_bad_pointer": si.Has("host"),
		"header_is_stdin": bytes.Equal(whole, h.Raw),
	})
}
