"""A lean binding to wasmtime-py's own native library, for the calls a WASI run makes.

``import wasmtime`` costs a warm call about 20 ms (its ctypes declarations of
the whole C API, and ``typing``, ``pathlib``, ``platform``, ``enum`` with
them), while the native work of that call takes about 2 ms. This module
loads the very library wasmtime-py ships (``wasmtime/<platform>-<machine>/``
of the installed package, found without importing it) and declares only
the few functions a run of a cached artifact needs: make the engine,
deserialize an artifact, build the WASI context, link WASI and the host API,
instantiate, call ``_start`` under epoch interruption and a store limiter,
and read what a trap or an error says. wasmtime-py stays the library for
everything else (compiling, bare instances, the cache commands); both use
one loaded library, so a module or engine made by one is used by the other.

It stands on the extension module ``_ctypes`` alone, not on the package
``ctypes`` (see "ctypes' few parts" below): a warm call does not import it.

Every declaration below takes its argument and result types from
wasmtime-py's (``wasmtime/_bindings.py``): a pointer to an opaque C type is
``c_void_p`` here, every other type is the same C type (ctypes' type code and
size), and every structure has wasmtime-py's layout for the fields it
declares. ``tests/test_production_native.py`` holds each of them, and the
constants, equal to wasmtime-py's, so the ABI cannot drift when the wheel is
upgraded.

C callbacks find the Python objects they serve through their data pointer,
by a :class:`Registry`.

Raises ImportError, as ``import wasmtime`` would, when wasmtime-py is not
installed or its library cannot be loaded on this host.
"""

from __future__ import annotations

import _ctypes
import itertools
import os
import sys
from _ctypes import POINTER as POINTER
from _ctypes import Structure as Structure
from _ctypes import Union as Union
from _ctypes import addressof as addressof
from _ctypes import byref as byref

from sysinspect_wasm.errors import WasmRuntimeError

TYPE_CHECKING = False
if TYPE_CHECKING:
    import ctypes
    from collections.abc import Callable, Sequence
    from typing import Any, Generic, TypeVar

    T = TypeVar("T")

    # the type checker knows the names defined below for run time as ctypes' own
    CFUNCTYPE = ctypes.CFUNCTYPE
    c_bool = ctypes.c_bool
    c_char_p = ctypes.c_char_p
    c_int = ctypes.c_int
    c_int32 = ctypes.c_int32
    c_int64 = ctypes.c_int64
    c_size_t = ctypes.c_size_t
    c_ssize_t = ctypes.c_ssize_t
    c_uint8 = ctypes.c_uint8
    c_uint32 = ctypes.c_uint32
    c_uint64 = ctypes.c_uint64
    c_void_p = ctypes.c_void_p
    cast = ctypes.cast
    memmove = ctypes.memmove
    string_at = ctypes.string_at


# -- ctypes' few parts a run needs, on _ctypes alone ---------------------------------------------------------------
#
# The package ctypes costs every process that imports it about 1.3 ms (Python 3.11) to 1.7 ms (3.13): its
# __init__ and _endian build dozens of classes and import struct. What a run needs of it is a handful of simple
# types, function prototypes, a library's functions and three helpers (string_at, memmove, cast), all thin layers
# over the extension module _ctypes, which does the work; they are made here the way ctypes makes them, from the
# same _ctypes classes (Structure, Union, POINTER, byref are _ctypes' own, hence ctypes' own). Objects of either
# kind mix freely: _ctypes converts arguments by type code, not by class, so a traced run hands wasmtime-py's
# pointers to these functions, and pointers given back to wasmtime-py go through integer addresses.
# For the type checker these are ctypes' own types, which they equal in type code and size (the tests hold them
# to wasmtime-py's declarations).

