"""AWS AppConfig / AppConfig Data errors, serialized by moto from botocore's error shapes.

Each class sets `code` to the error shape's name in the service model, so botocore raises a
`ClientError` whose `Error.Code` is exactly what AWS returns, and extra members (Reason, Details,
ResourceName, ResourceType) are serialized from the instance attributes.
"""

from __future__ import annotations

from typing import Any

from moto.core.exceptions import ServiceException


class ResourceNotFoundException(ServiceException):
    code = "ResourceNotFoundException"

    def __init__(self, message: str, resource_name: str | None = None) -> None:
        super().__init__(message)
        self.ResourceName = resource_name


class BadRequestException(ServiceException):
    """AppConfig's BadRequestException; `details` are InvalidConfigurationDetail entries (validators)."""

    code = "BadRequestException"

    def __init__(self, message: str, details: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        if details:
            self.Reason = "InvalidConfiguration"
            self.Details: dict[str, Any] | None = {"InvalidConfiguration": details}
        else:
            self.Details = None


class ConflictException(ServiceException):
    code = "ConflictException"


class DataResourceNotFoundException(ServiceException):
    """AppConfig Data's ResourceNotFoundException (ResourceType + ReferencedBy)."""

    code = "ResourceNotFoundException"

    def __init__(self, message: str, resource_type: str, referenced_by: dict[str, str]) -> None:
        super().__init__(message)
        self.ResourceType = resource_type
        self.ReferencedBy = referenced_by


class DataBadRequestException(ServiceException):
    """AppConfig Data's BadRequestException; `problem` is Corrupted | Expired | PollIntervalNotSatisfied."""

    code = "BadRequestException"

    def __init__(self, message: str, parameter: str | None = None, problem: str | None = None) -> None:
        super().__init__(message)
        if parameter and problem:
            self.Reason = "InvalidParameters"
            self.Details: dict[str, Any] | None = {"InvalidParameters": {parameter: {"Problem": problem}}}
        else:
            self.Details = None
