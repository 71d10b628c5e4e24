"""``docs/warehouse.md`` against a warehouse the real daily job built from the simulator.

Every ```sql block of the page runs as written (from the repository root, as an analyst would) and
returns rows; the calls and spend the examples report are compared with the simulator's records,
summed here in Python, and the other examples are checked for what they claim. Every relation and
column of the live warehouse is documented with its type, and the quality flags listed are those the
SQL can produce.
"""

import re
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from laaffic_pipeline.simulator import FaultConfig, LaafficSimulator
from laaffic_pipeline.warehouse import tables
from laaffic_pipeline.warehouse.columns import table_columns
from laaffic_pipeline.warehouse.sql import load_sql
from tests.conftest import TEST_API_KEY, TEST_API_SECRET
from tests.defs.pipeline import make_pipeline

DOC = (Path(__file__).parents[2] / "docs" / "warehouse.md").read_text(encoding="utf-8")
SQL_BLOCK = re.compile(r"^```sql\n(.*?)^```$", re.MULTILINE | re.DOTALL)
DAYS = 3
RELATIONS = [
    tables.RAW_CALL_RECORDS,
    tables.RAW_CALL_RECORD_PAGES,
    tables.MARTS_CALL_FACTS,
    tables.MARTS_DAILY_COSTS,
    tables.MARTS_DAILY_COSTS_BY_CURRENCY,
    tables.MARTS_SPEND_RATE_SPIKES,
]


def section(heading: str, text: str = DOC) -> str:
    """The body under the Markdown heading ``heading`` (e.g. ``"## Example queries"``)."""
    level = heading.split()[0]
    start = text.index(f"\n{heading}\n") + len(heading) + 2
    following = re.search(rf"^#{{1,{len(level)}}} ", text[start:], re.MULTILINE)
    return text[start : start + following.start()] if following else text[start:]


def examples() -> dict[str, str]:
    """Heading -> SQL of each example query."""
    body = section("## Example queries")
    found = {}
    for match in re.finditer(r"^### (.+)$", body, re.MULTILINE):
        (sql,) = SQL_BLOCK.findall(section(f"### {match.group(1)}", body))
        found[match.group(1)] = sql
    return found


EXAMPLES = examples()


def example(number: int) -> str:
    (sql,) = [sql for title, sql in EXAMPLES.items() if title.startswith(f"{number}. ")]
    return sql


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, dict[date, list[dict]]]:
    """A folder laid out like the repository: the job built the last days into data/laaffic.duckdb;
    and the records the simulator holds for each of those UTC days (its own oracle, not the
    pipeline's window).

    A few records are malformed, as real ones may be, so the data-quality examples have rows.
    """
    root = tmp_path_factory.mktemp("repository")
    faults = FaultConfig(malformed_rate=0.03, fault_seed=11)
    with (
        LaafficSimulator(TEST_API_KEY, TEST_API_SECRET, records_per_day=300, faults=faults) as simulator,
        pytest.MonkeyPatch.context() as monkeypatch,
    ):
        pipeline = make_pipeline(
            monkeypatch, root, simulator, duckdb_path=str(root / "data" / "laaffic.duckdb")
        )
        days = [date.fromisoformat(key) for key in pipeline.build_last_days(DAYS)]
        truth = {day: simulator.records_for_local_day(day, "UTC") for day in days}
    return root, truth


@pytest.fixture(scope="module")
def repository(built) -> Path:
    return built[0]


@pytest.fixture
def conn(repository, monkeypatch):
    monkeypatch.chdir(repository)  # the page's paths (data/...) are relative to the repository root
    with duckdb.connect("data/laaffic.duckdb", read_only=True) as connection:
        yield connection


# The two files the page says its examples run on as they are: the analysts' file first.
FILES = ("data/analytics.duckdb", "data/laaffic.duckdb")


@pytest.fixture(params=FILES)
def either(repository, monkeypatch, request):
    """A read-only connection to the analysts' file, then to the warehouse file."""
    monkeypatch.chdir(repository)
    with duckdb.connect(request.param, read_only=True) as connection:
        yield connection


