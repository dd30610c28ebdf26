"""The recommender's release: the Lambda alias its traffic goes through, and reverting it.

Level 3 of seed 004 reverts to the last known good release. The controller records the alias's function
version as last-known-good when a scope returns to NORMAL, and the revert points the alias back at it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient


class ReleaseError(Exception):
    pass


class ReleaseManager:
    def __init__(self, client: LambdaClient, function_name: str, alias: str) -> None:
        self._client = client
        self.function_name = function_name
        self.alias = alias

    def current(self) -> str:
        try:
            return str(
                self._client.get_alias(FunctionName=self.function_name, Name=self.alias)["FunctionVersion"]
            )
        except Exception as exc:
            raise ReleaseError(f"{self.function_name}:{self.alias}: cannot read the release ({exc})") from exc

    @staticmethod
    def previous(version: str) -> str | None:
        """The published version before `version` (None for the first one or for $LATEST)."""
        return str(int(version) - 1) if version.isdigit() and int(version) > 1 else None

    def revert_to(self, version: str) -> str:
        """Point the alias at `version`; returns the version it pointed at before."""
        before = self.current()
        self._client.update_alias(FunctionName=self.function_name, Name=self.alias, FunctionVersion=version)
        return before
