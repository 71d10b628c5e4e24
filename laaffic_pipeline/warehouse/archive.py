"""The raw archive: each landed day of raw as immutable Parquet objects beside a manifest, elsewhere.

Past the API's two months the warehouse file is the only copy of a day's calls, and finance needs
them for years. The archive is a second copy in another place (an S3-compatible bucket in
production; by default a folder beside the warehouse): written as each day lands, compared with
the warehouse by a per-day check, and enough on its own to rebuild raw without the API.

Layout under the archive URL (a local folder, ``file://...``, or ``s3://bucket/prefix``)::

    call_records/day=YYYY-MM-DD/v=0002-20261202T021503Z.parquet        the day's raw.call_records
    call_record_pages/day=YYYY-MM-DD/v=0002-20261202T021503Z.parquet   the day's raw.call_record_pages
    manifests/day=YYYY-MM-DD/v=0002-20261202T021503Z.json              what those two files hold

``v=<version>-<landed_at, UTC>``: every landing of a day archived is a new version (1, 2, ...).
An object is never overwritten: each is created only if absent (S3's ``If-None-Match: *``, a hard
link in a folder), so a version, once written, stays as it was. The manifest is written last: a
version exists once its manifest does, and data files without one (an archive interrupted between
uploads) are ignored, never reused, and deleted by ``prune_archive``. Old versions stay until
``prune_archive`` removes those superseded longer ago than a retention the caller gives (off unless
called; the latest version of a day is never removed).

Digests are computed in DuckDB over a canonical text of every row (``sql/archive_macros.sql``) in
a canonical order, so a digest taken years later from the warehouse, a restored copy or the file
is comparable with the manifest's. An archive is checked twice before anything is uploaded: the
written Parquet files' rows must have the warehouse's digests. Afterwards each file's SHA-256 (of
its bytes, in the manifest) shows that it is unchanged, and the warehouse's digest, recomputed,
that raw still equals the archive (``verify_day``).

S3 goes through fsspec's ``s3fs`` and botocore's usual credential chain (``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``, ``AWS_REGION``, ``AWS_ENDPOINT_URL`` /
``AWS_ENDPOINT_URL_S3``, profiles, instance roles). This module never reads, passes, stores or
prints a credential, and refuses a URL that carries one. It does not create buckets.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import duckdb

from laaffic_pipeline.warehouse.landing import ensure_raw_tables, stored_days_among
from laaffic_pipeline.warehouse.sql import query_rows, run_sql

ARCHIVE_FORMAT = 1
"""The manifest's ``archive_format``: a reader refuses a newer one rather than misread it."""

DIGEST_METHOD = (
    "sha256 v1: sha256 of each row's canonical text (sql/archive_macros.sql); records: per page in "
    "position order, then over the pages in page order; pages: in page order"
)

RECORDS = "call_records"
PAGES = "call_record_pages"
MANIFESTS = "manifests"

_OBJECT_NAME = re.compile(r"^v=(?P<version>\d+)-(?P<stamp>\d{8}T\d{6}Z)\.(?P<ext>json|parquet)$")
_DAY_FOLDER = re.compile(r"^day=(?P<day>\d{4}-\d{2}-\d{2})$")
_CHUNK = 1024 * 1024
_CREATE_ATTEMPTS = 3
T = TypeVar("T")


class ArchiveError(RuntimeError):
    """The archive cannot be read or written, or does not hold what it should; the message says why."""


class DaysAlreadyStoredError(ArchiveError):
    """A restore would replace days the warehouse already holds, and was not told to."""

    def __init__(self, days: list[date]) -> None:
        self.days = days
        super().__init__(
            f"the warehouse already holds {len(days)} of the days to restore ({_spans(days)}); nothing "
            "was restored. Restore into a new warehouse file, or replace those days on purpose "
            "(overwrite=True; `laaffic-pipeline restore --force`)."
        )


