"""A sweep's results directory: one set of part files per finished run, a manifest, and
the combined tables rebuilt from the parts.

Layout of DIR::

    manifest.json            what was asked (scenario, strategies, grid, seeds, ...) and how it went
    runs/<run_id>.kpis.parquet   tidy KPIs of one run
    runs/<run_id>.daily.parquet  its daily series
    runs/<run_id>.done.json      written last: sizes and SHA-256 of the two parts
    runs/<run_id>.failed.json    the error of a run that raised (retried on the next start)
    kpis.parquet, daily.parquet  every finished run, in plan order, rebuilt at the end
    runs.parquet                 one row per planned run: status, wall seconds, error

A run counts as finished only when its marker exists and both parts match the sizes and
checksums recorded in it, so a part cut short by a kill or damaged on disk is noticed,
deleted and run again, never read. Every file is written to a temporary name, synced and
renamed into place, so a reader never sees half a file.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from .errors import ConfigError

MANIFEST = "manifest.json"
KIND = "collectsim-sweep"
PARTS = ("kpis", "daily")
# Disk needed per run, measured on the default 540-day horizon (a daily part is about
# 105 kB, a KPI part about 10 kB) with room to spare; counted twice because the
# combined tables repeat the parts.
BYTES_PER_RUN_DAY = 300
BYTES_PER_RUN = 32 * 1024
DISK_MARGIN = 64 * 1024 * 1024


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _parquet_bytes(table: pa.Table) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def combine_tables(tables: Iterable[pa.Table]) -> pa.Table:
    """Concatenate part tables whose column types may differ slightly (all-null columns)."""
    tables = list(tables)
    if not tables:
        return pa.table({})
    schema = pa.unify_schemas([t.schema for t in tables], promote_options="permissive")
    return pa.concat_tables([conform(t, schema) for t in tables])


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` with exactly ``schema``'s columns and types (missing ones as nulls)."""
    cols = [table.column(f.name).cast(f.type) if f.name in table.column_names
            else pa.nulls(len(table), f.type) for f in schema]
    return pa.Table.from_arrays(cols, schema=schema)


