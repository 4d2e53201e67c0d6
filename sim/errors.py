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
        super().__init__(self.render())

    def render(self) -> str:
        return "\n".join(
            f"{self.source}: {field}: {msg}" if field else f"{self.source}: {msg}"
            for field, msg in self.problems
        )
