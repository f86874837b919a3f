"""Running host commands for ``api.exec``: the runner protocol and the real runner."""

from __future__ import annotations

from .records import FrozenRecord

EXIT_CANNOT_START = 127
EXIT_TIMED_OUT = 124


class CommandOutcome(FrozenRecord):
    """What a finished host command produced."""

    __match_args__ = ("exit_code", "stdout", "stderr")
    exit_code: int
    stdout: str
    stderr: str

    def __init__(self, exit_code: int, stdout: str, stderr: str) -> None:
        self.__dict__.update(exit_code=exit_code, stdout=stdout, stderr=stderr)

    def as_json(self) -> dict[str, object]:
        """The object ``api.exec`` writes back: exit_code, stdout, stderr."""
        return {"exit_code": self.exit_code, "stdout": self.stdout, "stderr": self.stderr}


def run_host_command(argv: list[str], cwd: str | None, timeout: float | None) -> CommandOutcome:
    """Run a real host command without a shell; stdin is empty.

    A command that cannot be started gives exit code 127 with the error text
    as stderr (as upstream does); one that outlives ``timeout`` is killed and
    gives exit code 124.
    """
    import subprocess  # here, not at the top: the warm protocol path never runs a command

    try:
        done = subprocess.run(
            argv,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return CommandOutcome(EXIT_TIMED_OUT, "", f"command timed out after {timeout:.3g} s: {argv[0]}")
    except (OSError, ValueError) as exc:
        return CommandOutcome(EXIT_CANNOT_START, "", f"cannot start {argv[0]!r}: {exc}")
    return CommandOutcome(
        done.returncode,
        done.stdout.decode("utf-8", "replace"),
        done.stderr.decode("utf-8", "replace"),
    )


def __getattr__(name: str) -> object:
    # CommandRunner lives in .interfaces (a typing.Protocol: importing typing costs every warm call); it is
    # still importable from here, where it was first defined
    if name == "CommandRunner":
        from .interfaces import CommandRunner

        return CommandRunner
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
