//! sections-zig: echoes which request sections reached it and proves that no
//! runtime (rt.*) option or argument leaked into the header.
const std = @import("std");
const si = @import("sysinspect");

fn lessThan(_: void, a: []const u8, b: []const u8) bool {
    return std.mem.lessThan(u8, a, b);
}

fn keys(gpa: std.mem.Allocator, v: ?std.json.Value) ![]const []const u8 {
    const val = v orelse return &.{};
    if (val != .object) return &.{};
    const out = try gpa.dupe([]const u8, val.object.keys());
    std.mem.sort([]const u8, out, {}, lessThan);
    return out;
}

pub fn main(init: std.process.Init) !void {
    const io = init.io;
    const gpa = init.arena.allocator();
    const header = try si.readHeader(io, gpa);

    var opts: std.ArrayList([]const u8) = .empty;
    var leaked: std.ArrayList([]const u8) = .empty;
    if (header.section("opts")) |o| if (o == .array) for (o.array.items) |item| {
        if (item != .string) continue;
        try opts.append(gpa, item.string);
        if (std.mem.startsWith(u8, item.string, "rt.")) try leaked.append(gpa, try std.fmt.allocPrint(gpa, "opt:{s}", .{item.string}));
    };
    const args = try keys(gpa, header.section("args"));
    for (args) |k| if (std.mem.startsWith(u8, k, "rt.")) try leaked.append(gpa, try std.fmt.allocPrint(gpa, "arg:{s}", .{k}));

    try si.print(io, .{
        .args = args,
        .config = try keys(gpa, header.section("config")),
        .ext = try keys(gpa, header.section("ext")),
        .host = try keys(gpa, header.section("host")),
        .opts = opts.items,
        .rt_leaked = leaked.items,
        .sections = try keys(gpa, header.value),
    });
}
