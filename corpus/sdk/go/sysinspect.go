// Package sysinspect is the guest SDK for Sysinspect Wasm modules written in Go
// (GOOS=wasip1 GOARCH=wasm). It wraps the host API imported from the module
// namespace "api" (log, exec, header, header_has, header_get, and upstream's
// PackageKit helpers as PackageKit*), gives upstream's host helpers (HasTrait,
// TraitValue, Paths, PathValue) and reads the request header, the single JSON
// line the runtime writes to the module's stdin.
//
// Copy this folder into your project (or point a replace directive at it) and
// import it as "sysinspect/sdk".
package sysinspect

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unsafe"
)

// Level is a log level for Log.
type Level int32

// Log levels understood by the host; anything else is logged as INFO.
const (
	Debug Level = 0
	Info  Level = 1
	Warn  Level = 2
	Error Level = 3
)

// BadCall is what the host returns when a call was malformed (bad pointer,
// empty buffer, invalid JSON request).
const BadCall = -2

//go:wasmimport api log
func apiLog(level int32, ptr unsafe.Pointer, size int32)

//go:wasmimport api exec
func apiExec(reqPtr unsafe.Pointer, reqLen int32, outPtr unsafe.Pointer, outCap int32) int32

//go:wasmimport api header
func apiHeader(outPtr unsafe.Pointer, outCap int32) int32

//go:wasmimport api header_has
func apiHeaderHas(ptr unsafe.Pointer, size int32) int32

//go:wasmimport api header_get
func apiHeaderGet(ptr unsafe.Pointer, size int32, outPtr unsafe.Pointer, outCap int32) int32

//go:wasmimport api packagekit_available
func apiPackageKitAvailable() int32

//go:wasmimport api packagekit_status
func apiPackageKitStatus(outPtr unsafe.Pointer, outCap int32) int32

//go:wasmimport api packagekit_packages
func apiPackageKitPackages(outPtr unsafe.Pointer, outCap int32) int32

//go:wasmimport api packagekit_history
func apiPackageKitHistory(reqPtr unsafe.Pointer, reqLen int32, outPtr unsafe.Pointer, outCap int32) int32

//go:wasmimport api packagekit_install
func apiPackageKitInstall(reqPtr unsafe.Pointer, reqLen int32, outPtr unsafe.Pointer, outCap int32) int32

//go:wasmimport api packagekit_remove
func apiPackageKitRemove(reqPtr unsafe.Pointer, reqLen int32, outPtr unsafe.Pointer, outCap int32) int32

//go:wasmimport api packagekit_upgrade
func apiPackageKitUpgrade(reqPtr unsafe.Pointer, reqLen int32, outPtr unsafe.Pointer, outCap int32) int32

func bytesPtr(b []byte) unsafe.Pointer {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Pointer(unsafe.SliceData(b))
}

// ErrBadCall reports that the host rejected a call (return value -2).
var ErrBadCall = errors.New("sysinspect: the host rejected the call (-2)")

// Log appends a line to the module's log, which the runtime returns under
// "__sysinspect-module-logs". Empty messages are dropped by the host.
func Log(level Level, msg string) {
	b := []byte(msg)
	if len(b) == 0 {
		return
	}
	apiLog(int32(level), bytesPtr(b), int32(len(b)))
}

// Logf formats and logs a line.
func Logf(level Level, format string, args ...any) {
	Log(level, fmt.Sprintf(format, args...))
}

// ExecResult is what api.exec reports about a finished host command. Error is
// set instead when the host refused or could not handle the request.
type ExecResult struct {
	ExitCode int    `json:"exit_code"`
	Stdout   string `json:"stdout"`
	Stderr   string `json:"stderr"`
	Error    string `json:"error,omitempty"`
}

// DefaultExecCapacity is the output buffer Exec hands the host: the command's
// JSON-encoded result is cut to this many bytes.
const DefaultExecCapacity = 1 << 20

