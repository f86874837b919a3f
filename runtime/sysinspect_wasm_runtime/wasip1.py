"""The functions of WASI preview 1 (``wasi_snapshot_preview1``) with their core WebAssembly signatures.

From the preview 1 witx definitions as the engines lower them: handles,
pointers, lengths and flags of 32 bits or less are ``i32``; timestamps, file
sizes, offsets, rights and ``fd_readdir``'s cookie are ``i64``; every function
but ``proc_exit`` returns its errno as an ``i32``. ``wasm-runtime check``
compares a module's imports with this table; ``tests/test_authoring.py``
holds it to wasmtime's own WASI linker, name by name.
"""

from __future__ import annotations

WASI_MODULE = "wasi_snapshot_preview1"

Signature = tuple[tuple[str, ...], tuple[str, ...]]

_I, _L = "i32", "i64"
_ERRNO = (_I,)

WASI_SIGNATURES: dict[str, Signature] = {
    "args_get": ((_I, _I), _ERRNO),
    "args_sizes_get": ((_I, _I), _ERRNO),
    "environ_get": ((_I, _I), _ERRNO),
    "environ_sizes_get": ((_I, _I), _ERRNO),
    "clock_res_get": ((_I, _I), _ERRNO),
    "clock_time_get": ((_I, _L, _I), _ERRNO),
    "fd_advise": ((_I, _L, _L, _I), _ERRNO),
    "fd_allocate": ((_I, _L, _L), _ERRNO),
    "fd_close": ((_I,), _ERRNO),
    "fd_datasync": ((_I,), _ERRNO),
    "fd_fdstat_get": ((_I, _I), _ERRNO),
    "fd_fdstat_set_flags": ((_I, _I), _ERRNO),
    "fd_fdstat_set_rights": ((_I, _L, _L), _ERRNO),
    "fd_filestat_get": ((_I, _I), _ERRNO),
    "fd_filestat_set_size": ((_I, _L), _ERRNO),
    "fd_filestat_set_times": ((_I, _L, _L, _I), _ERRNO),
    "fd_pread": ((_I, _I, _I, _L, _I), _ERRNO),
    "fd_prestat_get": ((_I, _I), _ERRNO),
    "fd_prestat_dir_name": ((_I, _I, _I), _ERRNO),
    "fd_pwrite": ((_I, _I, _I, _L, _I), _ERRNO),
    "fd_read": ((_I, _I, _I, _I), _ERRNO),
    "fd_readdir": ((_I, _I, _I, _L, _I), _ERRNO),
    "fd_renumber": ((_I, _I), _ERRNO),
    "fd_seek": ((_I, _L, _I, _I), _ERRNO),
    "fd_sync": ((_I,), _ERRNO),
    "fd_tell": ((_I, _I), _ERRNO),
    "fd_write": ((_I, _I, _I, _I), _ERRNO),
    "path_create_directory": ((_I, _I, _I), _ERRNO),
    "path_filestat_get": ((_I, _I, _I, _I, _I), _ERRNO),
    "path_filestat_set_times": ((_I, _I, _I, _I, _L, _L, _I), _ERRNO),
    "path_link": ((_I, _I, _I, _I, _I, _I, _I), _ERRNO),
    "path_open": ((_I, _I, _I, _I, _I, _L, _L, _I, _I), _ERRNO),
    "path_readlink": ((_I, _I, _I, _I, _I, _I), _ERRNO),
    "path_remove_directory": ((_I, _I, _I), _ERRNO),
    "path_rename": ((_I, _I, _I, _I, _I, _I), _ERRNO),
    "path_symlink": ((_I, _I, _I, _I, _I), _ERRNO),
    "path_unlink_file": ((_I, _I, _I), _ERRNO),
    "poll_oneoff": ((_I, _I, _I, _I), _ERRNO),
    "proc_exit": ((_I,), ()),
    "proc_raise": ((_I,), _ERRNO),
    "sched_yield": ((), _ERRNO),
    "random_get": ((_I, _I), _ERRNO),
    "sock_accept": ((_I, _I, _I), _ERRNO),
    "sock_recv": ((_I, _I, _I, _I, _I, _I), _ERRNO),
    "sock_send": ((_I, _I, _I, _I, _I), _ERRNO),
    "sock_shutdown": ((_I, _I), _ERRNO),
}


def describe(signature: Signature) -> str:
    """A signature as ``(i32, i64) -> (i32)``."""
    params, results = signature
    return f"({', '.join(params)}) -> ({', '.join(results)})"