def rows(conn: duckdb.DuckDBPyConnection, sql: str) -> list[dict]:
    cursor = conn.execute(sql)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def test_the_page_has_ten_example_queries():
    assert len(EXAMPLES) == 10
    assert list(EXAMPLES) == [title for title in EXAMPLES if re.match(r"\d+\. ", title)]


@pytest.mark.parametrize("sql", SQL_BLOCK.findall(DOC), ids=lambda sql: " ".join(sql.split())[:60])
def test_every_sql_block_runs_and_returns_rows_on_either_file(either, sql):
    assert rows(either, sql)  # what they return: the tests of each example below


@pytest.mark.parametrize("sql", SQL_BLOCK.findall(DOC), ids=lambda sql: " ".join(sql.split())[:60])
def test_no_example_returns_128_bit_integers(conn, sql):
    """DuckDB sums BIGINT and INTEGER into HUGEINT (int128), which many tools cannot read."""
    types = {column[0]: str(column[1]) for column in conn.execute(sql).description}
    assert not {name: kind for name, kind in types.items() if kind in ("HUGEINT", "UHUGEINT")}


# A condition on call_date relative to today, as an example may write it (BETWEEN, >, >=, <, <=).
DATE_CONDITION = re.compile(
    r"call_date\s+(?:BETWEEN\s+current_date(?:\s*-\s*\d+)?\s+AND\s+current_date(?:\s*-\s*\d+)?"
    r"|[<>]=?\s*current_date(?:\s*-\s*\d+)?)",
    re.IGNORECASE,
)


def days_selected(condition: str) -> tuple[date, date, int]:
    """The first and last day a condition on ``call_date`` keeps among the 100 days around today, and
    how many, computed by DuckDB (whose ``current_date`` the examples use)."""
    with duckdb.connect() as conn:
        return conn.execute(
            "SELECT min(call_date), max(call_date), count(*) FROM (SELECT unnest(range(current_date - 60, "
            f"current_date + 40, INTERVAL 1 DAY))::DATE AS call_date) WHERE {condition}"
        ).fetchone()


def test_each_example_looks_at_the_complete_days_before_today_the_page_says():
    """The page says "the 7 complete days before today" (30 for example 2): each example's
    condition keeps exactly that many days, yesterday the last (today's, provisional, left out)."""
    with duckdb.connect() as conn:
        (today,) = conn.execute("SELECT current_date").fetchone()
    for title, sql in EXAMPLES.items():
        conditions = DATE_CONDITION.findall(sql)
        assert "current_date" not in DATE_CONDITION.sub("", sql), (
            f"{title}: a date condition not checked here"
        )
        days = 30 if "30 days" in title else 7
        for condition in conditions:
            assert days_selected(condition) == (
                today - timedelta(days=days),
                today - timedelta(days=1),
                days,
            ), f"{title}: {condition}"
    assert sum(bool(DATE_CONDITION.findall(sql)) for sql in EXAMPLES.values()) == 9  # all but the exports'
    assert "**7 complete days before today**" in section("## Example queries")


# Example -> the columns it groups calls and spend by, and the record fields they come from.
CALLS_AND_SPEND = {
    1: {"call_date": None, "currency": "currency"},
    2: {"currency": "currency"},
    9: {"sip_group_name": "sipGroupName", "phone_name": "phoneName", "currency": "currency"},
    10: {"call_date": None, "currency": "currency"},
}


@pytest.mark.parametrize("number", CALLS_AND_SPEND)
def test_calls_and_spend_agree_with_the_simulators_records(built, either, number):
    """Each group's calls and total cost, against the records summed here (every built day is in
    the examples' last 7 and 30 days; a cost that is not a number adds nothing)."""
    keys = CALLS_AND_SPEND[number]
    expected: dict[tuple, list] = defaultdict(lambda: [0, Decimal(0)])
    for day, records in built[1].items():
        for record in records:
            group = expected[tuple(day if field is None else record.get(field) for field in keys.values())]
            group[0] += 1
            if re.fullmatch(r"-?\d+(\.\d+)?", str(record.get("cost"))):
                group[1] += Decimal(record["cost"])
    found = {
        tuple(row[column] for column in keys): [row["calls"], row["total_cost"]]
        for row in rows(either, example(number))
    }
    assert found == dict(expected)


