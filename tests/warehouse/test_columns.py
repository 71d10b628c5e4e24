"""The create statements' COMMENT ON texts are the one description of every table and column."""

import duckdb
import pytest

from laaffic_pipeline.warehouse import tables
from laaffic_pipeline.warehouse.columns import live_table_columns, table_columns, table_comment, table_names
from laaffic_pipeline.warehouse.marts import ensure_mart_tables
from tests.warehouse.test_storage_compatibility import duckdb_cli

RELATIONS = sorted(value for name, value in vars(tables).items() if name.isupper())


def test_the_create_statements_define_exactly_the_named_relations():
    assert table_names() == RELATIONS


@pytest.mark.parametrize("relation", RELATIONS)
def test_every_relation_and_column_has_a_comment(relation):
    assert table_comment(relation).strip()
    columns = table_columns(relation)
    assert columns
    assert [name for name, _, comment in columns if not comment.strip()] == []


def test_columns_come_with_their_declared_types():
    facts = {name: kind for name, kind, _ in table_columns(tables.MARTS_CALL_FACTS)}
    assert facts["cost"] == facts["rate"] == facts["expected_cost"] == "DECIMAL(18,6)"
    assert facts["fetched_at"] == "TIMESTAMPTZ"  # DuckDB's catalog says TIMESTAMP WITH TIME ZONE
    assert facts["quality_flags"] == "VARCHAR[]"
    assert table_columns(tables.RAW_CALL_RECORDS)[2] == (
        "record",
        "JSON",
        "The record exactly as received, every field kept.",
    )


def test_an_unknown_relation_is_named_in_the_error():
    with pytest.raises(KeyError, match="marts.nope"):
        table_columns("marts.nope")


def test_a_v1_0_0_warehouse_keeps_the_comments_for_the_pinned_cli(tmp_path):
    database = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(database), config={"storage_compatibility_version": "v1.0.0"}) as conn:
        ensure_mart_tables(conn)
        for relation in RELATIONS:
            assert live_table_columns(conn, relation) == [
                (name, kind) for name, kind, _ in table_columns(relation)
            ]

    answered = duckdb_cli(
        database,
        "SELECT schema_name || '.' || table_name, column_name, comment FROM duckdb_columns() "
        "WHERE schema_name IN ('raw', 'marts') ORDER BY ALL;",
    )

    assert answered.returncode == 0, answered.stderr
    read_back = sorted(line.split(",", 2) for line in answered.stdout.splitlines())
    assert len(read_back) == sum(len(table_columns(relation)) for relation in RELATIONS)
    comments = {
        (relation, name): comment for relation in RELATIONS for name, _, comment in table_columns(relation)
    }
    for relation, name, comment in read_back:
        # The CLI quotes CSV fields holding commas or quotes; compare what it printed, unquoted.
        assert comment.strip('"').replace('""', '"') == comments[relation, name], (relation, name)
