"""A real S3-compatible server on 127.0.0.1 for the tests: moto's server mode as a subprocess.

``moto_server`` (from ``moto[server]``, a development dependency in the lock file) speaks the S3
REST API over HTTP, conditional writes (``If-None-Match: *``) included. It accepts any
credentials, so the tests set their own, random per server, in the usual AWS variables, which is
what the archive reads through botocore.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.dagster_dev import free_port

MOTO_SERVER = Path(sys.executable).with_name("moto_server")


@dataclass(frozen=True)
class S3Server:
    """A running server: its endpoint, and credentials made up for it (the secret kept out of repr)."""

    endpoint_url: str
    access_key_id: str
    secret_access_key: str = field(repr=False)
    region: str = "us-east-1"

    def env(self, home: Path) -> dict[str, str]:
        """The AWS variables that point botocore (so s3fs and boto3) at this server, and only at it:
        the shared config and credentials files are ones of ``home`` that do not exist."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_REGION": self.region,
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_CONFIG_FILE": str(home / "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-aws-credentials"),
        }

    def client(self) -> Any:
        """A boto3 S3 client of its own (not the archive's s3fs): the tests' independent view."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            region_name=self.region,
        )

    def create_bucket(self, name: str) -> None:
        self.client().create_bucket(Bucket=name)

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        """Every object key in ``bucket`` under ``prefix``, sorted."""
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


@contextmanager
def running_s3_server(log_path: Path, startup_timeout_s: float = 30) -> Iterator[S3Server]:
    """``moto_server`` on a free loopback port until the block ends; its output goes to ``log_path``."""
    port = free_port()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT
        )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup_timeout_s
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"moto_server exited with {process.returncode}: {log_path.read_text()}")
            with suppress(httpx.TransportError):
                if httpx.get(f"{endpoint}/moto-api/", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise TimeoutError(f"moto_server did not answer on {endpoint} in {startup_timeout_s:.0f} s")
            time.sleep(0.1)
        yield S3Server(endpoint, f"TESTKEY{secrets.token_hex(6).upper()}", secrets.token_urlsafe(30))
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
