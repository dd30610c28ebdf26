"""The evidence resources of template.yaml in the local stack: Firehose and Glue in moto, Athena skipped
with a stated reason."""

from __future__ import annotations

from pathlib import Path

from failsafe.domain.events import COLUMNS, PARTITION_KEY
from failsafe_tools.local.clock import ManualClock
from failsafe_tools.local.provision import evidence
from failsafe_tools.local.stack import LocalStack

TEMPLATE = Path(__file__).resolve().parents[3] / "template.yaml"


def test_firehose_and_glue_are_created_and_athena_is_skipped_with_its_reason() -> None:
    # Given the real template, When the local stack provisions it
    with LocalStack.start(TEMPLATE, clock=ManualClock(), ticker=False, agent=False) as stack:
        outputs = dict(stack.outputs)
        firehose = stack.client("firehose")
        streams = set(firehose.list_delivery_streams()["DeliveryStreamNames"])
        glue = stack.client("glue")
        tables = {
            t["Name"]: t for t in glue.get_tables(DatabaseName=outputs["EventsDatabaseName"])["TableList"]
        }
        skipped = dict(evidence.skipped)

    # Then both delivery streams exist
    assert {outputs["RankingEventsStreamName"], outputs["ErrorEventsStreamName"]} <= streams
    # And each Glue table has exactly the event schema, partitioned by event_date
    assert set(tables) == set(COLUMNS)
    for name, columns in COLUMNS.items():
        described = tables[name]["StorageDescriptor"]["Columns"]
        assert [(c["Name"], c["Type"]) for c in described] == list(columns)
        assert [k["Name"] for k in tables[name]["PartitionKeys"]] == [PARTITION_KEY]
    # And the Athena workgroup and every named query are skipped, each with the reason, never silently
    assert outputs["AthenaWorkGroupName"] == "failsafe-evidence"
    athena = {lid for lid, why in skipped.items() if why.startswith("AWS::Athena::")}
    assert athena == {
        "EvidenceWorkGroup",
        "CoverageEvidenceQuery",
        "LatencyEvidenceQuery",
        "ErrorsEvidenceQuery",
        "EfficacyEvidenceQuery",
    }
    assert all("DuckDB" in why for why in skipped.values())