@dataclass(frozen=True)
class ArchivedFile:
    """One object of a version: its key under the archive URL, size and SHA-256 of its bytes."""

    key: str
    bytes: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    """What one archived version of a day holds (``manifests/day=.../v=....json``)."""

    day: date
    version: int
    landed_at: datetime
    run_id: str
    records: int
    reported_total: int | None
    pages: int
    records_digest: str
    pages_digest: str
    files: dict[str, ArchivedFile]  # RECORDS and PAGES
    digest_method: str = DIGEST_METHOD
    archive_format: int = ARCHIVE_FORMAT

    @property
    def key(self) -> str:
        return _object_key(MANIFESTS, self.day, self.version, self.landed_at, "json")

    def to_json(self) -> bytes:
        body = asdict(self)
        body["day"] = self.day.isoformat()
        body["landed_at"] = self.landed_at.isoformat()
        return (json.dumps(body, indent=2, sort_keys=True) + "\n").encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes, key: str) -> Manifest:
        try:
            body = json.loads(data)
            if body.get("archive_format") != ARCHIVE_FORMAT:
                raise ArchiveError(
                    f"{key} is archive format {body.get('archive_format')!r}; this version of the "
                    f"pipeline reads format {ARCHIVE_FORMAT} only"
                )
            return cls(
                **{
                    **body,
                    "day": date.fromisoformat(body["day"]),
                    "landed_at": datetime.fromisoformat(body["landed_at"]),
                    "files": {name: ArchivedFile(**spec) for name, spec in body["files"].items()},
                }
            )
        except (ValueError, KeyError, TypeError) as error:
            raise ArchiveError(f"{key} is not a readable manifest: {error}") from None


@dataclass(frozen=True)
class ArchivedDay:
    """The version of a day the archive holds after ``archive_day``; ``written`` is False when the
    latest version already held exactly these rows, so nothing was uploaded."""

    manifest: Manifest
    url: str
    written: bool


@dataclass(frozen=True)
class RestoredDay:
    """A day of raw rebuilt from the archive: which version, what it held, what it replaced."""

    day: date
    version: int
    landed_at: datetime
    run_id: str
    records: int
    pages: int
    rows_replaced: int


@dataclass(frozen=True)
class Pruned:
    """What ``prune_archive`` deleted: superseded versions, and data files no manifest names."""

    versions: list[Manifest]
    orphans: list[str]


@dataclass(frozen=True)
class _Figures:
    records: int
    records_digest: str
    pages: int
    reported_total: int | None
    pages_digest: str

    def same_rows(self, other: _Figures | Manifest) -> bool:
        return (self.records, self.records_digest, self.pages, self.pages_digest) == (
            other.records,
            other.records_digest,
            other.pages,
            other.pages_digest,
        )


def default_archive_url(duckdb_path: str | os.PathLike[str]) -> str:
    """The archive when ``LAAFFIC_ARCHIVE_URL`` is empty: the folder ``archive/`` beside the warehouse.

    On the warehouse's own disk it survives a deleted or corrupted file, not a lost disk: point
    production at a bucket.
    """
    return str(Path(duckdb_path).parent / "archive")


def configured_archive_url(archive_url: str, duckdb_path: str | os.PathLike[str]) -> str:
    """``archive_url`` (``LAAFFIC_ARCHIVE_URL``), or ``default_archive_url`` when it is empty."""
    return archive_url.strip() or default_archive_url(duckdb_path)


def check_archive_url(url: str) -> str:
    """``url`` when the archive can live there (empty: the default folder; a folder; ``file://``;
    ``s3://bucket[/prefix]`` without credentials), else a ``ValueError`` saying what is accepted:
    for the ``LAAFFIC_ARCHIVE_URL`` setting's validator, so a bad value fails at load."""
    if url.strip():
        _archive_root(url.strip())
    return url.strip()


def _archive_root(url: str) -> tuple[bool, str]:
    """``(is_local, root)``: an absolute folder path, or ``bucket/prefix`` for s3 URLs."""
    parts = urlsplit(url)
    if parts.scheme in ("", "file"):
        return True, str(Path(parts.path if parts.scheme else url).resolve())
    if parts.scheme != "s3":
        raise ValueError(
            f"the archive URL's scheme {parts.scheme!r} is not supported: use a folder or s3://bucket/prefix"
        )
    if "@" in parts.netloc:
        raise ValueError(
            "the archive URL carries credentials; give s3://bucket/prefix and the credentials through "
            "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, a profile or a role"
        )
    if not parts.netloc:
        raise ValueError("the archive URL names no bucket: use s3://bucket/prefix")
    return False, f"{parts.netloc}{parts.path}".rstrip("/")


