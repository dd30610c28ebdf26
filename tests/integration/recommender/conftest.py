"""Shadow and parity tests of seed 000 against the reference recommender, through the client's local file
source (the same `ToggleClient` code path as AppConfig, minus the network)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from failsafe.client.sources import FileSource
from failsafe.client.toggle_client import ToggleClient
from failsafe.domain.baselines import baseline
from failsafe.domain.scope import Scope
from failsafe.domain.toggles import Metadata, ScopedOverride, ToggleDocument, ToggleSet
from failsafe.recommender.dataset import Catalog, get_catalog

SERVICE = "recommender"
ENVIRONMENT = "dev"


def toggle_document(
    toggles: ToggleSet | dict[str, Any] | str = "normal",
    version: int = 1,
    overrides: dict[tuple[str, ...], str | dict[str, Any]] | None = None,
) -> bytes:
    """A document; `overrides` maps a tuple of regions to a baseline name or toggle dict."""

    def as_set(value: ToggleSet | dict[str, Any] | str) -> ToggleSet:
        if isinstance(value, str):
            return baseline(value)
        if isinstance(value, dict):
            return ToggleSet.model_validate(value)
        return value

    return (
        ToggleDocument(
            metadata=Metadata(
                version=version, environment=ENVIRONMENT, author="shadow-test", reason="shadow test"
            ),
            toggles=as_set(toggles),
            overrides=[
                ScopedOverride(
                    scope=Scope(service=SERVICE, environment=ENVIRONMENT, regions=regions),
                    toggles=as_set(value),
                )
                for regions, value in (overrides or {}).items()
            ],
        )
        .model_dump_json()
        .encode()
    )


class TogglesFile:
    """The local file a `FileSource` reads; `deploy` writes a new version atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._n = 0

    def deploy(self, body: bytes) -> None:
        self._n += 1
        tmp = self.path.with_suffix(f".tmp{self._n}")
        tmp.write_bytes(body)
        tmp.replace(self.path)

    def client(self, **kwargs: Any) -> ToggleClient:
        client = ToggleClient(FileSource(self.path), service=SERVICE, environment=ENVIRONMENT, **kwargs)
        client.refresh()
        return client


@pytest.fixture
def toggles_file(tmp_path: Path) -> TogglesFile:
    return TogglesFile(tmp_path / "toggles.json")


@pytest.fixture
def make_document() -> Callable[..., bytes]:
    return toggle_document


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return get_catalog()


@pytest.fixture(scope="session")
def shadow_users(catalog: Catalog) -> list[dict[str, Any]]:
    """A request mix: known users in their home context, cold-start ids, anonymous and odd requests."""
    requests: list[dict[str, Any]] = [
        {
            "user_id": u.user_id,
            "region": u.region,
            "cohort": u.cohort,
            "client": u.client,
            "k": 10 + u.index % 15,
        }
        for u in catalog.users[::50]
    ]
    requests += [{"user_id": f"visitor-{n}", "region": "eu-west-1", "k": 20} for n in range(20)]
    requests += [{}, {"user_id": None}, {"user_id": "", "k": 100}, {"user_id": 12345, "region": None}]
    return requests
