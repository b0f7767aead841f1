"""Fixtures reading the packaging files of this checkout."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.packaging import dockerfile_lint
from tests.packaging.unitfile import Unit

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ROOT / "packaging"
DOCKERFILE = PACKAGING / "Dockerfile"
COMPOSE = PACKAGING / "docker-compose.yml"
UNIT = PACKAGING / "candlewick.service"
COMPOSE_CONFIG = ROOT / "etc" / "candlewick.compose.toml"


@pytest.fixture(scope="session")
def compose() -> dict[str, Any]:
    """docker-compose.yml, parsed."""
    data = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="session")
def dockerfile() -> list[dockerfile_lint.Instruction]:
    """The Dockerfile's instructions."""
    return dockerfile_lint.parse(DOCKERFILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def unit() -> Unit:
    """candlewick.service, parsed."""
    return Unit.read(UNIT)
