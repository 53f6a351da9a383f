"""Keys that only look like the keys a reader expects.

Every key Qtap, Pulumi and this program read is ASCII. A key holding a Cyrillic a (U+0430) or a
Greek o (U+03BF) renders exactly like its Latin twin in a diff, a terminal and a PR comment, so
a reviewer approves `access_key` spelled with U+0430 while Qtap (or Pulumi) never reads it. Such a
key gets a warning of its own that names each look-alike character by its code point and name
(Unicode TR #39, "Mixed-Script Confusables", is the class of attack).
"""

from __future__ import annotations

import unicodedata


def _script(character: str) -> str:
    """The script a letter belongs to, as the first word of its Unicode name (LATIN, CYRILLIC,
    GREEK, ...); an unnamed character is UNKNOWN."""
    return unicodedata.name(character, "UNKNOWN UNKNOWN").split(" ", 1)[0]


def non_ascii_key(key: str, limit: int = 4) -> str | None:
    """Why `key` is not what it looks like, or None for an ASCII key.

    Names at most `limit` of its non-ASCII characters (a hostile key must not flood the output)
    and says whether it mixes scripts, the sign of a look-alike."""
    odd = [c for c in dict.fromkeys(key) if not c.isascii()]
    if not odd:
        return None
    shown = ", ".join(
        f"U+{ord(c):04X} {unicodedata.name(c, 'unnamed character')}" for c in odd[:limit]
    )
    more = f" and {len(odd) - limit} more" if len(odd) > limit else ""
    scripts = sorted({_script(c) for c in key if c.isalpha()})
    mixed = f"; it mixes the {' and '.join(scripts)} scripts" if len(scripts) > 1 else ""
    return f"holds characters that are not ASCII ({shown}{more}){mixed}"