# -- writing ---------------------------------------------------------------------------------


def archive_day(
    conn: duckdb.DuckDBPyConnection, day: date, archive_url: str, *, run_id: str, landed_at: datetime
) -> ArchivedDay:
    """Archive ``day``'s committed raw rows (records and pages) as a new version; returns it.

    Call after the day's landing transaction committed. ``landed_at`` (timezone-aware) and
    ``run_id`` are the landing's, recorded in the manifest and the object names. Idempotent: when
    the latest version already holds exactly these rows (a retried call, or a day restored from
    the archive), nothing is written and that version is returned with ``written=False``. Raises
    ``ArchiveError`` when the day has no raw, the written files do not hold the warehouse's rows,
    or the archive cannot be written; nothing partial is ever visible as a version.
    """
    if landed_at.tzinfo is None or landed_at.utcoffset() is None:
        raise ValueError(f"landed_at must be timezone-aware, got {landed_at!r}")
    store = _Store(archive_url)
    run_sql(conn, "archive_macros")
    landed = _warehouse_figures(conn, day)
    if landed.records == 0 and landed.pages == 0:
        raise ArchiveError(f"the warehouse holds no raw rows of {day}: nothing to archive")
    # An unreadable latest manifest must not block archiving: the new version goes above it.
    try:
        latest = _latest(store, day)
    except ArchiveError:
        latest = None
    if latest is not None and landed.same_rows(latest):
        return ArchivedDay(latest, store.url, written=False)
    with store.scratch() as scratch:
        records_path, pages_path = scratch / f"{RECORDS}.parquet", scratch / f"{PAGES}.parquet"
        run_sql(conn, "archive_export_records", {"partition_date": day, "path": str(records_path)})
        run_sql(conn, "archive_export_pages", {"partition_date": day, "path": str(pages_path)})
        written = _file_figures(conn, records_path, pages_path)
        if not written.same_rows(landed):
            raise ArchiveError(
                f"the Parquet files written for {day} hold {written.records} records and {written.pages} "
                f"pages, the warehouse {landed.records} and {landed.pages} (or their digests differ): "
                "nothing was uploaded"
            )
        files = {name: _file_facts(path) for name, path in ((RECORDS, records_path), (PAGES, pages_path))}
        for _ in range(_CREATE_ATTEMPTS):
            version = 1 + max((version for version, _ in _day_objects(store, day)), default=0)
            manifest = Manifest(
                day=day,
                version=version,
                landed_at=landed_at,
                run_id=run_id,
                records=landed.records,
                reported_total=landed.reported_total,
                pages=landed.pages,
                records_digest=landed.records_digest,
                pages_digest=landed.pages_digest,
                files={
                    name: ArchivedFile(_object_key(name, day, version, landed_at, "parquet"), size, digest)
                    for name, (size, digest) in files.items()
                },
            )
            try:
                for name, path in ((RECORDS, records_path), (PAGES, pages_path)):
                    store.create_from_file(manifest.files[name].key, path)
                store.create_bytes(manifest.key, manifest.to_json())
            except FileExistsError:  # another archiver took this version number meanwhile: the next
                continue
            return ArchivedDay(manifest, store.url, written=True)
    raise ArchiveError(
        f"could not create a new version of {day} in {store.url}: {_CREATE_ATTEMPTS} version numbers "
        "in a row were taken by other writers meanwhile"
    )


# -- reading ---------------------------------------------------------------------------------


def archived_days(archive_url: str, first: date | None = None, last: date | None = None) -> list[date]:
    """The days the archive holds a version of (a manifest), oldest first, within [first, last]."""
    store = _Store(archive_url)
    days = {day for day, _, _ in _manifest_keys(store)}
    return sorted(day for day in days if (first is None or day >= first) and (last is None or day <= last))


def list_versions(archive_url: str, day: date) -> list[Manifest]:
    """Every archived version of ``day``, oldest first."""
    store = _Store(archive_url)
    return [_read_manifest(store, key) for _, _, key in sorted(_manifest_keys(store, day))]