if not TYPE_CHECKING:
    def _simple(name, code):
        """A simple C type as ctypes declares it: a _SimpleCData subclass with its type code."""
        return type(name, (_ctypes._SimpleCData,), {"_type_": code})

    c_bool, c_char_p, c_void_p = _simple("c_bool", "?"), _simple("c_char_p", "z"), _simple("c_void_p", "P")
    c_uint8, c_int, c_uint = _simple("c_uint8", "B"), _simple("c_int", "i"), _simple("c_uint", "I")
    c_long, c_ulong, py_object = _simple("c_long", "l"), _simple("c_ulong", "L"), _simple("py_object", "O")

    # ctypes' choice: the first C type of the width; int is 32 bits on every platform wasmtime runs on, long
    # 64 bits but on Windows; size_t is 64 bits, as library_path() refuses 32-bit hosts
    c_int32, c_uint32 = c_int, c_uint
    if _ctypes.sizeof(c_long) == 8:
        c_int64, c_uint64 = c_long, c_ulong
    else:
        class c_int64(_ctypes._SimpleCData):
            _type_ = "q"

        class c_uint64(_ctypes._SimpleCData):
            _type_ = "Q"
    c_size_t, c_ssize_t = c_uint64, c_int64

    def _prototype(flags, restype, argtypes):
        class Prototype(_ctypes.CFuncPtr):
            _argtypes_ = argtypes
            _restype_ = restype
            _flags_ = flags

        return Prototype

    def CFUNCTYPE(restype, *argtypes):
        """A C function pointer type (``ctypes.CFUNCTYPE``): called from C as a callback, or calling C."""
        return _prototype(_ctypes.FUNCFLAG_CDECL, restype, argtypes)

    # _ctypes' helpers take and give Python objects: they are called holding the interpreter lock (ctypes'
    # PYFUNCTYPE)
    _PYTHON_API = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_PYTHONAPI
    _string_at = _prototype(_PYTHON_API, py_object, (c_void_p, c_int))(_ctypes._string_at_addr)
    _cast = _prototype(_PYTHON_API, py_object, (c_void_p, py_object, py_object))(_ctypes._cast_addr)
    memmove = CFUNCTYPE(c_void_p, c_void_p, c_void_p, c_size_t)(_ctypes._memmove_addr)

    def string_at(ptr, size=-1):
        """The ``size`` bytes at ``ptr`` (``ctypes.string_at``)."""
        return _string_at(ptr, size)

    def cast(obj, typ):
        """``obj`` (a pointer) as a ``typ`` (``ctypes.cast``)."""
        return _cast(obj, obj, typ)

    class Generic:
        """``typing.Generic`` for the type checker; at run time its subscript is the class itself (typing
        stays unloaded)."""

        def __class_getitem__(cls, item):
            return cls

    T = None


def library_path() -> str:
    """The native library of the installed wasmtime-py, as wasmtime-py itself names it (``wasmtime/_ffi.py``)."""
    if "wasmtime" in sys.modules and sys.modules["wasmtime"] is None:  # the import system's "no such package"
        raise ImportError("import of wasmtime halted; None in sys.modules", name="wasmtime")
    if sys.maxsize <= 2**32:
        raise ImportError("wasmtime is installed but cannot load on this host: wasmtime only works on 64-bit platforms",
                          name="wasmtime")
    system = "android" if hasattr(sys, "getandroidapilevel") else sys.platform
    names = {"linux": "_libwasmtime.so", "android": "_libwasmtime.so", "win32": "_wasmtime.dll",
             "darwin": "_libwasmtime.dylib"}
    machine = os.uname().machine if hasattr(os, "uname") else os.environ.get("PROCESSOR_ARCHITECTURE", "")
    machine = {"AMD64": "x86_64", "arm64": "aarch64", "ARM64": "aarch64"}.get(machine, machine)
    if system not in names or machine not in ("x86_64", "aarch64"):
        raise ImportError(f"wasmtime is installed but cannot load on this host: unsupported platform "
                          f"{system}-{machine}", name="wasmtime")
    try:  # importlib.machinery's PathFinder, as the interpreter loaded it (importlib itself imports warnings)
        from _frozen_importlib_external import PathFinder
    except ImportError:
        from importlib.machinery import PathFinder

    spec = PathFinder.find_spec("wasmtime")
    locations = None if spec is None else spec.submodule_search_locations
    if not locations:
        raise ImportError("No module named 'wasmtime'", name="wasmtime")
    return os.path.join(locations[0], f"{system}-{machine}", names[system])