class SweepStore:
    """Part files and manifest of one sweep in ``root``."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.runs = self.root / "runs"

    # ------------------------------------------------------------------ opening

    def open(self, manifest: dict[str, Any]) -> dict[str, Any] | None:
        """Check the directory may take this sweep; return the manifest already there.

        A new directory is fine; an existing one must hold the same sweep (same sweep
        file digest, same --set overrides, same planned runs), else it is refused:
        results of two different sweeps are never mixed. Nothing is written but the
        directory itself, so a refused start leaves no trace that would block the next.
        """
        old = self.read_manifest()
        if old is None and self.root.is_dir():
            self._clear_leftovers()
        if old is None and self.root.exists() and any(self.root.iterdir()):
            raise ConfigError(str(self.root), [("", "exists, is not empty and holds no sweep "
                                                    "manifest; give a new or empty directory")])
        if old is not None:
            self._check_same(old, manifest)
        self._check_writable()
        return old

    def start(self, manifest: dict[str, Any], old: dict[str, Any] | None) -> dict[str, Any]:
        """Write the manifest of a (re)started sweep, keeping the first start time."""
        self.runs.mkdir(exist_ok=True)
        for tmp in self.runs.glob(".*.tmp"):  # left by a kill mid-write; never complete
            tmp.unlink(missing_ok=True)
        self._clear_leftovers(runs_too=False)  # and a kill while combining the tables
        if old is None:
            kept = dict(manifest, started=now(), resumed=[])
        else:
            kept = dict(manifest, started=old.get("started"),
                        resumed=[*old.get("resumed", []), now()])
        kept.update(finished=None, status="running")
        self.write_manifest(kept)
        return kept

    # Files of ours that a kill can leave in the directory itself: the write probe, the
    # temporary file of an atomic write (manifest, combined tables), and runs/ made just
    # before the first manifest. They are never complete and never someone else's, so
    # they must not make the next start refuse the directory as "not empty".
    OWN_TEMPS = (".write-probe.*", f".{MANIFEST}.*.tmp", ".kpis.parquet.*.tmp",
                 ".daily.parquet.*.tmp", ".runs.parquet.*.tmp")

    def _clear_leftovers(self, runs_too: bool = True) -> None:
        for pattern in self.OWN_TEMPS:
            for p in self.root.glob(pattern):
                if p.is_file():
                    p.unlink(missing_ok=True)
        if runs_too and self.runs.is_dir():
            for tmp in self.runs.glob(".*.tmp"):
                tmp.unlink(missing_ok=True)
            if not any(self.runs.iterdir()):
                self.runs.rmdir()

    def _check_same(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        src = str(self.root)
        if old.get("kind") != KIND:
            raise ConfigError(src, [("manifest.json", "is not a collectsim sweep manifest; "
                                                      "give a new or empty directory")])
        fresh = "use a new --out directory, or delete this one to start over"
        if old.get("sweep_digest") != new["sweep_digest"]:
            raise ConfigError(src, [("", f"holds results of a different sweep file (digest "
                                         f"{old.get('sweep_digest')}, now {new['sweep_digest']}: "
                                         f"{new['sweep_file']} has changed); results of two "
                                         f"sweeps are never mixed: {fresh}")])
        if old.get("overrides") != new["overrides"]:
            raise ConfigError(src, [("--set", f"these results were made with --set "
                                              f"{old.get('overrides')}, now {new['overrides']}; "
                                              f"results are never mixed: {fresh}")])
        if old.get("plan_digest") != new["plan_digest"]:
            changed = [f"strategy {k}" for k, v in new["strategies"].items()
                       if old.get("strategies", {}).get(k) != v]
            if old.get("scenario", {}).get("digest") != new["scenario"]["digest"]:
                changed.insert(0, f"scenario {new['scenario']['name']}")
            what = ", ".join(changed) or "the planned runs"
            raise ConfigError(src, [("", f"the sweep file is the same but {what} changed since "
                                         f"these results were made; results are never mixed: "
                                         f"{fresh}")])

    def _check_writable(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd, probe = tempfile.mkstemp(dir=self.root, prefix=".write-probe.")
            os.close(fd)
            os.unlink(probe)
        except OSError as e:
            raise ConfigError(str(self.root), [("", f"cannot write results here: "
                                                    f"{e.strerror or e}")]) from None

    def check_disk(self, pending_runs: int, days: int) -> None:
        need = 2 * pending_runs * (BYTES_PER_RUN + BYTES_PER_RUN_DAY * days) + DISK_MARGIN
        free = shutil.disk_usage(self.root).free
        if free < need:
            raise ConfigError(str(self.root), [("", f"not enough free disk: {pending_runs:,} "
                                                    f"runs need about {need / 2**20:,.0f} MiB, "
                                                    f"{free / 2**20:,.0f} MiB are free")])

    # ------------------------------------------------------------------ manifest

    def read_manifest(self) -> dict[str, Any] | None:
        path = self.root / MANIFEST
        if not path.exists():
            return None
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise ConfigError(str(path), [("", f"cannot read the manifest: {e}")]) from None

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        _write_atomic(self.root / MANIFEST,
                      json.dumps(manifest, indent=2, default=str).encode("utf-8"))

    # ------------------------------------------------------------------ parts

    def part(self, run_id: str, name: str) -> Path:
        return self.runs / f"{run_id}.{name}.parquet"

    def marker(self, run_id: str) -> Path:
        return self.runs / f"{run_id}.done.json"

    def failure(self, run_id: str) -> Path:
        return self.runs / f"{run_id}.failed.json"

    def finished(self, run_id: str) -> dict[str, Any] | None:
        """The run's marker if it and its parts are intact; else clear them and say None."""
        marker = self.marker(run_id)
        if not marker.exists():
            self._discard(run_id)
            return None
        try:
            info = json.loads(marker.read_text(encoding="utf-8"))
            for name in PARTS:
                path, want = self.part(run_id, name), info["files"][name]
                if path.stat().st_size != want["bytes"] or _sha256(path) != want["sha256"]:
                    raise ValueError(f"{path.name} does not match its checksum")
        except (OSError, ValueError, KeyError, TypeError):
            self._discard(run_id)
            return None
        return info

    def _discard(self, run_id: str) -> None:
        # The marker goes first: without it the parts are ignored even if a crash
        # interrupts the clean-up.
        self.marker(run_id).unlink(missing_ok=True)
        for name in PARTS:
            self.part(run_id, name).unlink(missing_ok=True)

    def write_run(self, run_id: str, tables: dict[str, pa.Table], info: dict[str, Any]) -> None:
        """Write a finished run: both parts, then the marker that vouches for them."""
        files = {}
        for name in PARTS:
            data = _parquet_bytes(tables[name])
            _write_atomic(self.part(run_id, name), data)
            files[name] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        _write_atomic(self.marker(run_id), json.dumps(
            {**info, "run_id": run_id, "files": files, "finished": now()},
            default=str).encode("utf-8"))
        self.failure(run_id).unlink(missing_ok=True)

    def write_failure(self, run_id: str, info: dict[str, Any], error: str) -> None:
        _write_atomic(self.failure(run_id), json.dumps(
            {**info, "run_id": run_id, "error": error, "failed": now()},
            indent=2, default=str).encode("utf-8"))

    # ------------------------------------------------------------------ combined tables

    def combine(self, run_ids: Sequence[str], name: str) -> Path:
        """Rebuild ``name``.parquet from the parts of ``run_ids``, in that order.

        Streams part by part, so a sweep's daily table never has to fit in memory.
        """
        target = self.root / f"{name}.parquet"
        parts = [self.part(r, name) for r in run_ids]
        schemas = [pq.read_schema(p) for p in parts]
        if not schemas:
            _write_atomic(target, _parquet_bytes(pa.table({})))
            return target
        schema = pa.unify_schemas(schemas, promote_options="permissive")
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=f".{target.name}.", suffix=".tmp")
        os.close(fd)
        try:
            with pq.ParquetWriter(tmp, schema) as writer:
                for p in parts:
                    writer.write_table(conform(pq.read_table(p), schema))
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target

    def write_table(self, name: str, table: pa.Table) -> None:
        _write_atomic(self.root / f"{name}.parquet", _parquet_bytes(table))
