//! hostview-zig: upstream's host helpers and PackageKit wrappers, as a module author uses them.
//!
//! Arguments: trait (default "system.hostname"), path (default "sharelib"), pk (optional: available,
//! status, packages, history, install, remove or upgrade), names (package names), count (history).
//! Prints {"has", "trait", "paths", "path"} (null for what is absent), plus "pk_available" and the
//! helper's answer "pk" when pk is given.
const std = @import("std");
const si = @import("sysinspect");

fn field(gpa: std.mem.Allocator, out: *std.ArrayList(u8), key: []const u8, raw_json: ?[]const u8) !void {
    try out.appendSlice(gpa, if (out.items.len == 1) "\"" else ",\"");
    try out.appendSlice(gpa, key);
    try out.appendSlice(gpa, "\":");
    try out.appendSlice(gpa, raw_json orelse "null");
}

pub fn main(init: std.process.Init) !void {
    const io = init.io;
    const gpa = init.arena.allocator();
    const header = try si.readHeader(io, gpa);
    const trait_name = header.arg("trait", "system.hostname");
    const path_name = header.arg("path", "sharelib");

    var out: std.ArrayList(u8) = .empty;
    try out.append(gpa, '{');
    try field(gpa, &out, "has", if (try si.hasTrait(gpa, trait_name)) "true" else "false");
    try field(gpa, &out, "trait", try si.traitValue(gpa, trait_name));
    try field(gpa, &out, "paths", try si.paths(gpa));
    try field(gpa, &out, "path", try si.pathValue(gpa, path_name));

    const op = header.arg("pk", "");
    if (op.len > 0) {
        var names: std.ArrayList([]const u8) = .empty;
        var count: ?u32 = null;
        if (header.section("args")) |args| if (args == .object) {
            if (args.object.get("names")) |list| if (list == .array) for (list.array.items) |item| {
                if (item == .string) try names.append(gpa, item.string);
            };
            if (args.object.get("count")) |c| if (c == .integer) {
                count = @intCast(c.integer);
            };
        };
        const answer: ?[]u8 = if (std.mem.eql(u8, op, "status"))
            try si.pkStatus(gpa)
        else if (std.mem.eql(u8, op, "packages"))
            try si.pkPackages(gpa)
        else if (std.mem.eql(u8, op, "history"))
            try si.pkHistory(gpa, names.items, count)
        else if (std.mem.eql(u8, op, "install"))
            try si.pkChange(gpa, .install, names.items)
        else if (std.mem.eql(u8, op, "remove"))
            try si.pkChange(gpa, .remove, names.items)
        else if (std.mem.eql(u8, op, "upgrade"))
            try si.pkChange(gpa, .upgrade, names.items)
        else
            null;
        try field(gpa, &out, "pk_available", if (si.pkAvailable()) "true" else "false");
        try field(gpa, &out, "pk", answer);
    }
    try out.appendSlice(gpa, "}\n");
    try si.writeOut(io, out.items);
}
