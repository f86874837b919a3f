//! shape-stderr-zig: writes diagnostics to stderr (never part of the response)
//! and a small JSON object to stdout.
const std = @import("std");
const si = @import("sysinspect");

pub fn main(init: std.process.Init) !void {
    const io = init.io;
    _ = try si.readHeader(io, init.arena.allocator());
    try si.writeErr(io, "shape-stderr-zig: first diagnostic line\n");
    try si.writeErr(io, "shape-stderr-zig: second diagnostic line\n");
    try si.writeErr(io, "shape-stderr-zig: third diagnostic line\n");
    try si.print(io, .{ .stderr_lines = 3 });
}