def latest_manifest(archive_url: str, day: date) -> Manifest | None:
    """The newest archived version of ``day`` (what a restore uses), or None when it has none."""
    return _latest(_Store(archive_url), day)


def verify_day(conn: duckdb.DuckDBPyConnection, day: date, archive_url: str) -> list[str]:
    """What differs between the warehouse's raw of ``day`` and its latest archived version.

    Empty when they are equal: the version exists, each of its files has the size and SHA-256
    its manifest says, and the warehouse's records and pages have the manifest's counts and
    digests. Otherwise one sentence per problem (no version, a file missing or altered, counts
    or digests that differ, the archive unreachable), for a per-day asset check.
    """
    try:
        store = _Store(archive_url)
        manifest = _latest(store, day)
    except ArchiveError as error:
        return [f"{day}: the archive could not be read: {error}"]
    if manifest is None:
        return [f"{day} has no archived version in {store.url}"]
    version = f"{day} version {manifest.version}"
    problems = []
    for spec in manifest.files.values():
        try:
            size, digest = store.file_facts(spec.key)
        except FileNotFoundError:
            problems.append(f"{version}: {spec.key} is missing from {store.url}")
            continue
        except ArchiveError as error:
            problems.append(f"{version}: {spec.key} could not be read: {error}")
            continue
        if (size, digest) != (spec.bytes, spec.sha256):
            problems.append(
                f"{version}: {spec.key} was altered: it has {size} bytes with SHA-256 {digest}, the "
                f"manifest says {spec.bytes} bytes with SHA-256 {spec.sha256}"
            )
    run_sql(conn, "archive_macros")
    landed = _warehouse_figures(conn, day)
    for what, held, archived, digest_held, digest_archived in (
        ("records", landed.records, manifest.records, landed.records_digest, manifest.records_digest),
        ("pages", landed.pages, manifest.pages, landed.pages_digest, manifest.pages_digest),
    ):
        if held != archived:
            problems.append(f"{day}: the warehouse holds {held} {what}, archived {version} holds {archived}")
        elif digest_held != digest_archived:
            problems.append(
                f"{day}: the warehouse's {held} {what} differ from archived {version}'s: digest "
                f"{digest_held} in the warehouse, {digest_archived} in the manifest"
            )
    return problems


# -- restoring -------------------------------------------------------------------------------


def restore_days(
    conn: duckdb.DuckDBPyConnection,
    archive_url: str,
    days: Iterable[date] | None = None,
    *,
    overwrite: bool = False,
) -> list[RestoredDay]:
    """Rebuild raw for ``days`` (None: every archived day) from each day's latest version, no API.

    Each day is replaced in its own transaction, record for record as it was landed, and checked
    against its manifest (counts and digests) before it commits; a file whose bytes differ from
    the manifest is refused before anything is written. Refuses (``DaysAlreadyStoredError``,
    nothing written) when the warehouse holds any of the days, unless ``overwrite``; refuses
    (``ArchiveError``) days the archive has no version of. Days are restored oldest first; if one
    fails, the days before it stay restored and the error names them.
    """
    store = _Store(archive_url)
    available = {day for day, _, _ in _manifest_keys(store)}
    wanted = sorted(available if days is None else set(days))
    if missing := [day for day in wanted if day not in available]:
        raise ArchiveError(f"{store.url} holds no version of {len(missing)} day(s): {_spans(missing)}")
    ensure_raw_tables(conn)
    run_sql(conn, "archive_macros")
    if (stored := stored_days_among(conn, wanted)) and not overwrite:
        raise DaysAlreadyStoredError(stored)
    restored: list[RestoredDay] = []
    with store.scratch() as scratch:
        for day in wanted:
            try:
                restored.append(_restore_day(conn, store, day, scratch))
            except ArchiveError as error:
                done = f"; restored before it: {_spans([r.day for r in restored])}" if restored else ""
                raise ArchiveError(f"{error}{done}") from None
    return restored


