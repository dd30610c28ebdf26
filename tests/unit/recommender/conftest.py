"""Fixtures for the reference recommender's unit tests: an in-memory toggles source and documents."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from failsafe.client.sources import Fetched, SourceUnavailable
from failsafe.client.toggle_client import ToggleClient
from failsafe.domain.baselines import baseline
from failsafe.domain.toggles import Metadata, ToggleDocument, ToggleSet
from failsafe.recommender.dataset import Catalog, get_catalog


class MemorySource:
    """A `ConfigSource` whose body the test sets; `down=True` makes it unreachable."""

    def __init__(self, body: bytes | None = None) -> None:
        self.body = body
        self.down = False

    @property
    def name(self) -> str:
        return "memory"

    def fetch(self) -> Fetched:
        if self.down:
            raise SourceUnavailable("memory source is down")
        return Fetched(body=self.body, content_type="application/json")


def document(toggles: ToggleSet | dict[str, Any] | str = "normal", version: int = 1, **meta: Any) -> bytes:
    if isinstance(toggles, str):
        toggles = baseline(toggles)
    elif isinstance(toggles, dict):
        toggles = ToggleSet.model_validate(toggles)
    metadata = Metadata(
        version=version,
        environment=meta.pop("environment", "dev"),
        author="unit-test",
        reason=meta.pop("reason", "unit test"),
    )
    return ToggleDocument(metadata=metadata, toggles=toggles, **meta).model_dump_json().encode()


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return get_catalog()


@pytest.fixture
def make_client() -> Callable[..., tuple[ToggleClient, MemorySource]]:
    def make(
        toggles: ToggleSet | dict[str, Any] | str = "normal", version: int = 1
    ) -> tuple[ToggleClient, MemorySource]:
        source = MemorySource(document(toggles, version))
        client = ToggleClient(source, environment="dev", service="recommender")
        client.refresh()
        assert client.config_version == version
        return client, source

    return make


@pytest.fixture
def make_document() -> Callable[..., bytes]:
    return document
