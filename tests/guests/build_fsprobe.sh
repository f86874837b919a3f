#!/bin/sh
# Rebuild the filesystem probe from fsprobe.c with zig's clang (wasm32-wasi, wasi-libc). The .wasm ships in the
# differential package (wasm-runtime diff runs it), so it is written there; it is committed, so tests never need zig.
# Needs: pip install ziglang (into the project's venv).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-python3}
out="$here/../../differential/sysinspect_wasm_differential/guests/fsprobe.wasm"
"$python" -m ziglang cc --target=wasm32-wasi -O2 -s -o "$out" "$here/fsprobe.c"
echo "built $out"