// Exec runs argv on the host (no shell), optionally in cwd, and returns its
// result. The command runs once; a result longer than capacity bytes is cut
// by the host and reported as an error here.
func Exec(argv []string, cwd string, capacity int) (ExecResult, error) {
	var res ExecResult
	if capacity <= 0 {
		capacity = DefaultExecCapacity
	}
	req := map[string]any{"argv": argv}
	if cwd != "" {
		req["cwd"] = cwd
	}
	body, err := json.Marshal(req)
	if err != nil {
		return res, err
	}
	out := make([]byte, capacity)
	n := apiExec(bytesPtr(body), int32(len(body)), bytesPtr(out), int32(len(out)))
	if n < 0 {
		return res, ErrBadCall
	}
	if int(n) >= capacity {
		return res, fmt.Errorf("sysinspect: exec result exceeds %d bytes", capacity)
	}
	if err := json.Unmarshal(out[:n], &res); err != nil {
		return res, err
	}
	return res, nil
}

// callGrowing calls fn with a growing buffer until the answer fits.
func callGrowing(fn func(out []byte) int32) ([]byte, error) {
	return callGrowingFrom(4096, fn)
}

// callGrowingFrom is callGrowing with a first buffer of size bytes.
func callGrowingFrom(size int, fn func(out []byte) int32) ([]byte, error) {
	for size <= 1<<26 {
		out := make([]byte, size)
		n := fn(out)
		if n < 0 {
			return nil, ErrBadCall
		}
		if int(n) < size {
			return out[:n], nil
		}
		size *= 4
	}
	return nil, errors.New("sysinspect: host answer too large")
}

// HeaderJSON returns the whole request header as the host holds it (api.header).
func HeaderJSON() ([]byte, error) {
	return callGrowing(func(out []byte) int32 { return apiHeader(bytesPtr(out), int32(len(out))) })
}

// Has reports whether the JSON Pointer (RFC 6901, e.g. "/host/traits/system.os")
// resolves in the header (api.header_has).
func Has(pointer string) bool {
	b := []byte(pointer)
	if len(b) == 0 {
		return false
	}
	return apiHeaderHas(bytesPtr(b), int32(len(b))) == 1
}

// Get returns the JSON value at the pointer, or the JSON text "null" when it
// does not resolve (api.header_get).
func Get(pointer string) (json.RawMessage, error) {
	b := []byte(pointer)
	if len(b) == 0 {
		return nil, ErrBadCall
	}
	raw, err := callGrowing(func(out []byte) int32 {
		return apiHeaderGet(bytesPtr(b), int32(len(b)), bytesPtr(out), int32(len(out)))
	})
	return json.RawMessage(raw), err
}

// ---- host helpers (upstream's SDK: has, trait_value, paths, path_value) ----

// EscapePointerSegment writes name as one JSON Pointer token: "~" as "~0", "/" as "~1".
func EscapePointerSegment(name string) string {
	return strings.ReplaceAll(strings.ReplaceAll(name, "~", "~0"), "/", "~1")
}

func hostValue(section, name string) (json.RawMessage, bool) {
	pointer := "/host/" + section + "/" + EscapePointerSegment(name)
	if !Has(pointer) {
		return nil, false
	}
	raw, err := Get(pointer)
	return raw, err == nil
}

// HasTrait reports whether host.traits has the trait name (upstream's has(name)).
func HasTrait(name string) bool {
	return Has("/host/traits/" + EscapePointerSegment(name))
}

// TraitValue returns the JSON value of host.traits.<name>; ok is false when there
// is no such trait (upstream's trait_value).
func TraitValue(name string) (value json.RawMessage, ok bool) {
	return hostValue("traits", name)
}

// Paths returns the whole host.paths object, {} when the host sent none
// (upstream's paths()).
func Paths() json.RawMessage {
	if Has("/host/paths") {
		if raw, err := Get("/host/paths"); err == nil {
			return raw
		}
	}
	return json.RawMessage("{}")
}

