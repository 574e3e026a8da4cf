"""Unit-test fixtures: everything is in-process and pure; no cluster, no network, no clock.

``profile`` is the brief's example ECIProfile extended to two zones (see ``builders.py``); ``make_pod``
there builds plain Pod dicts the way the API server returns them, which is what ``resolve`` takes.
"""

from __future__ import annotations

import pytest
from builders import make_profile

from eci_operator.models import ECIProfileSpec


@pytest.fixture
def profile() -> ECIProfileSpec:
    return make_profile()