def _restore_day(conn: duckdb.DuckDBPyConnection, store: _Store, day: date, scratch: Path) -> RestoredDay:
    manifest = _latest(store, day)
    assert manifest is not None, f"{day} was listed with a manifest"
    paths = {name: store.local_copy(spec, scratch) for name, spec in manifest.files.items()}
    params = {"partition_date": day, "records_path": str(paths[RECORDS]), "pages_path": str(paths[PAGES])}
    conn.begin()
    try:
        replaced = _warehouse_figures(conn, day).records
        run_sql(conn, "delete_raw_partition", params)
        try:
            run_sql(conn, "insert_archived_raw_day", params)
        except duckdb.Error as error:
            raise ArchiveError(f"{day} version {manifest.version} could not be loaded: {error}") from None
        restored = _warehouse_figures(conn, day)
        if not restored.same_rows(manifest):
            raise ArchiveError(
                f"{day} version {manifest.version} restored as {restored.records} records and "
                f"{restored.pages} pages, not what its manifest holds ({manifest.records} records, "
                f"{manifest.pages} pages and their digests): rolled back"
            )
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    finally:
        for path in paths.values():
            if path.is_relative_to(scratch):
                path.unlink(missing_ok=True)
    return RestoredDay(
        day, manifest.version, manifest.landed_at, manifest.run_id, manifest.records, manifest.pages, replaced
    )


# -- retention -------------------------------------------------------------------------------


def prune_archive(archive_url: str, *, keep_superseded_for: timedelta, now: datetime) -> Pruned:
    """Delete every version superseded (a newer version of its day landed) more than
    ``keep_superseded_for`` before ``now``, and data files of interrupted archives older than their
    day's latest version. The latest version of a day is never deleted.

    Nothing calls this unless told to: by default every version is kept for ever. A version's
    manifest goes first, so a reader never finds a manifest whose files are gone.
    """
    if keep_superseded_for < timedelta(0):
        raise ValueError("keep_superseded_for must not be negative")
    store = _Store(archive_url)
    pruned: list[Manifest] = []
    orphans: list[str] = []
    manifests_by_day: dict[date, list[str]] = {}
    for day, _, key in _manifest_keys(store):
        manifests_by_day.setdefault(day, []).append(key)
    data_keys = _data_keys(store)
    for day in sorted(manifests_by_day.keys() | {day for day, _, _ in data_keys}):
        versions = sorted(
            (_read_manifest(store, key) for key in manifests_by_day.get(day, [])), key=lambda m: m.version
        )
        for older, newer in itertools.pairwise(versions):
            if now - newer.landed_at > keep_superseded_for:
                store.delete(older.key)
                for spec in older.files.values():
                    store.delete(spec.key, missing_ok=True)
                pruned.append(older)
        named = {spec.key for manifest in versions for spec in manifest.files.values()}
        latest = versions[-1].version if versions else 0
        for key_day, version, key in data_keys:
            if key_day == day and key not in named and version < latest:
                store.delete(key, missing_ok=True)
                orphans.append(key)
    return Pruned(pruned, orphans)


# -- DuckDB figures --------------------------------------------------------------------------


def _warehouse_figures(conn: duckdb.DuckDBPyConnection, day: date) -> _Figures:
    (row,) = query_rows(conn, "archive_warehouse_figures", {"partition_date": day})
    return _Figures(**row)


def _file_figures(conn: duckdb.DuckDBPyConnection, records: Path, pages: Path) -> _Figures:
    (row,) = query_rows(
        conn, "archive_file_figures", {"records_path": str(records), "pages_path": str(pages)}
    )
    return _Figures(**row)


# -- names -----------------------------------------------------------------------------------


def _object_key(folder: str, day: date, version: int, landed_at: datetime, ext: str) -> str:
    stamp = landed_at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{folder}/day={day.isoformat()}/v={version:04d}-{stamp}.{ext}"


def _parse_key(key: str) -> tuple[str, date, int] | None:
    """``(folder, day, version)`` of an archive object's key, or None for anything else."""
    parts = key.split("/")
    if len(parts) != 3:
        return None
    folder, day_folder, name = parts
    day_match, name_match = _DAY_FOLDER.match(day_folder), _OBJECT_NAME.match(name)
    if folder not in (RECORDS, PAGES, MANIFESTS) or not day_match or not name_match:
        return None
    if (name_match["ext"] == "json") != (folder == MANIFESTS):
        return None
    try:
        return folder, date.fromisoformat(day_match["day"]), int(name_match["version"])
    except ValueError:
        return None


