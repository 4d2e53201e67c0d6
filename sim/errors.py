"""The one exception type a user ever sees for bad input."""

from __future__ import annotations


class ConfigError(ValueError):
    """A scenario, strategy or sweep document is invalid.

    ``problems`` is a list of ``(field, message)`` pairs; ``str(err)`` renders them as
    ``file: field: message`` lines, which is what the CLI prints (exit code 2).
    """

    def __init__(self, source: str, problems: list[tuple[str, str]]):
        self.source = source
        self.problems = problems
        # args are the constructor's, so that the error survives a trip through pickle (a
        # sweep's worker process) or SimPy (which re-raises a process's exception as
        # type(e)(*e.args)); str() is the rendered message
        super().__init__(source, problems)

    def __str__(self) -> str:
        return self.render()

    def render(self) -> str:
        src = one_line(self.source)
        return "\n".join(
            f"{src}: {one_line(field)}: {one_line(msg)}" if field else f"{src}: {one_line(msg)}"
            for field, msg in self.problems
        )


# Control characters (a key or value with a newline in it) are shown escaped, so that
# each problem stays one line and a file's content cannot forge another problem's line.
# (C0 and C1 controls, and the two Unicode separators that str.splitlines also breaks at)
_CONTROL = ({c: f"\\x{c:02x}" for c in (*range(32), *range(127, 160))}
            | {9: "\\t", 10: "\\n", 13: "\\r", 0x2028: "\\u2028", 0x2029: "\\u2029"})


def one_line(text: str) -> str:
    return str(text).translate(_CONTROL)
