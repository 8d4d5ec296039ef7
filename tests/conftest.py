from __future__ import annotations

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