def _manifest_keys(store: _Store, day: date | None = None) -> list[tuple[date, int, str]]:
    """``(day, version, key)`` of every manifest (of ``day``, when given)."""
    prefix = MANIFESTS if day is None else f"{MANIFESTS}/day={day.isoformat()}"
    found = []
    for key in store.keys(prefix):
        if (parsed := _parse_key(key)) and parsed[0] == MANIFESTS:
            found.append((parsed[1], parsed[2], key))
    return found


def _data_keys(store: _Store) -> list[tuple[date, int, str]]:
    found = []
    for folder in (RECORDS, PAGES):
        for key in store.keys(folder):
            if (parsed := _parse_key(key)) and parsed[0] == folder:
                found.append((parsed[1], parsed[2], key))
    return found


def _day_objects(store: _Store, day: date) -> list[tuple[int, str]]:
    """``(version, key)`` of every object of ``day``, manifests and data files (orphans included):
    a new version is numbered above all of them, so no name is ever reused."""
    found = []
    for folder in (MANIFESTS, RECORDS, PAGES):
        for key in store.keys(f"{folder}/day={day.isoformat()}"):
            if (parsed := _parse_key(key)) and parsed[0] == folder:
                found.append((parsed[2], key))
    return found


def _latest(store: _Store, day: date) -> Manifest | None:
    manifests = _manifest_keys(store, day)
    if not manifests:
        return None
    return _read_manifest(store, max(manifests)[2])


def _read_manifest(store: _Store, key: str) -> Manifest:
    manifest = Manifest.from_json(store.read_bytes(key), key)
    if manifest.key != key:
        raise ArchiveError(f"{key} describes day {manifest.day} version {manifest.version}: not its own name")
    return manifest


