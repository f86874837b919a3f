"""What a run produced: RunResult, HostCall and raw Wasm values."""

from __future__ import annotations

from .records import FrozenRecord, Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .traps import Frame, Trap


class HostCall(FrozenRecord):
    """One call the guest made into the ``api`` namespace.

    ``args`` are the raw i32 arguments; ``request`` is the decoded input the
    call carried (log text, exec request, JSON pointer), ``output`` the bytes
    written back into guest memory, ``result`` the i32 returned (``None`` for
    functions without a result).
    """

    __match_args__ = ("function", "args", "request", "output", "result")
    function: str
    args: tuple[int, ...]
    request: str | None
    output: bytes | None
    result: int | None

    def __init__(self, function: str, args: tuple[int, ...], request: str | None = None,
                 output: bytes | None = None, result: int | None = None) -> None:
        self.__dict__.update(function=function, args=args, request=request, output=output, result=result)


class RunResult(Record):
    """The outcome of one run, the same shape on every backend."""

    __match_args__ = ("exit_code", "stdout", "stderr", "trap", "host_calls", "logs", "elapsed", "frames")
    exit_code: int | None
    stdout: bytes
    stderr: bytes
    trap: Trap | None
    host_calls: list[HostCall]
    logs: list[str]
    elapsed: float
    frames: tuple[Frame, ...]

    def __init__(self, exit_code: int | None, stdout: bytes = b"", stderr: bytes = b"", trap: Trap | None = None,
                 host_calls: list[HostCall] | None = None, logs: list[str] | None = None,
                 elapsed: float = 0.0, frames: tuple[Frame, ...] = ()) -> None:
        self.exit_code = exit_code
        self.stdout = stdout
        self.stderr = stderr
        self.trap = trap
        self.host_calls = [] if host_calls is None else host_calls
        self.logs = [] if logs is None else logs
        self.elapsed = elapsed
        self.frames = frames  # a trapped guest's call stack, innermost first (empty: none known)

    @property
    def ok(self) -> bool:
        """True when the guest finished on its own with exit code 0."""
        return self.trap is None and self.exit_code == 0


VALUE_TYPES = ("i32", "i64", "f32", "f64", "v128", "funcref", "externref")


class Value(FrozenRecord):
    """A raw WebAssembly value: its type and its bit pattern as an unsigned int.

    Floats are kept as bits so that NaN payloads can be compared (or
    deliberately canonicalised) exactly. A ``funcref`` carries only
    nullness: ``bits`` is 0 for null and 1 otherwise. An ``externref`` is
    0 for null, otherwise ``1 + n`` for the host's reference ``n`` (the spec
    test suite's ``ref.extern n``): a guest can only hand back references the
    host gave it, and it hands back the same ``bits``.
    """

    __match_args__ = ("type", "bits")
    type: str
    bits: int

    def __init__(self, type: str, bits: int) -> None:
        if type not in VALUE_TYPES:
            raise ValueError(f"unknown value type {type!r}")
        self.__dict__.update(type=type, bits=bits)

    @classmethod
    def i32(cls, n: int) -> Value:
        """An i32 from a signed or unsigned Python int."""
        return cls("i32", n & 0xFFFF_FFFF)

    @classmethod
    def i64(cls, n: int) -> Value:
        """An i64 from a signed or unsigned Python int."""
        return cls("i64", n & 0xFFFF_FFFF_FFFF_FFFF)

    @classmethod
    def f32(cls, x: float) -> Value:
        """An f32 from a Python float (rounded to single precision)."""
        import struct  # here: a warm call, which imports this module, converts no floats

        return cls("f32", struct.unpack("<I", struct.pack("<f", x))[0])

    @classmethod
    def f64(cls, x: float) -> Value:
        """An f64 from a Python float."""
        import struct  # here: a warm call, which imports this module, converts no floats

        return cls("f64", struct.unpack("<Q", struct.pack("<d", x))[0])

    def signed(self) -> int:
        """The integer value as a signed number (i32 and i64 only)."""
        width = {"i32": 32, "i64": 64}.get(self.type)
        if width is None:
            raise TypeError(f"{self.type} is not an integer type")
        return self.bits - (1 << width) if self.bits >> (width - 1) else self.bits

    def as_float(self) -> float:
        """The float value (f32 and f64 only)."""
        import struct  # here: a warm call, which imports this module, converts no floats

        if self.type == "f32":
            return float(struct.unpack("<f", struct.pack("<I", self.bits))[0])
        if self.type == "f64":
            return float(struct.unpack("<d", struct.pack("<Q", self.bits))[0])
        raise TypeError(f"{self.type} is not a float type")

    def __str__(self) -> str:
        if self.type in ("i32", "i64"):
            return f"{self.type}:{self.signed()}"
        if self.type in ("f32", "f64"):
            return f"{self.type}:{self.as_float()!r}(0x{self.bits:x})"
        return f"{self.type}:0x{self.bits:x}"


class ExportInfo(FrozenRecord):
    """An export of an instance: its name, kind and, for functions, its signature."""

    __match_args__ = ("name", "kind", "params", "results")
    name: str
    kind: str  # "func", "memory", "global", "table"
    params: tuple[str, ...]
    results: tuple[str, ...]

    def __init__(self, name: str, kind: str, params: tuple[str, ...] = (), results: tuple[str, ...] = ()) -> None:
        self.__dict__.update(name=name, kind=kind, params=params, results=results)
