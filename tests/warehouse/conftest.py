"""The warehouse layer's tests share one fixture: a DuckDB warehouse file of the test's own."""

from collections.abc import Iterator

import duckdb
import pytest


@pytest.fixture
def conn(tmp_path) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    yield connection
    connection.close()
