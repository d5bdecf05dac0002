"""Fixtures for the datasets tests: locating the shared data folder (never downloading)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest


def find_shared_data() -> Path | None:
    """``$NEUROPLASTIC_DATA`` if set, else the first ``shared/data`` found walking up from here.

    The repository (e.g. /work/main) has ``shared/data`` as a sibling (/work/shared/data); in
    CI the clone has ``../shared/data`` beside it too.
    """
    env = os.environ.get("NEUROPLASTIC_DATA")
    if env:
        return Path(env) if Path(env).is_dir() else None
    for parent in Path(__file__).resolve().parents:
        cand = parent / "shared" / "data"
        if cand.is_dir():
            return cand
    return None


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared data folder holding ``mnist/``; skips the test when it is absent."""
    root = find_shared_data()
    if root is None or not (root / "mnist").is_dir():
        pytest.skip("shared data folder with mnist/ not found: set NEUROPLASTIC_DATA or place "
                    "it at ../shared/data beside the repository")
    return root
