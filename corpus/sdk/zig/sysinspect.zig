//! sysinspect.zig: guest SDK for Sysinspect Wasm modules written in Zig (0.17,
//! target wasm32-wasi). Copy this file into your project and add it as a module:
//!
//!     zig build-exe -target wasm32-wasi -O ReleaseSmall \
//!         --dep sysinspect -Mroot=main.zig -Msysinspect=sysinspect.zig
//!
//! It wraps the host API imported from the module namespace "api" (log, exec,
//! header, header_has, header_get, and upstream's PackageKit helpers as pk*),
//! gives upstream's host helpers (hasTrait, traitValue, paths, pathValue),
//! reads the request header (one JSON line on stdin) and opens absolute guest
//! paths through the WASI preopens.
const std = @import("std");
const Io = std.Io;
const Allocator = std.mem.Allocator;
const json = std.json;

// The raw host API (PROTOCOL section 2): pointers are offsets in this module's memory.
pub const raw = struct {
    pub extern "api" fn log(level: i32, msg: [*]const u8, len: i32) void;
    pub extern "api" fn exec(req: [*]const u8, req_len: i32, out: [*]u8, out_cap: i32) i32;
    pub extern "api" fn header(out: [*]u8, out_cap: i32) i32;
    pub extern "api" fn header_has(ptr: [*]const u8, len: i32) i32;
    pub extern "api" fn header_get(ptr: [*]const u8, len: i32, out: [*]u8, out_cap: i32) i32;
    pub extern "api" fn packagekit_available() i32;
    pub extern "api" fn packagekit_status(out: [*]u8, out_cap: i32) i32;
    pub extern "api" fn packagekit_packages(out: [*]u8, out_cap: i32) i32;
    pub extern "api" fn packagekit_history(req: [*]const u8, req_len: i32, out: [*]u8, out_cap: i32) i32;
    pub extern "api" fn packagekit_install(req: [*]const u8, req_len: i32, out: [*]u8, out_cap: i32) i32;
    pub extern "api" fn packagekit_remove(req: [*]const u8, req_len: i32, out: [*]u8, out_cap: i32) i32;
    pub extern "api" fn packagekit_upgrade(req: [*]const u8, req_len: i32, out: [*]u8, out_cap: i32) i32;
};

/// What the host returns for a malformed call.
pub const bad_call: i32 = -2;

pub const Level = enum(i32) { debug = 0, info = 1, warn = 2, err = 3 };

pub const Error = error{ BadCall, TooLarge } || Allocator.Error;

/// Append a line to the module log (returned under "__sysinspect-module-logs").
pub fn log(level: Level, msg: []const u8) void {
    if (msg.len == 0) return;
    raw.log(@intFromEnum(level), msg.ptr, @intCast(msg.len));
}

/// Format and log a line; the text is cut at 4 KiB.
pub fn logf(level: Level, comptime fmt: []const u8, args: anytype) void {
    var buf: [4096]u8 = undefined;
    const msg = std.fmt.bufPrint(&buf, fmt, args) catch buf[0..];
    log(level, msg);
}

fn grow(gpa: Allocator, ctx: anytype, comptime call: fn (@TypeOf(ctx), []u8) i32) Error![]u8 {
    return growFrom(4096, gpa, ctx, call);
}

fn growFrom(start: usize, gpa: Allocator, ctx: anytype, comptime call: fn (@TypeOf(ctx), []u8) i32) Error![]u8 {
    var cap: usize = start;
    while (cap <= 1 << 26) : (cap *= 4) {
        const buf = try gpa.alloc(u8, cap);
        const n = call(ctx, buf);
        if (n < 0) {
            gpa.free(buf);
            return error.BadCall;
        }
        const len: usize = @intCast(n);
        if (len < cap) return gpa.realloc(buf, len) catch buf[0..len];
        gpa.free(buf);
    }
    return error.TooLarge;
}

fn headerCall(_: void, out: []u8) i32 {
    return raw.header(out.ptr, @intCast(out.len));
}

fn getCall(pointer: []const u8, out: []u8) i32 {
    return raw.header_get(pointer.ptr, @intCast(pointer.len), out.ptr, @intCast(out.len));
}

/// The whole header as the host holds it (api.header). Caller owns the memory.
pub fn headerJson(gpa: Allocator) Error![]u8 {
    return grow(gpa, {}, headerCall);
}