def package_dir() -> str:
    """The folder of the installed wasmtime-py package (the one whose library this module loads): from the path
    loaded, not looked up again (every warm call asks, for the cache key's engine version)."""
    return os.path.dirname(os.path.dirname(LIBRARY_PATH))


class _Function(_ctypes.CFuncPtr):
    """A C function of a loaded library (``ctypes.CDLL``'s ``_FuncPtr``)."""

    _flags_ = _ctypes.FUNCFLAG_CDECL
    _restype_ = c_int


class _Library:
    """A loaded library, as ``_ctypes`` looks its functions up (``ctypes.CDLL``'s ``_handle``, without the rest)."""

    __slots__ = ("_handle", "path")

    def __init__(self, path: str) -> None:
        self.path = path
        try:
            if os.name == "posix":
                self._handle: int = _ctypes.dlopen(path, _ctypes.RTLD_LOCAL)  # as ctypes.CDLL opens it
            else:  # Windows' loader flags are ctypes.CDLL's to choose
                import ctypes

                self._handle = ctypes.CDLL(path)._handle
        except OSError as exc:  # a glibc library on a musl host, a missing file
            raise ImportError(f"wasmtime is installed but cannot load on this host: {exc}", name="wasmtime") from None

    def function(self, name: str, restype: Any, argtypes: tuple[Any, ...]) -> Callable[..., Any]:
        """The library's function ``name``, declared with ``restype`` and ``argtypes`` (as ``ctypes.CDLL`` does)."""
        function = _Function((name, self))  # type: ignore[arg-type]  # _ctypes asks only for _handle
        function.restype = restype
        function.argtypes = argtypes
        return function


# -- types (wasmtime-py's names in the comments; the layout test compares them) --------------------------------

class ByteVec(Structure):
    """``wasm_byte_vec_t`` (also ``wasm_name_t`` and ``wasm_message_t``)."""

    _fields_ = (("size", c_size_t), ("data", POINTER(c_uint8)))


class FrameVec(Structure):
    """``wasm_frame_vec_t``."""

    _fields_ = (("size", c_size_t), ("data", POINTER(c_void_p)))


class ValtypeVec(Structure):
    """``wasm_valtype_vec_t``."""

    _fields_ = (("size", c_size_t), ("data", POINTER(c_void_p)))


class Func(Structure):
    """``wasmtime_func_t``."""

    _fields_ = (("store_id", c_uint64), ("__private", c_void_p))


class _MemoryHead(Structure):
    _fields_ = (("store_id", c_uint64), ("__private1", c_uint32))


class Memory(Structure):
    """``wasmtime_memory_t``."""

    _fields_ = (("_anon_1", _MemoryHead), ("__private2", c_uint32))


class ExternUnion(Union):
    """``wasmtime_extern_union_t``: the members a run reads (``memory`` makes it as large as wasmtime-py's)."""

    _fields_ = (("func", Func), ("memory", Memory))


class Extern(Structure):
    """``wasmtime_extern_t``."""

    _fields_ = (("kind", c_uint8), ("of", ExternUnion))


class Instance(Structure):
    """``wasmtime_instance_t``."""

    _fields_ = (("store_id", c_uint64), ("__private", c_size_t))


class ValUnion(Union):
    """``wasmtime_valunion_t``: the integer members a host function reads and writes, and its full size (24 bytes)."""

    _fields_ = (("i32", c_int32), ("i64", c_int64), ("_whole", c_uint64 * 3))


class Val(Structure):
    """``wasmtime_val_t``."""

    _fields_ = (("kind", c_uint8), ("of", ValUnion))


