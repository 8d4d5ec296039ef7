from __future__ import annotations

import sys

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def mcpwrap_home(tmp_path, monkeypatch):
    """Every test gets its own MCPWRAP_HOME: no test touches a real home."""
    home = tmp_path / "mcpwrap-home"
    monkeypatch.setenv("MCPWRAP_HOME", str(home))
    return home


@pytest.fixture(autouse=True)
def _private_session_buses():
    """The approval tests' private session buses (approval_rig) end with the test that started them."""
    yield
    rig = sys.modules.get("approval_rig")
    if rig is not None:
        rig.stop_buses()
