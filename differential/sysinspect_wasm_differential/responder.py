"""The recorded responder: ``api.exec`` answers that both backends share.

In a differential run no guest may reach a real host command by default:
generated requests would otherwise let a corpus module install packages or
run anything its arguments name. Instead every command a guest asks for is
answered from a *tape*: a table of recorded answers keyed by argv and cwd,
plus one fallback answer for commands the tape does not know. The first
backend to ask for a command fixes its answer for the example; the second
gets exactly the same, so both see the same world and no command ever runs
twice. With ``live`` set (``wasm-runtime diff --live-exec``) an unknown
command is run for real once, and its outcome recorded for the other side.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sysinspect_wasm.commands import EXIT_CANNOT_START, CommandOutcome
from sysinspect_wasm.interfaces import CommandRunner
from sysinspect_wasm.packagekit import PackageKit

CommandKey = tuple[tuple[str, ...], str | None]


def command_key(argv: list[str] | tuple[str, ...], cwd: str | None) -> CommandKey:
    """The tape key of a command: its argv and working directory."""
    return tuple(argv), cwd


UNKNOWN_ANSWER = CommandOutcome(EXIT_CANNOT_START, "", "not on the differential tape (use --live-exec to run it)")
"""The fallback when neither the tape nor a live run answers."""

RECORDED: dict[CommandKey, CommandOutcome] = {
    # Typical answers of a Debian host, for the commands guests commonly ask for (uname, hostname, id).
    command_key(["/usr/bin/uname", "-a"], None): CommandOutcome(
        0, "Linux db1 6.1.0-18-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01) x86_64 GNU/Linux\n", ""),
    command_key(["uname", "-a"], None): CommandOutcome(
        0, "Linux db1 6.1.0-18-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01) x86_64 GNU/Linux\n", ""),
    command_key(["/usr/bin/uname", "-r"], None): CommandOutcome(0, "6.1.0-18-amd64\n", ""),
    command_key(["uname", "-r"], None): CommandOutcome(0, "6.1.0-18-amd64\n", ""),
    command_key(["/usr/bin/hostname"], None): CommandOutcome(0, "db1\n", ""),
    command_key(["hostname"], None): CommandOutcome(0, "db1\n", ""),
    command_key(["/usr/bin/id", "-u"], None): CommandOutcome(0, "0\n", ""),
    command_key(["/bin/false"], None): CommandOutcome(1, "", ""),
    command_key(["/bin/true"], None): CommandOutcome(0, "", ""),
}


@dataclass(frozen=True)
class Tape:
    """Recorded answers by command, and the answer for anything else."""

    answers: Mapping[CommandKey, CommandOutcome] = field(default_factory=lambda: dict(RECORDED))
    fallback: CommandOutcome = UNKNOWN_ANSWER


class RecordedResponder:
    """A :class:`~sysinspect_wasm.commands.CommandRunner` that answers from a tape, once per command.

    One responder serves both backends of one example. ``asked`` lists every
    request in order (both backends' requests interleave as they run), and
    ``live_runs`` the commands that really ran (at most once each).
    """

    def __init__(self, tape: Tape | None = None, live: CommandRunner | None = None) -> None:
        self.tape = tape or Tape()
        self.live = live
        self.recorded: dict[CommandKey, CommandOutcome] = dict(self.tape.answers)
        self.asked: list[CommandKey] = []
        self.live_runs: list[CommandKey] = []

    def __call__(self, argv: list[str], cwd: str | None, timeout: float | None) -> CommandOutcome:
        """Answer ``argv`` in ``cwd``: recorded, else live once (when allowed), else the fallback."""
        key = command_key(argv, cwd)
        self.asked.append(key)
        answer = self.recorded.get(key)
        if answer is None:
            if self.live is not None:
                answer = self.live(list(argv), cwd, timeout)
                self.live_runs.append(key)
            else:
                answer = self.tape.fallback
            self.recorded[key] = answer
        return answer

    def packagekit(self) -> PackageKit:
        """The PackageKit of a differential run: one whose bus cannot be reached.

        PackageKit answers over D-Bus, not through a command this responder
        could record, and a drawn request must never install or remove
        anything on the host: both backends see ``packagekit_available`` 0 and
        the same ``{"error": ...}`` answers, whatever the host has.
        """
        return PackageKit.unreachable()
