"""Rewriting a post's front-matter lines in place: what `fix` writes, byte for byte elsewhere."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from podcast_pipeline.posts import front_matter_bounds


def rewrite_fields(text: str, values: Mapping[str, str]) -> str:
    """Set top-level front-matter `values` by rewriting only their lines; every other byte stays.

    A line keeps its quote style and trailing comment. A plain (unquoted) value that would contain a
    colon is double-quoted instead, since YAML 1.1 readers (Jekyll's included) take `1:01:43` as a
    base-60 number. A missing name is added right after the last rewritten line, else at the end of the
    front-matter, with that line's line ending.
    """
    if not values:
        return text
    lines = re.split(r"(?<=\n)", text)
    bom = 1 if text.startswith("\ufeff") else 0
    bounds = front_matter_bounds(text[bom:])
    # line indexes of the `---` lines: `lines` splits after each newline
    opening = text.count("\n", 0, bom + bounds.opening_start)
    closing = text.count("\n", 0, bom + bounds.closing_start)
    wanted = {re.escape(name) for name in values}
    field_line = re.compile(
        rf"(?P<name>{'|'.join(sorted(wanted))})(?P<sep>[ \t]*:[ \t]*)"
        r"""(?P<value>"(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^#\r\n]*?)(?P<rest>[ \t]*(?:#[^\r\n]*)?\r?\n?)"""
    )
    out: list[str] = []
    seen: set[str] = set()
    insert_at, style = closing, '"'  # until a line is rewritten, `out` lines up with `lines`
    index = 0
    while index < len(lines):
        line = lines[index]
        match = field_line.fullmatch(line) if opening < index < closing else None
        index += 1
        if match is None:
            out.append(line)
            continue
        name, old = match["name"], match["value"]
        style = old[0] if old[:1] in ("'", '"') else ""
        out.append(f"{name}{match['sep']}{_quote(values[name], style)}{match['rest']}")
        seen.add(name)
        # an indented line after a top-level key continues that key's value
        while (
            index < closing and lines[index][:1] in (" ", "\t") and lines[index].strip()[:1] not in ("", "#")
        ):
            index += 1
        insert_at = len(out)
    missing = [name for name in values if name not in seen]
    if missing:
        neighbour = out[insert_at - 1]
        ending = "\r\n" if neighbour.endswith("\r\n") else "\n"
        out[insert_at:insert_at] = [f"{name}: {_quote(values[name], style)}{ending}" for name in missing]
    return "".join(out)


def _quote(value: str, style: str) -> str:
    if style == "'":
        return "'" + value.replace("'", "''") + "'"
    if style == '"' or ":" in value or not value:
        return json.dumps(value, ensure_ascii=False)
    return value
