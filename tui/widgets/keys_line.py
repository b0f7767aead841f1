"""The bottom line: the keys of the current screen."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


def keys_text(pairs: list[tuple[str, str]]) -> Text:
    text = Text(" ")
    for index, (key, what) in enumerate(pairs):
        if index:
            text.append("  ")
        text.append(key, style="bold")
        text.append(f" {what}")
    return text


class KeysLine(Static):
    """A fixed line of key hints (``?`` lists every key)."""

    DEFAULT_CSS = "KeysLine { height: 1; color: $text-muted; }"

    def __init__(self, pairs: list[tuple[str, str]], *, id: str | None = None) -> None:
        super().__init__(keys_text(pairs), id=id)