/// Whether the JSON Pointer (RFC 6901) resolves in the header (api.header_has).
pub fn has(pointer: []const u8) bool {
    if (pointer.len == 0) return false;
    return raw.header_has(pointer.ptr, @intCast(pointer.len)) == 1;
}

/// The JSON text of the value at the pointer, "null" when absent (api.header_get).
pub fn get(gpa: Allocator, pointer: []const u8) Error![]u8 {
    if (pointer.len == 0) return error.BadCall;
    return grow(gpa, pointer, getCall);
}

// ---- host helpers (upstream's SDK: has, trait_value, paths, path_value) ----------------

/// `prefix` then `name` as one JSON Pointer token (`~` as `~0`, `/` as `~1`). Caller owns the memory.
fn hostPointer(gpa: Allocator, prefix: []const u8, name: []const u8) Allocator.Error![]u8 {
    var out: std.ArrayList(u8) = .empty;
    try out.appendSlice(gpa, prefix);
    for (name) |c| switch (c) {
        '~' => try out.appendSlice(gpa, "~0"),
        '/' => try out.appendSlice(gpa, "~1"),
        else => try out.append(gpa, c),
    };
    return out.toOwnedSlice(gpa);
}

fn hostValue(gpa: Allocator, prefix: []const u8, name: []const u8) Error!?[]u8 {
    const pointer = try hostPointer(gpa, prefix, name);
    defer gpa.free(pointer);
    if (!has(pointer)) return null;
    return try get(gpa, pointer);
}

/// Whether `host.traits.<name>` exists (upstream's `has(name)`).
pub fn hasTrait(gpa: Allocator, name: []const u8) Allocator.Error!bool {
    const pointer = try hostPointer(gpa, "/host/traits/", name);
    defer gpa.free(pointer);
    return has(pointer);
}

/// The JSON text of `host.traits.<name>`, null when there is no such trait (upstream's `trait_value`).
pub fn traitValue(gpa: Allocator, name: []const u8) Error!?[]u8 {
    return hostValue(gpa, "/host/traits/", name);
}

/// The JSON text of the whole `host.paths` object, `{}` when the host sent none (upstream's `paths()`).
pub fn paths(gpa: Allocator) Error![]u8 {
    if (has("/host/paths")) return get(gpa, "/host/paths");
    return gpa.dupe(u8, "{}");
}

/// The JSON text of `host.paths.<name>`, null when absent (upstream's `path_value`).
pub fn pathValue(gpa: Allocator, name: []const u8) Error!?[]u8 {
    return hostValue(gpa, "/host/paths/", name);
}

// ---- PackageKit (upstream's api.packagekit_* helpers) ----------------------------------
// Each returns the host's JSON answer (caller owns it): an object, the packages' array, or
// {"error": "..."} when PackageKit refused or failed; error.BadCall when the call was rejected.

/// Whether the host can reach PackageKit's system bus.
pub fn pkAvailable() bool {
    return raw.packagekit_available() == 1;
}

fn statusCall(_: void, out: []u8) i32 {
    return raw.packagekit_status(out.ptr, @intCast(out.len));
}

fn packagesCall(_: void, out: []u8) i32 {
    return raw.packagekit_packages(out.ptr, @intCast(out.len));
}

fn historyCall(req: []u8, out: []u8) i32 {
    return raw.packagekit_history(req.ptr, @intCast(req.len), out.ptr, @intCast(out.len));
}

/// The daemon's status: {"available", "backend_name", "daemon_state", ...}.
pub fn pkStatus(gpa: Allocator) Error![]u8 {
    return grow(gpa, {}, statusCall);
}

/// The installed packages: [{"info", "package_id", "name", "version", "arch", "data", "summary"}, ...].
/// (Long, and each retry asks the daemon again: the buffer starts at 1 MiB.)
pub fn pkPackages(gpa: Allocator) Error![]u8 {
    return growFrom(1 << 20, gpa, {}, packagesCall);
}

fn pkRequest(gpa: Allocator, names: []const []const u8, count: ?u32) ![]u8 {
    const Req = struct { names: []const []const u8, count: ?u32 };
    return json.Stringify.valueAlloc(gpa, Req{ .names = names, .count = count }, .{ .emit_null_optional_fields = false });
}