// PathValue returns the JSON value of host.paths.<name>; ok is false when absent
// (upstream's path_value).
func PathValue(name string) (value json.RawMessage, ok bool) {
	return hostValue("paths", name)
}

// ---- PackageKit (upstream's api.packagekit_* helpers) ----

// PackageKitError is an {"error": "..."} answer: PackageKit refused or failed.
type PackageKitError struct{ Message string }

func (e *PackageKitError) Error() string { return e.Message }

// PackageKitStatus is the daemon's state as packagekit_status reports it.
type PackageKitStatus struct {
	Available    bool     `json:"available"`
	BackendName  string   `json:"backend_name"`
	DaemonState  string   `json:"daemon_state"`
	DistroID     string   `json:"distro_id"`
	Locked       bool     `json:"locked"`
	NetworkState uint32   `json:"network_state"`
	Transactions []string `json:"transactions"`
	VersionMajor uint32   `json:"version_major"`
	VersionMicro uint32   `json:"version_micro"`
	VersionMinor uint32   `json:"version_minor"`
}

// PackageKitPackage is one installed package as packagekit_packages reports it.
type PackageKitPackage struct {
	Info      uint32 `json:"info"`
	PackageID string `json:"package_id"`
	Name      string `json:"name"`
	Version   string `json:"version"`
	Arch      string `json:"arch"`
	Data      string `json:"data"`
	Summary   string `json:"summary"`
}

// PackageKitChange is what install, remove and upgrade report. Changed holds, as upstream,
// the sorted package ids PackageKit reported changing (the resolved ids when it reported none).
type PackageKitChange struct {
	Action     string   `json:"action"`
	Requested  []string `json:"requested"`
	PackageIDs []string `json:"package_ids"`
	Changed    []string `json:"changed"`
}

// decodeAnswer turns an {"error": ...} answer into a *PackageKitError, else decodes it into v.
func decodeAnswer(raw []byte, v any) error {
	var failure struct {
		Error *string `json:"error"`
	}
	if json.Unmarshal(raw, &failure) == nil && failure.Error != nil {
		return &PackageKitError{*failure.Error}
	}
	return json.Unmarshal(raw, v)
}

// PackageKitAvailable reports whether the host can reach PackageKit's system bus.
func PackageKitAvailable() bool { return apiPackageKitAvailable() == 1 }

// PackageKitStatusNow asks the daemon for its status.
func PackageKitStatusNow() (PackageKitStatus, error) {
	var status PackageKitStatus
	raw, err := callGrowing(func(out []byte) int32 { return apiPackageKitStatus(bytesPtr(out), int32(len(out))) })
	if err != nil {
		return status, err
	}
	return status, decodeAnswer(raw, &status)
}

// PackageKitPackages lists the installed packages. (The list is long, and each
// retry asks the daemon again: the buffer starts at 1 MiB.)
func PackageKitPackages() ([]PackageKitPackage, error) {
	var packages []PackageKitPackage
	raw, err := callGrowingFrom(1<<20, func(out []byte) int32 { return apiPackageKitPackages(bytesPtr(out), int32(len(out))) })
	if err != nil {
		return nil, err
	}
	return packages, decodeAnswer(raw, &packages)
}

func packageKitRequest(names []string, count int) []byte {
	if names == nil {
		names = []string{}
	}
	req := map[string]any{"names": names}
	if count >= 0 {
		req["count"] = count
	}
	body, _ := json.Marshal(req)
	return body
}

// PackageKitHistory returns the history of the named packages, at most count
// entries each (count < 0: the host's default, 10).
func PackageKitHistory(names []string, count int) (map[string][]map[string]any, error) {
	body := packageKitRequest(names, count)
	raw, err := callGrowing(func(out []byte) int32 {
		return apiPackageKitHistory(bytesPtr(body), int32(len(body)), bytesPtr(out), int32(len(out)))
	})
	if err != nil {
		return nil, err
	}
	history := map[string][]map[string]any{}
	return history, decodeAnswer(raw, &history)
}

