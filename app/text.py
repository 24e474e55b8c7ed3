"""Text from visitors (a URL, a file name, an error quoting either) made safe inside Markdown."""
from __future__ import annotations

import re
from typing import Any

_AUTOLINK = re.compile(r"(?i)www|[:@]")
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:&=^\"'])")


def plain(text: Any, limit: int = 120) -> str:
    """``text`` made safe inside a Markdown message: one line, at most ``limit`` characters,
    every Markdown character escaped, so it reads as typed (invisible word joiners aside) and
    never renders as a link, an image, a heading or a formula."""
    text = " ".join(str(text).split())
    if len(text) > limit:
        text = text[:limit - 1] + "…"
    # GFM links bare addresses after parsing, escapes or not: an invisible word joiner after
    # "www", ":" and "@" keeps "https://...", "www.x" and "a@b.c" from becoming links
    text = _AUTOLINK.sub(lambda m: m.group(0) + "\u2060", text)
    return _MARKDOWN.sub(r"\\\1", text)
