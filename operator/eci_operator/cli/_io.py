"""Reading Kubernetes documents for the offline sub-commands (``resolve``, ``profile``).

Both commands take JSON or YAML (possibly several ``---`` documents, or a ``kind: List``) from a file or
stdin, and must turn every kind of bad input into one ``error: ...`` line on stderr with exit code 2 instead
of a traceback. This module holds that shared plumbing.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping
from typing import Any, TextIO

import yaml

EXIT_BAD_INPUT = 2


class InputError(Exception):
    """Bad command-line input; the message is printed after ``error: ``."""


def read_text(path: str | None, *, stdin: TextIO | None = None) -> tuple[str, str]:
    """(text, display name) of ``path``, or of stdin for ``None`` or ``-``."""
    if path is None or path == "-":
        stream = stdin if stdin is not None else sys.stdin
        return stream.read(), "<stdin>"
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read(), path
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a UTF-8 text file") from None


def load_documents(text: str, name: str) -> list[Mapping[str, Any]]:
    """Every object in a JSON/YAML text; ``kind: List`` objects are expanded into their items."""
    try:
        raw = [doc for doc in yaml.safe_load_all(text) if doc is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(f"{name}: not valid YAML or JSON{where}: {problem}") from None
    documents: list[Mapping[str, Any]] = []
    for index, doc in enumerate(raw):
        if not isinstance(doc, Mapping):
            raise InputError(f"{name}: document {index + 1} is a {type(doc).__name__}, not an object")
        if doc.get("kind") == "List" or (str(doc.get("kind", "")).endswith("List") and "items" in doc):
            items = doc.get("items") or []
            if not isinstance(items, list) or not all(isinstance(item, Mapping) for item in items):
                raise InputError(f"{name}: document {index + 1}: items of a List must be objects")
            documents.extend(items)
        else:
            documents.append(doc)
    if not documents:
        raise InputError(f"{name}: no document found")
    return documents


def describe(doc: Mapping[str, Any]) -> str:
    """``Kind/name`` of a document, for messages."""
    metadata = doc.get("metadata")
    name = metadata.get("name") if isinstance(metadata, Mapping) else None
    return f"{doc.get('kind', '(no kind)')}/{name or '(no name)'}"


def pick(
    documents: Iterable[Mapping[str, Any]], kinds: Iterable[str], name: str, *, what: str
) -> tuple[Mapping[str, Any], str | None]:
    """The first document of one of ``kinds``, and a note if others of those kinds were skipped."""
    wanted = tuple(kinds)
    docs = list(documents)
    matching = [doc for doc in docs if doc.get("kind") in wanted]
    if not matching:
        found = ", ".join(sorted({str(doc.get("kind", "(no kind)")) for doc in docs}))
        raise InputError(
            f"{name}: no {what} found (kinds in the input: {found}); expected one of: {', '.join(wanted)}"
        )
    note = None
    if len(matching) > 1:
        skipped = ", ".join(describe(doc) for doc in matching[1:])
        first = describe(matching[0])
        note = f"{name}: {len(matching)} {what} documents; using the first ({first}), ignoring {skipped}"
    return matching[0], note


def parse_key_values(text: str, *, option: str) -> dict[str, str]:
    """``k=v,k2=v2`` into a dict (empty text gives an empty dict)."""
    result: dict[str, str] = {}
    if not text.strip():
        return result
    for item in text.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep or not key:
            raise InputError(
                f"{option}: {item.strip()!r} is not valid: expected key=value; allowed: k=v[,k2=v2...]"
            )
        if key in result:
            raise InputError(f"{option}: {key!r} is given twice")
        result[key] = value
    return result


def emit(text: str) -> None:
    """Write ``text`` to stdout; a reader that went away (``| head``) is not an error."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        # Python would complain again when flushing stdout at exit; point it at /dev/null instead.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def fail(message: str) -> int:
    """Print ``error: <message>`` on stderr and return the bad-input exit code."""
    print(f"error: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def note(message: str) -> None:
    """Print ``note: <message>`` on stderr (facts the user should know, not failures)."""
    print(f"note: {message}", file=sys.stderr)