# -- constants (wasmtime-py's in the comments; the test compares them) -------------------------------------------

STRATEGY_CRANELIFT = 1  # what wasmtime.Config.strategy = "cranelift" sets
OPT_LEVELS = {"none": 0, "speed": 1, "speed_and_size": 2}  # wasmtime.Config.cranelift_opt_level
VALKIND_I32 = 0  # _ffi.WASM_I32
EXTERN_FUNC = 0  # _ffi.WASMTIME_EXTERN_FUNC
EXTERN_MEMORY = 3  # _ffi.WASMTIME_EXTERN_MEMORY
UPDATE_DEADLINE_CONTINUE = 0  # WASMTIME_UPDATE_DEADLINE_CONTINUE
TRAP_CODES = {  # _bindings.wasmtime_trap_code_enum, by the names of wasmtime.TrapCode
    "STACK_OVERFLOW": 0, "MEMORY_OUT_OF_BOUNDS": 1, "HEAP_MISALIGNED": 2, "TABLE_OUT_OF_BOUNDS": 3,
    "INDIRECT_CALL_TO_NULL": 4, "BAD_SIGNATURE": 5, "INTEGER_OVERFLOW": 6, "INTEGER_DIVISION_BY_ZERO": 7,
    "BAD_CONVERSION_TO_INTEGER": 8, "UNREACHABLE": 9, "INTERRUPT": 10, "OUT_OF_FUEL": 11,
    "ATOMIC_WAIT_NON_SHARED_MEMORY": 12, "NULL_REFERENCE": 13, "ARRAY_OUT_OF_BOUNDS": 14,
    "ALLOCATION_TOO_LARGE": 15, "CAST_FAILURE": 16,
}

# callback types: wasmtime-py's, with pointers to opaque types as c_void_p
DeadlineCallback = CFUNCTYPE(c_size_t, c_void_p, c_void_p, POINTER(c_uint64), POINTER(c_uint8))
Finalizer = CFUNCTYPE(None, c_void_p)
OutputCallback = CFUNCTYPE(c_ssize_t, c_void_p, POINTER(c_uint8), c_size_t)
FuncCallback = CFUNCTYPE(c_size_t, c_void_p, c_void_p, POINTER(Val), c_size_t, POINTER(Val), c_size_t)
NO_FINALIZER = Finalizer(0)
"""A null finalizer (ctypes takes no ``None`` for a function pointer argument)."""


class Registry(Generic[T]):
    """Python objects that wasmtime hands back to our C callbacks, by the callback's data pointer.

    A Python object cannot cross into C safely by address, so each one given
    to C is kept here under a key of its own, and C gets the key as the data
    pointer (:meth:`add`); the callback finds the object with it (:meth:`get`
    or ``registry[data]``). wasmtime calls the finalizer passed with the data
    (:attr:`forget`) when whatever holds the callback (a store, a linker, a
    WASI context) is deleted, and the object is dropped then. A registry
    lives as long as the process: C may call its finalizer until the end.
    """

    def __init__(self) -> None:
        self._objects: dict[int, T] = {}
        self._keys = itertools.count(1)
        self.forget = Finalizer(self._forget)
        """The finalizer to pass with every data pointer :meth:`add` gives."""

    def add(self, value: T) -> c_void_p:
        """A new data pointer for ``value``, which stays here until wasmtime calls :attr:`forget` with it."""
        key = next(self._keys)
        self._objects[key] = value
        return c_void_p(key)

    def __getitem__(self, data: int | None) -> T:
        """The object of data pointer ``data`` (as a callback receives it); KeyError when it is not here."""
        return self._objects[data or 0]

    def get(self, data: int | None) -> T | None:
        """The object of data pointer ``data``, ``None`` when it is not here."""
        return self._objects.get(data or 0)

    def __len__(self) -> int:
        return len(self._objects)

    def _forget(self, data: int | None) -> None:
        self._objects.pop(data or 0, None)