/// PackageKit's history of `names`, at most `count` entries each (null: the host's default, 10).
pub fn pkHistory(gpa: Allocator, names: []const []const u8, count: ?u32) ![]u8 {
    const req = try pkRequest(gpa, names, count);
    defer gpa.free(req);
    return grow(gpa, req, historyCall);
}

pub const Change = enum { install, remove, upgrade };

/// Install, remove or upgrade `names` (the host refuses an empty list): {"action", "requested",
/// "package_ids", "changed"} or {"error": ...}. One call, never repeated: a change must not run twice.
pub fn pkChange(gpa: Allocator, change: Change, names: []const []const u8) ![]u8 {
    const req = try pkRequest(gpa, names, null);
    defer gpa.free(req);
    const out = try gpa.alloc(u8, 1 << 20);
    const cap: i32 = @intCast(out.len);
    const n = switch (change) {
        .install => raw.packagekit_install(req.ptr, @intCast(req.len), out.ptr, cap),
        .remove => raw.packagekit_remove(req.ptr, @intCast(req.len), out.ptr, cap),
        .upgrade => raw.packagekit_upgrade(req.ptr, @intCast(req.len), out.ptr, cap),
    };
    if (n < 0) {
        gpa.free(out);
        return error.BadCall;
    }
    return out[0..@intCast(n)];
}

pub const ExecResult = struct {
    exit_code: i64 = -1,
    stdout: []const u8 = "",
    stderr: []const u8 = "",
    @"error": ?[]const u8 = null,
};

/// Run argv on the host through api.exec (no shell), optionally in cwd. The
/// command runs once; a JSON answer longer than `cap` bytes is an error.
pub fn exec(gpa: Allocator, argv: []const []const u8, cwd: ?[]const u8, cap: usize) !ExecResult {
    const Req = struct { argv: []const []const u8, cwd: ?[]const u8 };
    const req = try json.Stringify.valueAlloc(gpa, Req{ .argv = argv, .cwd = cwd }, .{ .emit_null_optional_fields = false });
    defer gpa.free(req);
    const out = try gpa.alloc(u8, cap);
    const n = raw.exec(req.ptr, @intCast(req.len), out.ptr, @intCast(out.len));
    if (n < 0) return error.BadCall;
    if (@as(usize, @intCast(n)) >= cap) return error.TooLarge;
    return json.parseFromSliceLeaky(ExecResult, gpa, out[0..@intCast(n)], .{ .ignore_unknown_fields = true });
}

/// The request header a module receives on stdin, parsed.
pub const Header = struct {
    raw: []const u8,
    value: json.Value,

    /// A top-level section ("opts", "args", "config", "ext", "host"), or null.
    pub fn section(self: Header, name: []const u8) ?json.Value {
        if (self.value != .object) return null;
        return self.value.object.get(name);
    }

    /// Whether the option is in "opts".
    pub fn hasOpt(self: Header, name: []const u8) bool {
        const opts = self.section("opts") orelse return false;
        if (opts != .array) return false;
        for (opts.array.items) |item| {
            if (item == .string and std.mem.eql(u8, item.string, name)) return true;
        }
        return false;
    }

    /// The string argument, or `default` when absent or not a string.
    pub fn arg(self: Header, name: []const u8, default: []const u8) []const u8 {
        const args = self.section("args") orelse return default;
        if (args != .object) return default;
        const v = args.object.get(name) orelse return default;
        return if (v == .string) v.string else default;
    }
};

/// Read the header line from stdin and parse it (memory from `gpa`, never freed
/// piecemeal: pass an arena).
pub fn readHeader(io: Io, gpa: Allocator) !Header {
    var buf: [4096]u8 = undefined;
    var reader = Io.File.stdin().readerStreaming(io, &buf);
    var line: std.ArrayList(u8) = .empty;
    while (true) {
        const b = reader.interface.takeByte() catch |e| switch (e) {
            error.EndOfStream => break,
            else => return e,
        };
        if (b == '\n') break;
        try line.append(gpa, b);
    }
    const value = try json.parseFromSliceLeaky(json.Value, gpa, line.items, .{});
    return .{ .raw = line.items, .value = value };
}

/// Write `value` as one compact JSON document and a newline to stdout.
pub fn print(io: Io, value: anytype) !void {
    var buf: [4096]u8 = undefined;
    var w = Io.File.stdout().writerStreaming(io, &buf);
    try json.Stringify.value(value, .{ .emit_null_optional_fields = false }, &w.interface);
    try w.interface.writeByte('\n');
    try w.interface.flush();
}

