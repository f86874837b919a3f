// A Zig module built in a safe mode that indexes out of bounds three calls deep:
// main -> pickSlot -> slotAt; the bounds check panics, and the panic ends in a trap.
const std = @import("std");

var slots = [_]u32{ 10, 20, 30, 40 };

noinline fn slotAt(index: usize) u32 {
    return slots[index];
}

noinline fn pickSlot(arg_count: usize) u32 {
    const index = arg_count + 7;
    return slotAt(index);
}

pub fn main(init: std.process.Init) !void {
    const args = try init.minimal.args.toSlice(init.arena.allocator());
    const count = args.len;
    const slot = pickSlot(count);
    var buffer: [64]u8 = undefined;
    const line = try std.fmt.bufPrint(&buffer, "{{\"slot\": {d}}}\n", .{slot});
    try std.Io.File.stdout().writeStreamingAll(init.io, line);
}
