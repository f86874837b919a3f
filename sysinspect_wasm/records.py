"""Small value classes for the warm call path, without :mod:`dataclasses`.

Importing :mod:`dataclasses` pulls in :mod:`inspect` (and ``ast``, ``dis``,
``tokenize``), and every dataclass generates and compiles its methods when
its module is imported: together several milliseconds of a protocol call that
should take little more than running the guest. The classes the warm path
uses therefore derive from :class:`Record` or :class:`FrozenRecord` and write
their ``__init__`` by hand; these bases give them what a dataclass would:
equality, a ``repr`` and, when frozen, a hash and no assignment. The fields
are the names in the class's ``__match_args__``, in order.

This is the project's one value-class idiom (the binary reader
:mod:`.wasmbinary` and a few modules off the warm path use frozen
dataclasses). A record writes its fields three times: as class annotations,
in ``__match_args__`` and as ``__init__``'s parameters, in the same order;
``tests/test_records.py`` finds every record and checks that the three agree,
that ``__init__`` stores each argument in its field, that equality sees every
field, and that frozen records hash and refuse assignment.
"""

from __future__ import annotations

from .errors import WasmRuntimeError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, ClassVar


class FrozenInstanceError(AttributeError, WasmRuntimeError):
    """An assignment to (or deletion of) an attribute of a frozen record."""


class Record:
    """Equality and ``repr`` over the fields in ``__match_args__``; unhashable, like a mutable dataclass."""

    __match_args__: ClassVar[tuple[str, ...]] = ()
    __hash__: ClassVar[None] = None  # type: ignore[assignment]

    def _values(self) -> tuple[Any, ...]:
        return tuple([getattr(self, name) for name in self.__match_args__])

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, Record)
        return self._values() == other._values()

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__match_args__)
        return f"{self.__class__.__qualname__}({shown})"


class FrozenRecord(Record):
    """A :class:`Record` whose fields cannot change after ``__init__``; hashable by its fields.

    ``__init__`` sets the fields through ``self.__dict__``.
    """

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(self._values())

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")