P = c_void_p
SIGNATURES: dict[str, tuple[Any, tuple[Any, ...]]] = {
    # name: (result type, argument types), each as wasmtime-py declares it but for the opaque pointers
    "wasm_config_new": (P, ()),
    "wasmtime_config_strategy_set": (None, (P, c_uint8)),
    "wasmtime_config_epoch_interruption_set": (None, (P, c_bool)),
    "wasmtime_config_max_wasm_stack_set": (None, (P, c_size_t)),
    "wasmtime_config_cranelift_opt_level_set": (None, (P, c_uint8)),
    "wasmtime_config_cranelift_nan_canonicalization_set": (None, (P, c_bool)),
    "wasmtime_config_wasm_relaxed_simd_deterministic_set": (None, (P, c_bool)),
    "wasmtime_config_parallel_compilation_set": (None, (P, c_bool)),
    "wasm_engine_new_with_config": (P, (P,)),
    "wasmtime_engine_clone": (P, (P,)),
    "wasmtime_engine_increment_epoch": (None, (P,)),
    "wasmtime_module_deserialize": (P, (P, POINTER(c_uint8), c_size_t, POINTER(P))),
    "wasmtime_module_deserialize_file": (P, (P, c_char_p, POINTER(P))),
    "wasmtime_module_serialize": (P, (P, POINTER(ByteVec))),
    "wasmtime_module_clone": (P, (P,)),
    "wasmtime_module_delete": (None, (P,)),
    "wasmtime_store_new": (P, (P, c_void_p, Finalizer)),
    "wasmtime_store_context": (P, (P,)),
    "wasmtime_store_limiter": (None, (P, c_int64, c_int64, c_int64, c_int64, c_int64)),
    "wasmtime_store_delete": (None, (P,)),
    "wasmtime_store_epoch_deadline_callback": (None, (P, DeadlineCallback, c_void_p, Finalizer)),
    "wasmtime_context_set_epoch_deadline": (None, (P, c_uint64)),
    "wasmtime_context_set_wasi": (P, (P, P)),
    "wasi_config_new": (P, ()),
    "wasi_config_set_argv": (c_bool, (P, c_size_t, POINTER(c_char_p))),
    "wasi_config_set_env": (c_bool, (P, c_size_t, POINTER(c_char_p), POINTER(c_char_p))),
    "wasi_config_set_stdin_file": (c_bool, (P, c_char_p)),
    "wasi_config_set_stdout_custom": (None, (P, OutputCallback, c_void_p, Finalizer)),
    "wasi_config_set_stderr_custom": (None, (P, OutputCallback, c_void_p, Finalizer)),
    "wasi_config_preopen_dir": (c_bool, (P, c_char_p, c_char_p, c_bool)),
    "wasi_config_delete": (None, (P,)),
    "wasmtime_linker_new": (P, (P,)),
    "wasmtime_linker_define_wasi": (P, (P,)),
    "wasmtime_linker_define_func": (P, (P, c_char_p, c_size_t, c_char_p, c_size_t, P, FuncCallback, c_void_p,
                                        Finalizer)),
    "wasmtime_linker_instantiate": (P, (P, P, P, POINTER(Instance), POINTER(P))),
    "wasmtime_linker_delete": (None, (P,)),
    "wasmtime_instance_export_get": (c_bool, (P, POINTER(Instance), c_char_p, c_size_t, POINTER(Extern))),
    "wasmtime_func_call": (P, (P, POINTER(Func), POINTER(Val), c_size_t, POINTER(Val), c_size_t, POINTER(P))),
    "wasmtime_caller_export_get": (c_bool, (P, c_char_p, c_size_t, POINTER(Extern))),
    "wasmtime_caller_context": (P, (P,)),
    "wasmtime_memory_data": (POINTER(c_uint8), (P, POINTER(Memory))),
    "wasmtime_memory_data_size": (c_size_t, (P, POINTER(Memory))),
    "wasm_valtype_new": (P, (c_uint8,)),
    "wasm_valtype_vec_new": (None, (POINTER(ValtypeVec), c_size_t, POINTER(P))),
    "wasm_functype_new": (P, (POINTER(ValtypeVec), POINTER(ValtypeVec))),
    "wasm_functype_delete": (None, (P,)),
    "wasmtime_error_new": (P, (c_char_p,)),
    "wasmtime_error_message": (None, (P, POINTER(ByteVec))),
    "wasmtime_error_exit_status": (c_bool, (P, POINTER(c_int))),
    "wasmtime_error_delete": (None, (P,)),
    "wasm_byte_vec_delete": (None, (POINTER(ByteVec),)),
    "wasm_trap_message": (None, (P, POINTER(ByteVec))),
    "wasmtime_trap_code": (c_bool, (P, POINTER(c_uint8))),
    "wasm_trap_trace": (None, (P, POINTER(FrameVec))),
    "wasm_frame_func_index": (c_uint32, (P,)),
    "wasm_frame_module_offset": (c_size_t, (P,)),
    "wasm_frame_vec_delete": (None, (POINTER(FrameVec),)),
    "wasm_trap_delete": (None, (P,)),
    "wasmtime_trap_new": (P, (c_char_p, c_size_t)),
}


