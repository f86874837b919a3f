//! shape-list-zig: prints a JSON list (the runtime returns it as data.data).
const std = @import("std");
const si = @import("sysinspect");

pub fn main(init: std.process.Init) !void {
    const io = init.io;
    _ = try si.readHeader(io, init.arena.allocator());
    try si.writeOut(io, "[1,\"two\",3.5,null,true,{\"k\":\"v\"},[]]\n");
}
