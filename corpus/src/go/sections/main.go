// sections-go echoes which request sections reached it and proves that no
// runtime (rt.*) option or argument leaked into the header.
package main

import (
	"sort"
	"strings"

	si "sysinspect/sdk"
)

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func main() {
	h, err := si.ReadHeader()
	if err != nil {
		si.Fail(1, err.Error())
	}
	var top map[string]any
	if err := jsonUnmarshal(h.Raw, &top); err != nil {
		si.Fail(1, err.Error())
	}
	leaked := []string{}
	for _, o := range h.Opts {
		if strings.HasPrefix(o, "rt.") {
			leaked = append(leaked, "opt:"+o)
		}
	}
	for _, k := range keys(h.Args) {
		if strings.HasPrefix(k, "rt.") {
			leaked = append(leaked, "arg:"+k)
		}
	}
	opts := h.Opts
	if opts == nil {
		opts = []string{}
	}
	_ = si.Print(map[string]any{
		"sections":  keys(top),
		"opts":      opts,
		"args":      keys(h.Args),
		"config":    keys(h.Config),
		"ext":       keys(h.Ext),
		"host":      keys(h.Host),
		"rt_leaked": leaked,
	})
}