class _Functions:
    """The declared functions, as attributes: each declared (looked up, typed) on its first use."""

    def __getattr__(self, name: str) -> Callable[..., Any]:
        try:
            restype, argtypes = SIGNATURES[name]
        except KeyError:
            raise AttributeError(f"{name} is not declared in {__name__}.SIGNATURES") from None
        function = lib.function(name, restype, argtypes)
        setattr(self, name, function)
        return function


LIBRARY_PATH = library_path()
"""The library this module loaded."""
lib = _Library(LIBRARY_PATH)
c = _Functions()


# -- errors and traps ----------------------------------------------------------------------------------------------

class WasmtimeError(WasmRuntimeError):
    """An error wasmtime returned (``wasmtime_error_t``), with its message; ``exit_code`` when it is a WASI exit."""

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class NativeTrap(WasmRuntimeError):
    """A wasm trap (``wasm_trap_t``): its message, its code (``None``: none) and its frames.

    ``frames`` are ``(function index, byte offset in the module)`` per frame, innermost first.
    """

    def __init__(self, message: str, code: int | None, frames: tuple[tuple[int, int], ...]) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.frames = frames


def _text(vec: ByteVec, drop_nul: bool = False) -> str:
    size = vec.size - 1 if drop_nul and vec.size else vec.size
    return string_at(vec.data, size).decode("utf-8") if size else ""


def take_error(error: int) -> WasmtimeError:
    """The :class:`WasmtimeError` for ``error`` (a ``wasmtime_error_t*``), which it deletes."""
    try:
        status = c_int(0)
        exited = c.wasmtime_error_exit_status(error, byref(status))
        vec = ByteVec()
        c.wasmtime_error_message(error, byref(vec))
        try:
            return WasmtimeError(_text(vec), status.value if exited else None)
        finally:
            c.wasm_byte_vec_delete(byref(vec))
    finally:
        c.wasmtime_error_delete(error)


def take_trap(trap: int) -> NativeTrap:
    """The :class:`NativeTrap` for ``trap`` (a ``wasm_trap_t*``), which it deletes."""
    try:
        vec = ByteVec()
        c.wasm_trap_message(trap, byref(vec))
        try:
            message = _text(vec, drop_nul=True)  # the message ends with a NUL byte
        finally:
            c.wasm_byte_vec_delete(byref(vec))
        code = c_uint8()
        known = c.wasmtime_trap_code(trap, byref(code))
        frames = FrameVec()
        c.wasm_trap_trace(trap, byref(frames))
        try:
            trace = tuple((int(c.wasm_frame_func_index(frames.data[i])), int(c.wasm_frame_module_offset(frames.data[i])))
                          for i in range(frames.size))
        finally:
            c.wasm_frame_vec_delete(byref(frames))
        return NativeTrap(message, code.value if known else None, trace)
    finally:
        c.wasm_trap_delete(trap)