// packageKitChange calls once, never again with a larger buffer: a change must not run twice.
func packageKitChange(call func(unsafe.Pointer, int32, unsafe.Pointer, int32) int32, names []string) (PackageKitChange, error) {
	var change PackageKitChange
	body := packageKitRequest(names, -1)
	out := make([]byte, 1<<20)
	n := call(bytesPtr(body), int32(len(body)), bytesPtr(out), int32(len(out)))
	if n < 0 {
		return change, ErrBadCall
	}
	return change, decodeAnswer(out[:n], &change)
}

// PackageKitInstall installs the named packages (the host refuses an empty list).
func PackageKitInstall(names []string) (PackageKitChange, error) {
	return packageKitChange(apiPackageKitInstall, names)
}

// PackageKitRemove removes the named packages (the host refuses an empty list).
func PackageKitRemove(names []string) (PackageKitChange, error) {
	return packageKitChange(apiPackageKitRemove, names)
}

// PackageKitUpgrade upgrades the named packages (the host refuses an empty list:
// never the whole system).
func PackageKitUpgrade(names []string) (PackageKitChange, error) {
	return packageKitChange(apiPackageKitUpgrade, names)
}

// Header is the request header a module receives on stdin.
type Header struct {
	Opts   []string       `json:"opts"`
	Args   map[string]any `json:"args"`
	Config map[string]any `json:"config"`
	Ext    map[string]any `json:"ext"`
	Host   map[string]any `json:"host"`
	// Raw is the line as it was read, without the trailing newline.
	Raw []byte `json:"-"`
}

// ReadHeader reads and decodes the header line from stdin.
func ReadHeader() (*Header, error) {
	return ReadHeaderFrom(os.Stdin)
}

// ReadHeaderFrom reads and decodes the first line of r as a header.
func ReadHeaderFrom(r io.Reader) (*Header, error) {
	line, err := bufio.NewReader(r).ReadBytes('\n')
	if err != nil && !(errors.Is(err, io.EOF) && len(line) > 0) {
		return nil, fmt.Errorf("sysinspect: reading the header: %w", err)
	}
	if n := len(line); n > 0 && line[n-1] == '\n' {
		line = line[:n-1]
	}
	h := &Header{Raw: line}
	if err := json.Unmarshal(line, h); err != nil {
		return nil, fmt.Errorf("sysinspect: decoding the header: %w", err)
	}
	return h, nil
}

// HasOpt reports whether the option name was given.
func (h *Header) HasOpt(name string) bool {
	for _, o := range h.Opts {
		if o == name {
			return true
		}
	}
	return false
}

// Arg returns the string argument name, or def when it is absent or not a
// string.
func (h *Header) Arg(name, def string) string {
	if v, ok := h.Args[name].(string); ok {
		return v
	}
	return def
}

// DocItem documents one argument or option of a module.
type DocItem struct {
	Name        string `json:"name"`
	Type        string `json:"type,omitempty"`
	Required    bool   `json:"required"`
	Default     any    `json:"default,omitempty"`
	Description string `json:"description"`
}

// DocExample is one documented way to call a module.
type DocExample struct {
	Description string `json:"description"`
	Code        string `json:"code"`
}

// Doc is the documentation object a module prints for the option "man".
type Doc struct {
	Name        string       `json:"name"`
	Version     string       `json:"version"`
	Author      string       `json:"author"`
	Description string       `json:"description"`
	Arguments   []DocItem    `json:"arguments"`
	Options     []DocItem    `json:"options"`
	Examples    []DocExample `json:"examples"`
	Returns     any          `json:"returns"`
}

// Print writes v as one compact JSON document and a newline to stdout.
func Print(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	_, err = os.Stdout.Write(b)
	return err
}

// Fail prints {"error": msg} and exits with status code.
func Fail(code int, msg string) {
	_ = Print(map[string]string{"error": msg})
	os.Exit(code)
}
