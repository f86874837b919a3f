//! @ID@: a Sysinspect module written in Zig (WASI preview 1).
//!
//! It greets whoever the argument "name" names (default "world"); the option
//! "shout" greets in capitals, and the option "man" prints this module's
//! documentation instead of running.
const std = @import("std");
const si = @import("sysinspect");

const id = "@ID@";

const Doc = struct {
    name: []const u8 = id,
    version: []const u8 = "0.1.0",
    author: []const u8 = "",
    description: []const u8 = "Greets whoever the argument name names.",
    arguments: []const si.DocItem = &.{.{ .name = "name", .type = "string", .default = "world", .description = "Who to greet." }},
    options: []const si.DocItem = &.{
        .{ .name = "shout", .description = "Greet in capitals." },
        .{ .name = "man", .description = "Print this documentation and do nothing else." },
    },
    examples: []const si.DocExample = &.{.{ .description = "Greet the minion.", .code = "{\"args\": {\"name\": \"minion\"}}" }},
    returns: struct { description: []const u8, sample: struct { greeting: []const u8 } } = .{
        .description = "The greeting.",
        .sample = .{ .greeting = "Hello, minion!" },
    },
};

pub fn main(init: std.process.Init) !void {
    const io = init.io;
    const gpa = init.arena.allocator();
    const header = try si.readHeader(io, gpa);
    if (header.hasOpt("man")) return si.print(io, Doc{});

    const name = header.arg("name", "world");
    const greeting = try std.fmt.allocPrint(gpa, "Hello, {s}!", .{name});
    if (header.hasOpt("shout")) {
        for (greeting) |*c| c.* = std.ascii.toUpper(c.*);
    }
    si.logf(.info, "greeting {s}", .{name});
    try si.print(io, .{ .greeting = greeting });
}
