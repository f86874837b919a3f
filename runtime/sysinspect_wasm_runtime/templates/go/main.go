// @ID@: a Sysinspect module written in Go (WASI preview 1).
//
// It greets whoever the argument "name" names (default "world"); the option
// "shout" greets in capitals, and the option "man" prints this module's
// documentation instead of running.
package main

import (
	"strings"

	si "sysinspect/sdk"
)

const id = "@ID@"

func doc() si.Doc {
	return si.Doc{
		Name:        id,
		Version:     "0.1.0",
		Author:      "",
		Description: "Greets whoever the argument name names.",
		Arguments: []si.DocItem{{
			Name: "name", Type: "string", Required: false, Default: "world",
			Description: "Who to greet.",
		}},
		Options: []si.DocItem{
			{Name: "shout", Description: "Greet in capitals."},
			{Name: "man", Description: "Print this documentation and do nothing else."},
		},
		Examples: []si.DocExample{{
			Description: "Greet the minion.",
			Code:        `{"args": {"name": "minion"}}`,
		}},
		Returns: map[string]any{
			"description": "The greeting.",
			"sample":      map[string]any{"greeting": "Hello, minion!"},
		},
	}
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
	name := h.Arg("name", "world")
	greeting := "Hello, " + name + "!"
	if h.HasOpt("shout") {
		greeting = strings.ToUpper(greeting)
	}
	si.Logf(si.Info, "greeting %s", name)
	_ = si.Print(map[string]any{"greeting": greeting})
}
