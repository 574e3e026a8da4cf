"""Placeholder for the ``cluster`` sub-command (filled in by its issue)."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    """Add nothing yet: the sub-command is not built."""
    del subparsers
