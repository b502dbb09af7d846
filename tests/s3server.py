"""A local S3-compatible server for the tests: moto in server mode, in a process of its own, reached over HTTP.

boto3 talks to it over the network exactly as it would to MinIO or Ceph (no in-process
patching). Each test gets a bucket of its own. Import the fixtures into a test module:
`from .s3server import s3_server, s3_config  # noqa: F401`.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid

import boto3
import pytest
import requests
from botocore.config import Config

KEYS = {"S3_ACCESS_KEY_ID": "patrol-test", "S3_SECRET_ACCESS_KEY": "patrol-test-secret", "S3_REGION": "us-east-1"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class S3Server:
    def __init__(self, url: str, proc: subprocess.Popen):
        self.url, self.proc = url, proc

    def client(self):
        return boto3.client(
            "s3", endpoint_url=self.url, region_name="us-east-1", aws_access_key_id=KEYS["S3_ACCESS_KEY_ID"],
            aws_secret_access_key=KEYS["S3_SECRET_ACCESS_KEY"], config=Config(s3={"addressing_style": "path"}),
        )

    def new_bucket(self) -> str:
        name = f"patrol-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def config(self, bucket: str) -> dict:
        """App settings (and, as strings, environment variables) for this bucket."""
        return {"STORAGE_BACKEND": "s3", "S3_ENDPOINT_URL": self.url, "S3_BUCKET": bucket, "S3_ADDRESSING_STYLE": "path", **KEYS}

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    port = free_port()
    log = open(tmp_path_factory.mktemp("moto") / "moto.log", "wb")
    env = {**os.environ, "MOTO_ALLOW_NONEXISTENT_REGION": "true"}
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            requests.get(url + "/moto-api/", timeout=2)
            break
        except requests.ConnectionError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"the S3-compatible test server (moto) did not start; see {log.name}")
            time.sleep(0.2)
    yield S3Server(url, proc)
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture
def s3_config(app, s3_server):
    """Switch this test's app to a fresh bucket on the local S3 server; yields (server, bucket)."""
    bucket = s3_server.new_bucket()
    app.config.update(s3_server.config(bucket))
    return s3_server, bucket
