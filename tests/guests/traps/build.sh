#!/bin/sh
# Rebuild the trapping test modules (C, C++, Zig, Rust) with debug info, from the sources beside this script.
# Each traps a few calls deep; tests/test_backtrace.py holds both backends' backtraces of them to wasmtime's own.
# Needs: the project's venv with ziglang (C and Zig: `python -m ziglang`), and Debian's rustc with the wasm32-wasi
# std and lld-14 (`apt-get install rustc libstd-rust-dev-wasm32 lld-14`, as corpus/build.py installs them).
# The sources are compiled in a fixed folder, so the DWARF names the same paths wherever the checkout is; the
# paths of the toolchains' own libraries (wasi-libc, Zig's std) are those of this machine. The .wasm files are
# committed, so tests never need the toolchains.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-python3}
rustc=${RUSTC:-/usr/bin/rustc}
build=/tmp/sysinspect-trapchain
rm -rf "$build" && mkdir -p "$build"
cp "$here/trapchain.c" "$here/trapchain.cpp" "$here/trapchain.zig" "$here/trapchain.rs" "$build/"
cd "$build"
export ZIG_GLOBAL_CACHE_DIR="$build/zig-global" ZIG_LOCAL_CACHE_DIR="$build/zig-local"
# C: -O1 keeps the calls (noinline) and inlines share_of (always_inline), so one frame has an inlined frame
"$python" -m ziglang cc --target=wasm32-wasi -O1 -g -ffile-prefix-map="$build"=. -o trapchain-c.wasm trapchain.c
# C++: wasm-ld writes demangled names into the name section (as wasmtime shows them)
"$python" -m ziglang c++ --target=wasm32-wasi -O1 -g -fno-exceptions -ffile-prefix-map="$build"=. \
    -o trapchain-cpp.wasm trapchain.cpp
# Zig: Debug is a safe mode; ReleaseSafe would do too, but there wasmtime reports the panic's final trap at the
# branch that leads to it (Cranelift folds the two), a line away from the trap itself (see README, "Debugging")
"$python" -m ziglang build-exe -target wasm32-wasi -O Debug --name trapchain-zig trapchain.zig
# Rust: debug info (Cargo's `debug = true` is rustc's -g); fat LTO drops the std code the module never calls,
# and its debug info with it (6 MB less)
"$rustc" --edition 2021 --target wasm32-wasi -g -C opt-level=1 -C lto=fat -C panic=abort -C codegen-units=1 \
    --remap-path-prefix="$build"=. -o trapchain-rust.wasm trapchain.rs
cp trapchain-c.wasm trapchain-cpp.wasm trapchain-zig.wasm trapchain-rust.wasm "$here/"
echo "built $here/trapchain-c.wasm trapchain-cpp.wasm trapchain-zig.wasm trapchain-rust.wasm"
