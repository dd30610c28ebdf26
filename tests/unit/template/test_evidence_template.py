"""template.yaml's evidence resources are tied to their one source: the SQL files and the event schema."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from samtranslator.yaml_helper import yaml_parse

from failsafe.domain.events import COLUMNS, PARTITION_KEY

ROOT = Path(__file__).resolve().parents[3]
QUERIES = ROOT / "infra" / "queries"


@cache
def resources() -> dict[str, Any]:
    return yaml_parse((ROOT / "template.yaml").read_text())["Resources"]  # type: ignore[no-any-return]


def of_type(kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in resources().items() if v["Type"] == kind}


def test_every_sql_file_is_a_named_query_with_its_exact_text() -> None:
    # Given the SQL files and the template's Athena named queries
    files = {path.name: path.read_text() for path in sorted(QUERIES.glob("*.sql"))}
    queries = of_type("AWS::Athena::NamedQuery")
    # Then there is one named query per file, and its QueryString is the file's text, byte for byte
    by_file = {
        q["Properties"]["Description"].split(":")[0].removeprefix("infra/queries/"): q
        for q in queries.values()
    }
    assert set(by_file) == set(files)
    for name, text in files.items():
        props = by_file[name]["Properties"]
        assert props["QueryString"] == text, f"{name}: run `python infra/sync_template.py`"
        assert props["WorkGroup"] == {"Ref": "EvidenceWorkGroup"}
        assert props["Database"] == {"Ref": "EventsDatabase"}


def test_each_glue_table_has_the_event_schema_and_feeds_its_delivery_stream() -> None:
    # Given the Glue tables and Firehose delivery streams
    tables = {v["Properties"]["TableInput"]["Name"]: (k, v) for k, v in of_type("AWS::Glue::Table").items()}
    streams = of_type("AWS::KinesisFirehose::DeliveryStream")
    # Then each table holds the domain's columns, is partitioned by event_date and converts its stream
    assert set(tables) == set(COLUMNS)
    for table, (logical_id, resource) in tables.items():
        descriptor = resource["Properties"]["TableInput"]["StorageDescriptor"]
        assert [(c["Name"], c["Type"]) for c in descriptor["Columns"]] == list(COLUMNS[table])
        assert resource["Properties"]["TableInput"]["PartitionKeys"] == [
            {"Name": PARTITION_KEY, "Type": "string"}
        ]
        (stream,) = [
            s
            for s in streams.values()
            if s["Properties"]["ExtendedS3DestinationConfiguration"]["DataFormatConversionConfiguration"][
                "SchemaConfiguration"
            ]["TableName"]
            == {"Ref": logical_id}
        ]
        destination = stream["Properties"]["ExtendedS3DestinationConfiguration"]
        assert destination["Prefix"] == f"{table}/{PARTITION_KEY}=!{{partitionKeyFromQuery:{PARTITION_KEY}}}/"
        serializer = destination["DataFormatConversionConfiguration"]["OutputFormatConfiguration"][
            "Serializer"
        ]
        assert "ParquetSerDe" in serializer


def test_the_workgroup_has_its_result_location_and_the_recommender_can_deliver() -> None:
    # Given the workgroup and the recommender function
    (workgroup,) = of_type("AWS::Athena::WorkGroup").values()
    config = workgroup["Properties"]["WorkGroupConfiguration"]
    # Then query results go to the events bucket, enforced for every query of the workgroup
    assert config["EnforceWorkGroupConfiguration"] is True
    assert config["ResultConfiguration"]["OutputLocation"] == {
        "Fn::Sub": "s3://${EventsBucket}/athena-results/"
    }
    env = resources()["RecommenderFunction"]["Properties"]["Environment"]["Variables"]
    assert env["RANKING_EVENTS_STREAM"] == {"Ref": "RankingEventsStream"}
    assert env["ERROR_EVENTS_STREAM"] == {"Ref": "ErrorEventsStream"}
