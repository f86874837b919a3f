#!/bin/sh
# Rebuild tests/guests/fsprobe.wasm from fsprobe.c with zig's clang (wasm32-wasi, wasi-libc).
# Needs: pip install ziglang (into the project's venv). The built .wasm is committed, so tests never need zig.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-python3}
"$python" -m ziglang cc --target=wasm32-wasi -O2 -s -o "$here/fsprobe.wasm" "$here/fsprobe.c"
echo "built $here/fsprobe.wasm"
