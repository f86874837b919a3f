//! machineid-zig: reads /etc/machine-id and returns it.
const std = @import("std");
const si = @import("sysinspect");

pub fn main(init: std.process.Init) !void {
    const io = init.io;
    const gpa = init.arena.allocator();
    _ = try si.readHeader(io, gpa);
    const text = si.readFile(io, init.preopens, gpa, "/etc/machine-id", 4096) catch |e| {
        si.logf(.err, "cannot read /etc/machine-id: {s}", .{@errorName(e)});
        try si.print(io, .{ .@"error" = "cannot read /etc/machine-id" });
        std.process.exit(1);
    };
    try si.print(io, .{ .@"machine-id" = std.mem.trim(u8, text, " \r\n\t") });
}