def test_1_gives_each_built_day_and_currency_a_row(conn):
    found = rows(conn, example(1))
    days = {row["call_date"] for row in found}
    assert len(days) == DAYS
    assert {(row["call_date"], row["currency"]) for row in found} == {
        (day, currency) for day in days for currency in ("EUR", "USD")
    }


def test_2_the_view_totals_equal_the_sums_over_the_calls(conn):
    found = rows(conn, example(2))
    assert {row["currency"] for row in found} == {"EUR", "USD"}
    assert all(row["agrees"] for row in found), found
    assert (
        sum(row["calls"] for row in found)
        == conn.execute("SELECT count(*) FROM marts.call_facts").fetchone()[0]
    )


def test_3_lists_at_most_five_destinations_per_currency_by_spend(conn):
    found = rows(conn, example(3))
    for currency in ("EUR", "USD"):
        costs = [row["total_cost"] for row in found if row["currency"] == currency]
        assert 0 < len(costs) <= 5
        assert costs == sorted(costs, reverse=True)


def test_4_and_9_ratios_are_ratios(conn):
    assert all(0 <= row["asr"] <= 1 for row in rows(conn, example(4)) + rows(conn, example(9)))


def test_6_the_bill_period_rule_never_charges_less_than_the_call(conn):
    found = rows(conn, example(6))
    assert {row["bill_period"] for row in found} == {"1+1", "6+6", "20+20", "30+6", "60+60"}
    assert all(row["seconds_added"] >= 0 for row in found)
    assert {row["seconds_added"] for row in found if row["bill_period"] == "1+1"} == {0}


def test_8_counts_every_flag_of_every_call(conn):
    (flags,) = conn.execute("SELECT sum(len(quality_flags)) FROM marts.call_facts").fetchone()
    assert sum(row["calls"] for row in rows(conn, example(8))) == flags > 0


def test_10_the_parquet_exports_hold_what_the_view_shows(conn):
    assert [tuple(row.values()) for row in rows(conn, example(10))] == conn.execute(
        "SELECT call_date, currency, calls, total_cost FROM marts.daily_costs_by_currency ORDER BY ALL"
    ).fetchall()


def documented_columns(relation: str) -> list[tuple[str, str, str]]:
    """(name, type, meaning) of each row of the column table under ``### `relation` ``."""
    found = []
    for line in section(f"### `{relation}`").splitlines():
        cells = re.match(r"^\| `(\w+)` \| ([^|]+) \| (.*) \|$", line)
        if cells:
            meaning = cells.group(3).replace("\\|", "|").replace("`", "")
            found.append((cells.group(1), cells.group(2).strip(), meaning))
    return found


def test_every_relation_of_the_warehouse_is_documented(conn):
    live = {
        f"{schema}.{name}"
        for schema, name in conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema IN ('raw', 'marts')"
        ).fetchall()
    }
    named = {value for name, value in vars(tables).items() if name.isupper()}
    assert live == named
    overview = section("## Tables")
    for relation in live:
        assert f"| `{relation}` |" in overview
        assert documented_columns(relation)


@pytest.mark.parametrize("relation", RELATIONS)
def test_every_column_is_documented_with_its_type(conn, relation):
    live = [
        (name, kind.replace("TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ"))
        for name, kind, *_ in conn.execute(f"DESCRIBE {relation}").fetchall()
    ]
    documented = documented_columns(relation)
    assert [(name, kind) for name, kind, _ in documented] == live


@pytest.mark.parametrize("relation", RELATIONS)
def test_the_page_says_what_the_ddl_comments_say(relation):
    """One source: the create statements' COMMENT ON texts; the page repeats them word for word."""
    documented = documented_columns(relation)
    assert documented == table_columns(relation)
    assert all(meaning.strip() for _, _, meaning in documented)


def test_the_quality_flags_listed_are_those_the_sql_can_produce():
    sql = load_sql("insert_call_facts")
    literal = set(re.findall(r"'((?:missing|invalid)_\w+|\w+_as_string)'", sql))
    by_problem = {
        f"{kind}_{field}" for field in re.findall(r"problem\('(\w+)'", sql) for kind in ("missing", "invalid")
    }
    listed = set(re.findall(r"`((?:missing|invalid)_\w+|\w+_as_string)`", section("### Quality flags")))
    assert listed == literal | by_problem
