// compute-json-go transforms the JSON document in argument "doc": strings are
// upper-cased, numbers doubled, arrays reversed, object keys sorted; it also
// reports counts and the nesting depth.
package main

import (
	"encoding/json"
	"strings"

	si "sysinspect/sdk"
)

type stats struct {
	Strings, Numbers, Bools, Nulls, Arrays, Objects, Depth int
}

func transform(v any, depth int, st *stats) any {
	if depth > st.Depth {
		st.Depth = depth
	}
	switch x := v.(type) {
	case string:
		st.Strings++
		return strings.ToUpper(x)
	case json.Number:
		st.Numbers++
		if n, err := x.Int64(); err == nil {
			return n * 2
		}
		f, _ := x.Float64()
		return f * 2
	case bool:
		st.Bools++
		return !x
	case nil:
		st.Nulls++
		return nil
	case []any:
		st.Arrays++
		out := make([]any, len(x))
		for i, e := range x {
			out[len(x)-1-i] = transform(e, depth+1, st)
		}
		return out
	case map[string]any:
		st.Objects++
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = transform(e, depth+1, st)
		}
		return out
	}
	return v
}

func main() {
	if _, err := si.ReadHeader(); err != nil {
		si.Fail(1, err.Error())
	}
	raw, err := si.Get("/args/doc")
	if err != nil {
		si.Fail(1, err.Error())
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		si.Fail(1, err.Error())
	}
	var st stats
	out := transform(doc, 0, &st)
	_ = si.Print(map[string]any{
		"result": out,
		"stats": map[string]int{
			"strings": st.Strings, "numbers": st.Numbers, "bools": st.Bools, "nulls": st.Nulls,
			"arrays": st.Arrays, "objects": st.Objects, "depth": st.Depth,
		},
	})
}
