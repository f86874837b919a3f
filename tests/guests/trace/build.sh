#!/bin/sh
# Rebuild tests/guests/trace/readpath.wasm from readpath.c with zig's clang (wasm32-wasi, wasi-libc).
# Needs: pip install ziglang (into the project's venv). The built .wasm is committed, so tests never need zig.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-python3}
cd "$here"
"$python" -m ziglang cc --target=wasm32-wasi -O2 -s -ffile-prefix-map="$here"=. -o readpath.wasm readpath.c
echo "built $here/readpath.wasm"
