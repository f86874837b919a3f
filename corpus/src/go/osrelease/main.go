// osrelease-go returns one key of /etc/os-release, the Sysinspect way.
//
// Argument "key" (default VERSION) names the key. Option "nohello" drops the
// greeting; option "man" prints the module's documentation instead.
package main

import (
	"bufio"
	"os"
	"strings"

	si "sysinspect/sdk"
)

const id = "osrelease-go"

func doc() si.Doc {
	return si.Doc{
		Name:        id,
		Version:     "0.1.0",
		Author:      "Sysinspect Wasm corpus",
		Description: "Returns the value of one key of /etc/os-release.",
		Arguments: []si.DocItem{{
			Name: "key", Type: "string", Required: false, Default: "VERSION",
			Description: "The os-release key to return.",
		}},
		Options: []si.DocItem{
			{Name: "nohello", Description: "Do not add the greeting."},
			{Name: "man", Description: "Print this documentation and do nothing else."},
		},
		Examples: []si.DocExample{{
			Description: "Return the distribution's pretty name.",
			Code:        "args:\n  rt.mod: " + id + "\n  key: PRETTY_NAME",
		}},
		Returns: map[string]any{
			"<key>": "the value, or null when the key is absent",
			"hello": "a greeting, unless the option nohello is given",
		},
	}
}

// unquote strips os-release quoting: "..." or '...' with backslash escapes.
func unquote(v string) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		v = v[1 : len(v)-1]
		var b strings.Builder
		for i := 0; i < len(v); i++ {
			if v[i] == '\\' && i+1 < len(v) {
				i++
			}
			b.WriteByte(v[i])
		}
		return b.String()
	}
	return v
}

func lookup(path, key string) (string, bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if ok && k == key {
			return unquote(v), true, nil
		}
	}
	return "", false, sc.Err()
}

func main() {
	h, err := si.ReadHeader()
	if err != nil {
		si.Fail(1, err.Error())
	}
	if h.HasOpt("man") {
		_ = si.Print(doc())
		return
	}
	key := h.Arg("key", "VERSION")
	out := map[string]any{}
	if !h.HasOpt("nohello") {
		out["hello"] = "Hello from " + id
	}
	value, found, err := lookup("/etc/os-release", key)
	switch {
	case err != nil:
		si.Fail(1, "cannot read /etc/os-release: "+err.Error())
	case found:
		out[key] = value
	default:
		si.Logf(si.Warn, "key %s is not in /etc/os-release", key)
		out[key] = nil
	}
	_ = si.Print(out)
}
