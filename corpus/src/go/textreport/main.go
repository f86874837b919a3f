// textreport-go renders a report of its argument "data" through a Go
// template, the way an operator's reporting module would.
//
// Argument "template" (text/template syntax, default a key: value listing)
// is applied to "data" (any JSON). Argument "format" picks the output: text
// (default), html (html/template: values escaped) or xml (the data as an XML
// document). The response also carries the digests of the rendered text.
//
// It deliberately uses the larger parts of Go's standard library (templates,
// XML, several hashes): a module of several MB whose native
// code is larger than the 10 MiB a minion lets a module process write in one
// file (PROTOCOL.md 5.4), so the runtime's split artifacts are exercised by a
// real module.
package main

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	htmltemplate "html/template"
	"hash/crc32"
	"regexp"
	"sort"
	"strings"
	"text/template"

	si "sysinspect/sdk"
)

const id = "textreport-go"

const defaultTemplate = "{{range $k, $v := .}}{{$k}}: {{$v}}\n{{end}}"

func doc() si.Doc {
	return si.Doc{
		Name:        id,
		Version:     "0.1.0",
		Author:      "Sysinspect Wasm corpus",
		Description: "Renders argument data through a Go template (text, html or xml) and returns the text with its digests.",
		Arguments: []si.DocItem{
			{Name: "data", Type: "any", Required: false, Description: "The JSON value to report on (default {})."},
			{Name: "template", Type: "string", Required: false, Default: defaultTemplate,
				Description: "A Go text/template applied to data."},
			{Name: "format", Type: "string", Required: false, Default: "text", Description: "text, html or xml."},
		},
		Options: []si.DocItem{{Name: "man", Description: "Print this documentation and do nothing else."}},
		Examples: []si.DocExample{{
			Description: "One line per key of a mapping.",
			Code:        "module: wasm." + id + "\nargs:\n  data: {cpu: 4, mem: 16}",
		}},
		Returns: map[string]any{
			"text":    "the rendered report",
			"lines":   "its number of lines",
			"digests": "md5, sha1, sha256, sha512 and crc32 of the text, in hex",
			"words":   "the distinct words of the text, sorted",
		},
	}
}

type xmlNode struct {
	XMLName  xml.Name
	Value    string    `xml:",chardata"`
	Children []xmlNode `xml:",any"`
}

var nameChars = regexp.MustCompile(`[^A-Za-z0-9_.-]`)

func toXML(name string, v any) xmlNode {
	clean := nameChars.ReplaceAllString(name, "_")
	if clean == "" || strings.ContainsAny(clean[:1], "0123456789.-") {
		clean = "n" + clean
	}
	node := xmlNode{XMLName: xml.Name{Local: clean}}
	switch value := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(value))
		for k := range value {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			node.Children = append(node.Children, toXML(k, value[k]))
		}
	case []any:
		for _, item := range value {
			node.Children = append(node.Children, toXML("item", item))
		}
	case nil:
	case string:
		node.Value = value
	default:
		raw, _ := json.Marshal(value)
		node.Value = strings.Trim(string(raw), `"`)
	}
	return node
}

func render(format, text string, data any) (string, error) {
	var out bytes.Buffer
	switch format {
	case "text":
		t, err := template.New("report").Option("missingkey=zero").Parse(text)
		if err != nil {
			return "", err
		}
		err = t.Execute(&out, data)
		return out.String(), err
	case "html":
		t, err := htmltemplate.New("report").Parse(text)
		if err != nil {
			return "", err
		}
		err = t.Execute(&out, data)
		return out.String(), err
	case "xml":
		raw, err := xml.MarshalIndent(toXML("report", data), "", "  ")
		return xml.Header + string(raw) + "\n", err
	}
	return "", errors.New("format " + format + " is not one of text, html, xml")
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
	var data any = map[string]any{}
	if raw, ok := h.Args["data"]; ok {
		data = raw
	}
	format := h.Arg("format", "text")
	text, err := render(format, h.Arg("template", defaultTemplate), data)
	if err != nil {
		si.Fail(1, "cannot render the report: "+err.Error())
	}
	sum := func(b []byte) string { return hex.EncodeToString(b) }
	m5, s1, s256, s512 := md5.Sum([]byte(text)), sha1.Sum([]byte(text)), sha256.Sum256([]byte(text)), sha512.Sum512([]byte(text))
	words := map[string]bool{}
	for _, w := range strings.Fields(text) {
		words[w] = true
	}
	sorted := make([]string, 0, len(words))
	for w := range words {
		sorted = append(sorted, w)
	}
	sort.Strings(sorted)
	_ = si.Print(map[string]any{
		"text":  text,
		"lines": strings.Count(text, "\n"),
		"words": sorted,
		"digests": map[string]string{
			"md5": sum(m5[:]), "sha1": sum(s1[:]), "sha256": sum(s256[:]), "sha512": sum(s512[:]),
			"crc32": hexCRC(text),
		},
	})
}

func hexCRC(text string) string {
	v := crc32.ChecksumIEEE([]byte(text))
	return hex.EncodeToString([]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}
