//! compute-int-zig: integer arithmetic edge cases with exact answers:
//! wrapping add/sub/mul, signed division and remainder (truncated and
//! floored), shifts by large counts, rotations, bit counts, widening
//! multiplication, 128-bit arithmetic and saturating operations. 64-bit
//! values are printed as decimal strings (JSON numbers lose them).
const std = @import("std");
const si = @import("sysinspect");

fn opaqueI32(x: i32) i32 {
    return @as(*volatile const i32, &x).*;
}
fn opaqueI64(x: i64) i64 {
    return @as(*volatile const i64, &x).*;
}
fn opaqueU32(x: u32) u32 {
    return @as(*volatile const u32, &x).*;
}
fn opaqueU64(x: u64) u64 {
    return @as(*volatile const u64, &x).*;
}

pub fn main(init: std.process.Init) !void {
    const io = init.io;
    const gpa = init.arena.allocator();
    _ = try si.readHeader(io, gpa);

    const imax = opaqueI32(std.math.maxInt(i32));
    const imin = opaqueI32(std.math.minInt(i32));
    const lmax = opaqueI64(std.math.maxInt(i64));
    const lmin = opaqueI64(std.math.minInt(i64));
    const m7 = opaqueI32(-7);
    const two = opaqueI32(2);
    const u = opaqueU32(0x8000_0001);
    const big = opaqueU64(0xDEAD_BEEF_CAFE_BABE);
    const s33 = @as(u5, @truncate(opaqueU32(33)));
    const s65 = @as(u6, @truncate(opaqueU64(65)));

    var out: std.json.ObjectMap = .empty;
    const put = struct {
        fn int(m: *std.json.ObjectMap, a: std.mem.Allocator, k: []const u8, v: i64) !void {
            try m.put(a, k, .{ .integer = v });
        }
        fn str(m: *std.json.ObjectMap, a: std.mem.Allocator, k: []const u8, v: anytype) !void {
            try m.put(a, k, .{ .string = try std.fmt.allocPrint(a, "{d}", .{v}) });
        }
    };
    try put.int(&out, gpa, "i32_max_plus_1_wrap", imax +% 1);
    try put.int(&out, gpa, "i32_min_minus_1_wrap", imin -% 1);
    try put.int(&out, gpa, "i32_max_times_2_wrap", imax *% 2);
    try put.int(&out, gpa, "i32_min_neg_wrap", 0 -% imin);
    try put.int(&out, gpa, "div_trunc_-7_2", @divTrunc(m7, two));
    try put.int(&out, gpa, "div_floor_-7_2", @divFloor(m7, two));
    try put.int(&out, gpa, "rem_-7_2", @rem(m7, two));
    try put.int(&out, gpa, "mod_-7_2", @mod(m7, two));
    try put.int(&out, gpa, "u32_shl_33_masked", u << s33);
    try put.int(&out, gpa, "u32_shr_33_masked", u >> s33);
    try put.int(&out, gpa, "i32_sar_min_31", imin >> 31);
    try put.int(&out, gpa, "u32_rotl_1", std.math.rotl(u32, u, 1));
    try put.int(&out, gpa, "u32_rotr_1", std.math.rotr(u32, u, 1));
    try put.int(&out, gpa, "u32_clz", @clz(opaqueU32(0x0000_F000)));
    try put.int(&out, gpa, "u32_ctz", @ctz(opaqueU32(0x0000_F000)));
    try put.int(&out, gpa, "u32_popcount", @popCount(u));
    try put.int(&out, gpa, "u64_clz_zero", @clz(opaqueU64(0)));
    try put.int(&out, gpa, "i32_sat_add", imax +| 5);
    try put.int(&out, gpa, "i32_sat_sub", imin -| 5);
    try put.int(&out, gpa, "i8_sign_extend", @as(i8, @bitCast(@as(u8, @truncate(opaqueU32(0xF0))))));
    try put.int(&out, gpa, "i16_sign_extend", @as(i16, @bitCast(@as(u16, @truncate(opaqueU32(0x8001))))));
    try put.str(&out, gpa, "i64_max_plus_1_wrap", lmax +% 1);
    try put.str(&out, gpa, "i64_min_div_2", @divTrunc(lmin, 2));
    try put.str(&out, gpa, "u64_mul_wrap", big *% big);
    try put.str(&out, gpa, "u64_shl_65_masked", big << s65);
    try put.str(&out, gpa, "u64_rotl_13", std.math.rotl(u64, big, 13));
    try put.str(&out, gpa, "u64_popcount", @popCount(big));
    try put.str(&out, gpa, "u64_widening_mul_hi", @as(u64, @truncate((@as(u128, big) * @as(u128, big)) >> 64)));
    try put.str(&out, gpa, "i128_product", @as(i128, lmax) * @as(i128, lmin));
    try put.str(&out, gpa, "u64_div", big / opaqueU64(1000003));
    try put.str(&out, gpa, "u64_rem", big % opaqueU64(1000003));
    try si.print(io, std.json.Value{ .object = out });
}
