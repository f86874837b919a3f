//! osrelease-zig: returns one key of /etc/os-release, the Sysinspect way.
//! Argument "key" (default VERSION); option "nohello" drops the greeting;
//! option "man" prints the module's documentation.
const std = @import("std");
const si = @import("sysinspect");

const id = "osrelease-zig";

const Doc = struct {
    name: []const u8 = id,
    version: []const u8 = "0.1.0",
    author: []const u8 = "Sysinspect Wasm corpus",
    description: []const u8 = "Returns the value of one key of /etc/os-release.",
    arguments: []const si.DocItem = &.{.{ .name = "key", .type = "string", .default = "VERSION", .description = "The os-release key to return." }},
    options: []const si.DocItem = &.{
        .{ .name = "nohello", .description = "Do not add the greeting." },
        .{ .name = "man", .description = "Print this documentation and do nothing else." },
    },
    examples: []const si.DocExample = &.{.{ .description = "Return the distribution's pretty name.", .code = "args:\n  rt.mod: " ++ id ++ "\n  key: PRETTY_NAME" }},
    returns: struct { @"<key>": []const u8, hello: []const u8 } = .{
        .@"<key>" = "the value, or null when the key is absent",
        .hello = "a greeting, unless the option nohello is given",
    },
};

/// Strip os-release quoting: "..." or '...' with backslash escapes.
fn unquote(gpa: std.mem.Allocator, v: []const u8) ![]const u8 {
    if (v.len < 2 or (v[0] != '"' and v[0] != '\'') or v[v.len - 1] != v[0]) return v;
    var out: std.ArrayList(u8) = .empty;
    var i: usize = 1;
    while (i + 1 < v.len) : (i += 1) {
        if (v[i] == '\\' and i + 2 < v.len) i += 1;
        try out.append(gpa, v[i]);
    }
    return out.items;
}

pub fn main(init: std.process.Init) !void {
    const io = init.io;
    const gpa = init.arena.allocator();
    const header = try si.readHeader(io, gpa);
    if (header.hasOpt("man")) return si.print(io, Doc{});

    const key = header.arg("key", "VERSION");
    const text = try si.readFile(io, init.preopens, gpa, "/etc/os-release", 1 << 20);
    var value: ?[]const u8 = null;
    var lines = std.mem.splitScalar(u8, text, '\n');
    while (lines.next()) |line| {
        const trimmed = std.mem.trim(u8, line, " \t\r");
        const eq = std.mem.indexOfScalar(u8, trimmed, '=') orelse continue;
        if (std.mem.eql(u8, trimmed[0..eq], key)) {
            value = try unquote(gpa, trimmed[eq + 1 ..]);
            break;
        }
    }
    if (value == null) si.logf(.warn, "key {s} is not in /etc/os-release", .{key});

    var out: std.json.ObjectMap = .empty;
    try out.put(gpa, key, if (value) |v| .{ .string = v } else .null);
    if (!header.hasOpt("nohello")) try out.put(gpa, "hello", .{ .string = "Hello from " ++ id });
    try si.print(io, std.json.Value{ .object = out });
}
