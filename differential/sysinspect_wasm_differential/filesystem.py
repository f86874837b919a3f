"""The filesystem campaign: drawn file trees and scripts of WASI filesystem operations, on both backends.

The two backends implement WASI's filesystem independently (wasmtime's
WASI on one side, the reference backend's own on the other), so that is
where they are most likely to disagree: an errno, a symlink followed or
not, ``..`` at the root, a trailing slash. The guest is the project's
filesystem probe (``tests/guests/fsprobe.c``): it reads one command per
line on stdin (``read P``, ``write P TEXT``, ``rename A B``, ``symlink T
L``, ``rawopen FD P``, ...) and prints ``ok ...`` or ``err ERRNO`` for each.
Hypothesis draws the tree shown as guest ``/`` (writable or not) and the
script; stdout (every answer) and the tree left behind are compared.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from hypothesis import strategies as st

from sysinspect_wasm.spec import Limits

from .campaign import Tally, run_campaign
from .compare import compare_runs
from .corpus import describe_case
from .findings import known_script
from .harness import DEFAULT_BACKENDS, CommandCase, ModulePair
from .settings import Budget, budget
from .strategies import file_trees

PROBE = Path(__file__).resolve().parent / "guests" / "fsprobe.wasm"
"""The probe, shipped in this package (built from tests/guests/fsprobe.c by tests/guests/build_fsprobe.sh)."""

NAMES = ("a", "b", "x.txt", "etc", "etc/os-release", "data", "deep/a/b", "link", "caf\u00e9", ".hidden", "new", "new/dir")
READING = ("read", "stat", "lstat", "list", "readlink")
CHANGING = ("create", "truncate", "settimes", "mkdir", "rmdir", "unlink")
TWO_PATHS = ("rename", "link")


def inside() -> st.SearchStrategy[str]:
    """Guest paths that stay inside the tree: names, absolute or relative, with ``.``, doubled and trailing slashes."""
    name = st.sampled_from(NAMES)
    return st.one_of(
        name.map(lambda n: "/" + n),
        name,
        st.sampled_from(["/", ".", "/a/../b", "//a", "a/", "/x.txt/", "/link/", "/deep/./a", "/missing/a"]),
        st.tuples(name, name).map(lambda p: f"/{p[0]}/../{p[1]}"),
    )


def anywhere() -> st.SearchStrategy[str]:
    """Guest paths that may also try to climb out of the tree with ``..``.

    Used for commands that only read: the tree is a real host folder, and
    should a backend ever fail to confine ``..``, a drawn write must not land
    on the host (confinement has its own tests, tests/test_confinement.py).
    """
    return st.one_of(inside(), st.sampled_from(["..", "/..", "/../..", "../etc", "/../x.txt", "deep/../../a"]))


def commands() -> st.SearchStrategy[str]:
    """One probe command line."""
    text = st.text(st.characters(codec="utf-8", exclude_characters="\n\r\0 "), max_size=12)
    link_target = st.sampled_from(["x.txt", "a", "deep/a", "missing", ".", "link"])
    return st.one_of(
        st.tuples(st.sampled_from(READING), anywhere()).map(" ".join),
        st.tuples(st.sampled_from(CHANGING), inside()).map(" ".join),
        st.tuples(st.sampled_from(TWO_PATHS), inside(), inside()).map(" ".join),
        st.tuples(st.just("symlink"), link_target, inside()).map(" ".join),
        st.tuples(st.sampled_from(["write", "append"]), inside(), text).map(" ".join),
        st.tuples(st.just("setsize"), inside(), st.sampled_from(["0", "3", "70000"])).map(" ".join),
        st.tuples(st.sampled_from(["rawopen", "rawstat"]), st.sampled_from(["3", "0", "1", "4", "99"]), anywhere()).map(" ".join),
        st.tuples(st.just("rawmkdir"), st.sampled_from(["3", "0", "4", "99"]), inside()).map(" ".join),
    )


@st.composite
def filesystem_cases(draw: st.DrawFn) -> CommandCase:
    """A tree for guest ``/`` (writable three times in four) and a script of 1 to 12 commands."""
    script = draw(st.lists(commands(), min_size=1, max_size=12))
    stdin = "".join(line + "\n" for line in script).encode()
    return CommandCase({"script": script}, {}, stdin, draw(file_trees()),
                       writable=draw(st.sampled_from([True, True, True, False])))


def filesystem_campaign(examples: int, *, probe: Path = PROBE, seed: int | None = None, chosen: Budget | None = None,
                        backends: Sequence[str] = DEFAULT_BACKENDS, derandomize: bool = False,
                        progress: Callable[[Tally], None] | None = None) -> Tally:
    """Run ``examples`` drawn scripts on drawn trees through the probe on both backends."""
    chosen = chosen or budget()
    limits = Limits(timeout=chosen.run_timeout)
    tally = Tally("filesystem (fsprobe)", progress=progress)
    pair = ModulePair(probe, "fsprobe", backends)
    return run_campaign(tally, filesystem_cases(), script_checker(pair, limits, tally), examples=examples, seed=seed,
                        derandomize=derandomize)


def script_checker(pair: ModulePair, limits: Limits, tally: Tally) -> Callable[[CommandCase], None]:
    """The body of the filesystem campaign: run one script on both backends and score it (open findings known)."""

    def check(case: CommandCase) -> None:
        left, right = pair.run_case(case, limits)
        tally.check(compare_runs(left, right), lambda: describe_case(case),
                    known=lambda finding: known_script(case.stdin.decode(), finding))

    return check