def _file_facts(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return path.stat().st_size, digest.hexdigest()


def _spans(days: list[date]) -> str:
    """Days written as consecutive ranges: ``2026-09-27, 2026-09-29..2026-10-02``."""
    runs: list[list[date]] = []
    for day in sorted(days):
        if runs and (day - runs[-1][-1]).days == 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return ", ".join(f"{run[0]}" if len(run) == 1 else f"{run[0]}..{run[-1]}" for run in runs)


# -- the store -------------------------------------------------------------------------------


class _Store:
    """One archive location through fsspec: a local folder, or a bucket prefix through s3fs.

    Every call goes to the store (no listing cache: another process may have written since), and
    every storage error becomes an ``ArchiveError`` naming the operation and the key, never a
    credential (``_call``).
    """

    def __init__(self, url: str) -> None:
        try:
            self.local, self.root = _archive_root(url)
        except ValueError as error:
            raise ArchiveError(str(error)) from None
        if self.local:
            from fsspec.implementations.local import LocalFileSystem

            self.url = self.root
            self.fs: Any = LocalFileSystem()
        else:
            self.url = f"s3://{self.root}"
            self.fs = _s3_filesystem(_aws_environment_fingerprint())

    def _path(self, key: str) -> str:
        return f"{self.root}/{key}"

    def _call(self, what: str, key: str, action: Callable[[], T]) -> T:
        """``action()``; a missing object on a read and an existing one on a create pass through as
        themselves (the callers' signals), any other failure becomes an ``ArchiveError``."""
        signal = FileExistsError if what == "uploading" else FileNotFoundError
        try:
            return action()
        except signal:
            raise
        except Exception as error:  # s3fs, aiobotocore and the OS raise many kinds; all mean "failed"
            raise ArchiveError(f"{what} {self.url}/{key} failed: {type(error).__name__}: {error}") from None

    def keys(self, prefix: str) -> list[str]:
        """Keys under ``prefix/``, relative to the archive URL."""
        base = self._path(prefix)

        def find() -> list[str]:
            try:
                return list(self.fs.find(base))
            except FileNotFoundError:
                return []

        start = len(self.root) + 1
        return sorted(path[start:] for path in self._call("listing", prefix, find))

    def read_bytes(self, key: str) -> bytes:
        return self._call("reading", key, lambda: self.fs.cat_file(self._path(key)))

    def file_facts(self, key: str) -> tuple[int, str]:
        """Size and SHA-256 of an object's bytes, streamed."""

        def measure() -> tuple[int, str]:
            digest, size = hashlib.sha256(), 0
            with self.fs.open(self._path(key), "rb") as handle:
                while chunk := handle.read(_CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
            return size, digest.hexdigest()

        return self._call("reading", key, measure)

    def local_copy(self, spec: ArchivedFile, scratch: Path) -> Path:
        """A local file of the object, checked against ``spec``: the file itself in a folder archive,
        a download into ``scratch`` from a bucket. ``ArchiveError`` when missing or altered."""
        if self.local:
            path = Path(self._path(spec.key))
        else:
            path = scratch / f"{uuid.uuid4().hex}.parquet"
            try:
                self._call("downloading", spec.key, lambda: self.fs.get_file(self._path(spec.key), str(path)))
            except FileNotFoundError:
                raise ArchiveError(f"{spec.key} is missing from {self.url}") from None
        try:
            size, digest = _file_facts(path)
        except FileNotFoundError:
            raise ArchiveError(f"{spec.key} is missing from {self.url}") from None
        if (size, digest) != (spec.bytes, spec.sha256):
            raise ArchiveError(
                f"{spec.key} in {self.url} was altered ({size} bytes with SHA-256 {digest}; its manifest "
                f"says {spec.bytes} bytes with SHA-256 {spec.sha256}): refusing to restore from it"
            )
        return path

    def create_from_file(self, key: str, source: Path) -> None:
        """Create the object ``key`` from the local file ``source``; ``FileExistsError`` if it exists."""
        if self.local:
            final = Path(self._path(key))
            final.parent.mkdir(parents=True, exist_ok=True)
            # A hard link: atomic, and refused if the name exists (no overwrite, no partial file).
            os.link(source, final)
            _fsync(final)
        else:
            self._call(
                "uploading", key, lambda: self.fs.put_file(str(source), self._path(key), mode="create")
            )

    def create_bytes(self, key: str, data: bytes) -> None:
        if self.local:
            with self.scratch() as scratch:
                source = scratch / "object"
                source.write_bytes(data)
                self.create_from_file(key, source)
        else:
            self._call("uploading", key, lambda: self.fs.pipe_file(self._path(key), data, mode="create"))

    def delete(self, key: str, *, missing_ok: bool = False) -> None:
        try:
            self._call("deleting", key, lambda: self.fs.rm_file(self._path(key)))
        except FileNotFoundError:
            if not missing_ok:
                raise

    @contextmanager
    def scratch(self) -> Iterator[Path]:
        """A private local folder for files on their way in or out, removed afterwards. For a folder
        archive it is ``.incoming/`` inside it (same filesystem, so a file is linked into place, and
        hidden from readers' ``*/*.parquet`` globs); for a bucket, a temporary folder."""
        if self.local:
            folder = Path(self.root) / ".incoming" / uuid.uuid4().hex
            folder.mkdir(parents=True)
        else:
            folder = Path(tempfile.mkdtemp(prefix="laaffic-archive-"))
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)


@functools.lru_cache(maxsize=4)
def _s3_filesystem(environment: str) -> Any:
    """One s3fs filesystem per AWS environment: creating its client costs ~0.2-0.4 s (botocore loads
    the S3 service model), so it is shared by the calls of a process while the AWS variables stay
    the same. fsspec's own instance cache is bypassed: it ignores the environment, and would keep
    the endpoint and credentials of whichever came first. No listing cache: other processes write."""
    import s3fs

    return s3fs.S3FileSystem(skip_instance_cache=True, use_listings_cache=False)


def _aws_environment_fingerprint() -> str:
    """A digest of every ``AWS_*`` variable: changes whenever the endpoint or credentials do, and
    keeps no credential itself."""
    values = sorted((name, value) for name, value in os.environ.items() if name.startswith("AWS_"))
    return hashlib.sha256(json.dumps(values).encode()).hexdigest()


def _fsync(path: Path) -> None:
    """Flush a file and its folder to disk: an archive that vanishes at a power cut is no archive."""
    for target in (path, path.parent):
        descriptor = os.open(target, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