/// Write raw bytes to stdout.
pub fn writeOut(io: Io, bytes: []const u8) !void {
    try Io.File.stdout().writeStreamingAll(io, bytes);
}

/// Write raw bytes to stderr.
pub fn writeErr(io: Io, bytes: []const u8) !void {
    try Io.File.stderr().writeStreamingAll(io, bytes);
}

/// An absolute guest path resolved against the WASI preopens: the preopened
/// directory with the longest matching prefix, and the path relative to it.
pub const Resolved = struct { dir: Io.Dir, sub_path: []const u8 };

/// Resolve an absolute guest path ("/etc/os-release") to a preopen and a relative path.
pub fn resolve(preopens: std.process.Preopens, path: []const u8) ?Resolved {
    var best: ?Resolved = null;
    var best_len: usize = 0;
    for (preopens.map.keys(), 0..) |name, fd| {
        if (fd < 3) continue;
        const prefix = std.mem.trimEnd(u8, name, "/");
        if (!std.mem.startsWith(u8, path, prefix)) continue;
        const rest = path[prefix.len..];
        if (rest.len != 0 and rest[0] != '/') continue;
        if (best != null and prefix.len < best_len) continue;
        const rel = std.mem.trimStart(u8, rest, "/");
        best = .{ .dir = .{ .handle = @intCast(fd) }, .sub_path = if (rel.len == 0) "." else rel };
        best_len = prefix.len;
    }
    return best;
}

/// Open a file by absolute guest path, following symbolic links (Zig's own
/// WASI `openFile` does not follow them, and /etc/os-release is usually one).
/// `mode` .write creates or truncates the file.
pub fn openFile(preopens: std.process.Preopens, path: []const u8, mode: enum { read, write }) !Io.File {
    const wasi = std.os.wasi;
    const r = resolve(preopens, path) orelse return error.FileNotFound;
    var rights: wasi.rights_t = .{};
    var oflags: wasi.oflags_t = .{};
    switch (mode) {
        .read => {
            rights.FD_READ = true;
            rights.FD_SEEK = true;
            rights.FD_TELL = true;
            rights.FD_FILESTAT_GET = true;
        },
        .write => {
            rights.FD_WRITE = true;
            rights.FD_SEEK = true;
            rights.FD_TELL = true;
            rights.FD_FILESTAT_GET = true;
            oflags.CREAT = true;
            oflags.TRUNC = true;
        },
    }
    var fd: wasi.fd_t = undefined;
    return switch (wasi.path_open(r.dir.handle, .{ .SYMLINK_FOLLOW = true }, r.sub_path.ptr, r.sub_path.len, oflags, rights, .{}, .{}, &fd)) {
        .SUCCESS => .{ .handle = fd, .flags = .{ .nonblocking = false } },
        .NOENT => error.FileNotFound,
        .ACCES, .PERM, .NOTCAPABLE => error.AccessDenied,
        .ROFS => error.ReadOnlyFileSystem,
        .ISDIR => error.IsDir,
        .LOOP => error.SymLinkLoop,
        else => error.Unexpected,
    };
}

/// Read a whole file by absolute guest path (at most `limit` bytes).
pub fn readFile(io: Io, preopens: std.process.Preopens, gpa: Allocator, path: []const u8, limit: usize) ![]u8 {
    const file = try openFile(preopens, path, .read);
    defer file.close(io);
    var buf: [4096]u8 = undefined;
    var reader = file.readerStreaming(io, &buf);
    return reader.interface.allocRemaining(gpa, .limited(limit));
}

/// Create (or truncate) a file by absolute guest path and write `bytes` to it.
pub fn writeFile(io: Io, preopens: std.process.Preopens, path: []const u8, bytes: []const u8) !void {
    const file = try openFile(preopens, path, .write);
    defer file.close(io);
    try file.writeStreamingAll(io, bytes);
}

/// Documentation object printed for the option "man".
pub const DocItem = struct {
    name: []const u8,
    type: ?[]const u8 = null,
    required: bool = false,
    default: ?[]const u8 = null,
    description: []const u8,
};
pub const DocExample = struct { description: []const u8, code: []const u8 };