def check(error: int | None) -> None:
    """Raise the :class:`WasmtimeError` for ``error`` unless it is null."""
    if error:
        raise take_error(error)


# -- engines and modules -------------------------------------------------------------------------------------------

def new_engine(*, max_wasm_stack: int, cranelift_opt_level: str, nan_canonicalization: bool,
               relaxed_simd_deterministic: bool, parallel_compilation: bool) -> int:
    """A new engine (``wasm_engine_t*``) with epoch interruption on and Cranelift configured as given."""
    if cranelift_opt_level not in OPT_LEVELS:
        raise WasmtimeError(f"unknown opt level: {cranelift_opt_level}")
    config = c.wasm_config_new()
    c.wasmtime_config_strategy_set(config, STRATEGY_CRANELIFT)
    c.wasmtime_config_epoch_interruption_set(config, True)
    c.wasmtime_config_max_wasm_stack_set(config, max_wasm_stack)
    c.wasmtime_config_cranelift_opt_level_set(config, OPT_LEVELS[cranelift_opt_level])
    c.wasmtime_config_cranelift_nan_canonicalization_set(config, nan_canonicalization)
    c.wasmtime_config_wasm_relaxed_simd_deterministic_set(config, relaxed_simd_deterministic)
    c.wasmtime_config_parallel_compilation_set(config, parallel_compilation)
    engine: int = c.wasm_engine_new_with_config(config)  # consumes the config
    return engine


class NativeModule:
    """A compiled module (``wasmtime_module_t*``), deleted with this object."""

    __slots__ = ("ptr",)

    def __init__(self, ptr: int) -> None:
        self.ptr = ptr

    def __del__(self) -> None:
        ptr, self.ptr = self.ptr, 0
        if ptr:
            c.wasmtime_module_delete(ptr)

    def serialize(self) -> bytes:
        """The module's native code, as ``wasmtime.Module.serialize`` gives it."""
        vec = ByteVec()
        check(c.wasmtime_module_serialize(self.ptr, byref(vec)))
        try:
            return string_at(vec.data, vec.size)
        finally:
            c.wasm_byte_vec_delete(byref(vec))


def deserialize_file(engine: int, path: str) -> NativeModule:
    """The module serialized in the file at ``path`` (wasmtime maps it); raises :class:`WasmtimeError`."""
    out = c_void_p()
    check(c.wasmtime_module_deserialize_file(engine, path.encode("utf-8"), byref(out)))
    return NativeModule(out.value or 0)


def deserialize(engine: int, data: bytes | bytearray) -> NativeModule:
    """The module serialized in ``data`` (copied in); raises :class:`WasmtimeError`."""
    out = c_void_p()
    buffer = (c_uint8 * len(data)).from_buffer_copy(data)
    check(c.wasmtime_module_deserialize(engine, buffer, len(data), byref(out)))
    return NativeModule(out.value or 0)


def functype_i32(params: int, results: int) -> int:
    """A new ``wasm_functype_t*`` taking ``params`` i32 and returning ``results`` i32 (the caller deletes it)."""
    vecs = []
    for count in (params, results):
        vec = ValtypeVec()
        types = (c_void_p * count)(*[c.wasm_valtype_new(VALKIND_I32) for _ in range(count)])
        c.wasm_valtype_vec_new(byref(vec), count, types)  # takes the valtypes
        vecs.append(vec)
    functype: int = c.wasm_functype_new(byref(vecs[0]), byref(vecs[1]))  # takes the vecs
    return functype


def strings(values: Sequence[str]) -> ctypes.Array[c_char_p]:
    """``values`` as a C array of NUL-terminated UTF-8 strings (kept alive by the array's objects)."""
    return (c_char_p * len(values))(*(value.encode("utf-8") for value in values))
