"""Local provisioning of the evidence resources: Firehose delivery streams, Glue database and tables, and
the Athena workgroup and named queries (template.yaml, "evidence").

What moto (5.2.x) does with them, checked against the botocore this project installs:

- ``AWS::KinesisFirehose::DeliveryStream``: created in moto. PutRecordBatch is accepted and moto writes the
  raw records to the local S3 bucket, but it does not convert them to Parquet (``DataFormatConversion``)
  nor partition them (``DynamicPartitioning``: the prefix stays literal). Locally the evidence queries read
  the Parquet that `failsafe_tools.evidence.parquet.ParquetEventSink` writes instead.
- ``AWS::Glue::Database`` / ``AWS::Glue::Table``: created in moto (the schema Firehose would convert with).
- ``AWS::Athena::WorkGroup`` / ``AWS::Athena::NamedQuery``: **skipped** (see `LOCAL_SKIPS`): moto answers
  every Athena operation with ``404 Not yet implemented`` under botocore 1.40+ (Athena's wire protocol
  changed and moto's Athena responses do not route it). The local engine for the same SQL files is DuckDB
  (`failsafe query --target local`); the resource still gets its physical id (the workgroup's name, a
  stable id for a named query) so that ``Ref`` and the stack outputs resolve.
"""

from __future__ import annotations

import hashlib
from typing import Any, Final

from failsafe_tools.local.provision.intrinsics import ResourceRecord
from failsafe_tools.local.provision.resources import Context, register

LOCAL_SKIPS: Final[dict[str, str]] = {
    "AWS::Athena::WorkGroup": (
        "moto answers Athena with 404 'Not yet implemented' under this botocore; the evidence queries run on"
        " DuckDB locally (failsafe query --target local)"
    ),
    "AWS::Athena::NamedQuery": (
        "moto answers Athena with 404 'Not yet implemented' under this botocore; the query is its"
        " infra/queries/*.sql file, which DuckDB runs locally"
    ),
}
"""Resource types the local stack accepts without creating them, with the reason. Never silent: every
skipped resource is listed in `skipped` with its reason."""

skipped: dict[str, str] = {}
"""Logical id -> type and reason, for every resource skipped by a provisioning in this process."""


@register(
    "AWS::KinesisFirehose::DeliveryStream",
    {
        "DeliveryStreamName",
        "DeliveryStreamType",
        "ExtendedS3DestinationConfiguration",
        "Tags",
    },
    {"DeliveryStreamEncryptionConfigurationInput"},
)
def _delivery_stream(ctx: Context, logical_id: str, p: dict[str, Any]) -> ResourceRecord:
    name = p.get("DeliveryStreamName") or ctx.physical_name(logical_id, 64)
    kwargs: dict[str, Any] = {
        "DeliveryStreamName": name,
        "DeliveryStreamType": p.get("DeliveryStreamType", "DirectPut"),
    }
    if "ExtendedS3DestinationConfiguration" in p:
        kwargs["ExtendedS3DestinationConfiguration"] = _typed(p["ExtendedS3DestinationConfiguration"])
    if p.get("Tags"):
        kwargs["Tags"] = [{"Key": t["Key"], "Value": t["Value"]} for t in p["Tags"]]
    arn = ctx.c("firehose").create_delivery_stream(**kwargs)["DeliveryStreamARN"]
    return ResourceRecord(logical_id, "AWS::KinesisFirehose::DeliveryStream", name, {"Arn": arn})


_INTEGERS: Final = {"IntervalInSeconds", "SizeInMBs"}
_BOOLEANS: Final = {"Enabled"}


def _typed(value: Any, key: str = "") -> Any:
    """CloudFormation hands numbers and booleans over as strings sometimes; the API wants real types."""
    if isinstance(value, dict):
        return {k: _typed(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_typed(v, key) for v in value]
    if key in _INTEGERS and isinstance(value, str):
        return int(value)
    if key in _BOOLEANS and isinstance(value, str):
        return value.lower() == "true"
    return value


@register("AWS::Glue::Database", {"CatalogId", "DatabaseInput", "DatabaseName"})
def _glue_database(ctx: Context, logical_id: str, p: dict[str, Any]) -> ResourceRecord:
    database = dict(p["DatabaseInput"])
    database.setdefault("Name", ctx.physical_name(logical_id, 255, lower=True).replace("-", "_"))
    ctx.c("glue").create_database(CatalogId=str(p.get("CatalogId", ctx.account_id)), DatabaseInput=database)
    return ResourceRecord(logical_id, "AWS::Glue::Database", database["Name"], {})


@register("AWS::Glue::Table", {"CatalogId", "DatabaseName", "TableInput", "OpenTableFormatInput"})
def _glue_table(ctx: Context, logical_id: str, p: dict[str, Any]) -> ResourceRecord:
    table = dict(p["TableInput"])
    table.setdefault("Name", ctx.physical_name(logical_id, 255, lower=True).replace("-", "_"))
    ctx.c("glue").create_table(
        CatalogId=str(p.get("CatalogId", ctx.account_id)), DatabaseName=p["DatabaseName"], TableInput=table
    )
    return ResourceRecord(logical_id, "AWS::Glue::Table", table["Name"], {})


def _skip(type_name: str, ctx: Context, logical_id: str, physical_id: str) -> ResourceRecord:
    skipped[logical_id] = f"{type_name}: {LOCAL_SKIPS[type_name]}"
    return ResourceRecord(logical_id, type_name, physical_id, {})


@register(
    "AWS::Athena::WorkGroup",
    {"Name", "Description", "State", "RecursiveDeleteOption", "WorkGroupConfiguration", "Tags"},
)
def _athena_workgroup(ctx: Context, logical_id: str, p: dict[str, Any]) -> ResourceRecord:
    return _skip("AWS::Athena::WorkGroup", ctx, logical_id, str(p["Name"]))


@register("AWS::Athena::NamedQuery", {"Name", "Description", "Database", "WorkGroup", "QueryString"})
def _athena_named_query(ctx: Context, logical_id: str, p: dict[str, Any]) -> ResourceRecord:
    digest = hashlib.sha256(f"{ctx.stack_name}/{logical_id}".encode()).hexdigest()
    query_id = f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"
    return _skip("AWS::Athena::NamedQuery", ctx, logical_id, query_id)
