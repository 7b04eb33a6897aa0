"""Names from YAML or parameters (suites, sources, model labels) become file names: they must stay names."""

from __future__ import annotations

import re

NAME = re.compile(r"[^\W_][\w\-. ]*", re.UNICODE)  # letters (CJK included), digits, '-', '_', '.', ' '; no leading dot
MAX_LENGTH = 100


def check_name(kind: str, name, where: str = "") -> str:
    """``name`` if it is a plain name (no path separators, no leading dot or space), else a ValueError naming it."""
    if not isinstance(name, str) or not NAME.fullmatch(name) or len(name) > MAX_LENGTH:
        raise ValueError(
            f"{where}{kind} {name!r} is not a plain name: use letters, digits, '-', '_', '.' and spaces "
            f"(starting with a letter or digit, at most {MAX_LENGTH} characters), no path separators"
        )
    return name
