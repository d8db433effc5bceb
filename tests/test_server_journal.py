"""The journal knows its database (issue 18, item 4): its header and every record are bound to
the database's identity, which the snapshot carries too; only a last line without its newline is a
torn write, and what is cut is kept aside; everything else that does not check out refuses the
start; the data dir's lock cannot be deleted; a data dir from before identities upgrades."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import httpx
import pytest

from reference_server.config import Settings, StartupError
from reference_server.demo import DEMO_PRINCIPALS
from reference_server.pagination import ListParams
from reference_server.store import MAIN_DB, TOKENS_DB, Store
from reference_server.store.core import LOCK_FILE
from reference_server.store.durable import Database, DurableStorage
from reference_server.store.snapshot import META_TABLE, CorruptDatabaseError
from reference_server.tokens import Keyring, TokenService
from tests.support import FakeClock, free_port, wait_ready


def journal_of(path: Path) -> Path:
    return path.with_suffix(".journal")


def header(path: Path) -> dict[str, Any]:
    return json.loads(journal_of(path).read_bytes().split(b"\n", 1)[0])


def identity(path: Path) -> str | None:
    return json.loads(path.read_text()).get(META_TABLE, {}).get("1", {}).get("database")


def written(path: Path, count: int, start: int = 0) -> Database:
    """A database with `count` documents written one unit each, then dropped as SIGKILL would."""
    db = Database(path)
    for i in range(start, start + count):
        db.documents("t").insert({"i": i})
    db.durable.journal.close()
    return db


def contents(path: Path) -> list[int]:
    db = Database(path)
    try:
        return [d["i"] for d in db.documents("t").all()]
    finally:
        db.durable.journal.close()


def files(directory: Path) -> dict[str, bytes]:
    """Every file's content, but the lock's (an empty file, made again by any start)."""
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())
            if p.is_file() and p.name != LOCK_FILE}


def refused(path: Path, match: str) -> None:
    """Opening refuses with `match`, and changes nothing on disk."""
    before = files(path.parent)
    with pytest.raises(CorruptDatabaseError, match=match):
        DurableStorage(path)
    assert files(path.parent) == before, "a refusal changes nothing on disk"


# --- identity ---------------------------------------------------------------------------------


def test_snapshot_and_journal_header_carry_one_identity_that_compaction_keeps(
    tmp_path: Path,
) -> None:
    path = tmp_path / "db.json"
    db = written(path, 3)
    ident = identity(path)
    assert ident and header(path) == {"journal": 2, "generation": 0, "database": ident}
    again = Database(path)
    again.durable.compact()
    assert identity(path) == ident and header(path)["database"] == ident
    assert header(path)["generation"] == 1
    again.close()
    other = tmp_path / "other.json"
    written(other, 1)
    assert identity(other) != ident, "each database its own"
    del db


def test_a_zero_length_journal_refuses_rather_than_start_from_the_snapshot(
    tmp_path: Path,
) -> None:
    path = tmp_path / "db.json"
    written(path, 20)
    journal_of(path).write_bytes(b"")
    refused(path, "empty where a header is due")


def test_a_missing_journal_refuses(tmp_path: Path) -> None:
    path = tmp_path / "db.json"
    written(path, 5)
    journal_of(path).unlink()
    refused(path, "missing")


@pytest.mark.parametrize("damage", [b"{}\n", b'{"journal": 2, "generation": 0}\n', b"\n",
                                    b'{"journal": 2, "generation": 0, "database": "x"}'])
def test_a_journal_whose_header_is_not_one_refuses(tmp_path: Path, damage: bytes) -> None:
    path = tmp_path / "db.json"
    written(path, 2)
    records = journal_of(path).read_bytes().split(b"\n", 1)[1]
    journal_of(path).write_bytes(damage + records)
    refused(path, "header|identity|another database")


def test_a_record_from_another_data_dir_refuses(tmp_path: Path) -> None:
    ours, theirs = tmp_path / "ours" / "db.json", tmp_path / "theirs" / "db.json"
    ours.parent.mkdir()
    theirs.parent.mkdir()
    written(ours, 3)
    written(theirs, 3, start=100)
    foreign = journal_of(theirs).read_bytes().splitlines(keepends=True)[-1]
    with open(journal_of(ours), "ab") as fh:
        fh.write(foreign)  # a valid record of the same shape, at the same generation
    refused(ours, "record 4 .* does not check out")


def test_another_data_dirs_whole_journal_refuses(tmp_path: Path) -> None:
    ours, theirs = tmp_path / "ours" / "db.json", tmp_path / "theirs" / "db.json"
    ours.parent.mkdir()
    theirs.parent.mkdir()
    written(ours, 3)
    written(theirs, 3, start=100)
    journal_of(ours).write_bytes(journal_of(theirs).read_bytes())  # same generation, 0
    refused(ours, "belongs to another database")


@pytest.mark.parametrize("edit", ["flip a bit of the last CRC", "flip a bit of the last body",
                                  "repeat the last record", "swap two records",
                                  "drop a record in the middle"])
def test_a_complete_record_that_does_not_check_out_refuses_wherever_it_is(
    tmp_path: Path, edit: str
) -> None:
    path = tmp_path / "db.json"
    written(path, 4)
    head, *lines = journal_of(path).read_bytes().splitlines(keepends=True)
    if edit == "flip a bit of the last CRC":
        crc = int(lines[-1][:8], 16) ^ 1
        lines[-1] = b"%08x" % crc + lines[-1][8:]
    elif edit == "flip a bit of the last body":
        lines[-1] = lines[-1].replace(b'"i":3', b'"i":2')
    elif edit == "repeat the last record":
        lines.append(lines[-1])
    elif edit == "swap two records":
        lines[1], lines[2] = lines[2], lines[1]
    else:
        del lines[1]
    assert all(line.endswith(b"\n") for line in lines), "every line complete: not a tear"
    journal_of(path).write_bytes(head + b"".join(lines))
    refused(path, "does not check out")


def test_a_journal_cut_in_half_keeps_what_it_cut(tmp_path: Path) -> None:
    path = tmp_path / "db.json"
    written(path, 20)
    data = journal_of(path).read_bytes()
    half = len(data) // 2
    if data[half - 1 : half] == b"\n":
        half += 1  # cut inside a record: a tear
    journal_of(path).write_bytes(data[:half])
    kept_before = contents(path)
    assert 0 < len(kept_before) < 20
    [aside] = [p for p in tmp_path.iterdir() if ".torn-" in p.name]
    good = journal_of(path).read_bytes()
    assert good + aside.read_bytes() == data[:half], "nothing cut is lost"
    assert good.endswith(b"\n")


def test_a_journal_without_its_snapshot(tmp_path: Path) -> None:
    path = tmp_path / "db.json"
    written(path, 3)
    path.unlink()  # generation 0: the journal is the whole history (the creation crash window)
    assert contents(path) == [0, 1, 2]
    Database(path).durable.compact()  # generation 1 now
    written(path, 1, start=3)
    path.unlink()
    refused(path, "snapshot .* is missing")


def test_a_crash_in_compaction_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "db.json"
    written(path, 3)
    old_journal = journal_of(path).read_bytes()
    db = Database(path)
    db.durable.compact()
    db.close()
    journal_of(path).write_bytes(old_journal)  # the new snapshot landed, not the new journal
    assert contents(path) == [0, 1, 2]
    assert header(path)["generation"] == 1


# --- the lock ---------------------------------------------------------------------------------


def test_the_lock_survives_the_deletion_of_every_file(tmp_path: Path) -> None:
    async def main() -> None:
        first = Store(Settings(data_dir=tmp_path, clock=FakeClock()))
        await first.open()
        try:
            (tmp_path / LOCK_FILE).unlink()
            second = Store(Settings(data_dir=tmp_path, clock=FakeClock()))
            with pytest.raises(StartupError, match="locked by another running server"):
                await second.open()
        finally:
            await first.close()
        third = Store(Settings(data_dir=tmp_path, clock=FakeClock()))
        await third.open()  # released on close
        await third.close()

    asyncio.run(main())


# --- upgrade from a data dir written before identities ---------------------------------------


def legacy_journal(generation: int, records: list[dict[str, Any]], torn: bytes = b"") -> bytes:
    """A journal as the previous version wrote it: format 1, a plain CRC per record."""
    out = json.dumps({"journal": 1, "generation": generation}).encode() + b"\n"
    for record in records:
        body = json.dumps(record, separators=(",", ":")).encode()
        out += b"%08x %s\n" % (zlib.crc32(body), body)
    return out + torn


def legacy_dir(path: Path, generation: int = 2, torn: bytes = b"") -> None:
    path.write_text(json.dumps({"t": {"1": {"i": 0}, "2": {"i": 1}},
                                META_TABLE: {"1": {"generation": generation}}}))
    journal_of(path).write_bytes(legacy_journal(generation, [
        {"ops": [["t", 3, {"i": 2}]]}, {"ops": [["t", 1, None]]}], torn))


def test_a_data_dir_of_the_previous_version_upgrades(tmp_path: Path, caplog) -> None:
    path = tmp_path / "db.json"
    legacy_dir(path, torn=b'1234abcd {"ops":[["t"')
    with caplog.at_level(logging.INFO):
        db = Database(path)
        assert [d["i"] for d in db.documents("t").all()] == [1, 2]
        db.documents("t").insert({"i": 3})  # the first write gives it its identity
    ident = identity(path)
    assert ident and header(path) == {"journal": 2, "generation": 3, "database": ident}
    [aside] = [p for p in tmp_path.iterdir() if ".torn-" in p.name]
    assert aside.read_bytes() == b'1234abcd {"ops":[["t"'
    db.durable.journal.close()
    assert contents(path) == [1, 2, 3]
    assert "now has the identity" in caplog.text


def test_an_upgrade_interrupted_after_its_snapshot_loads(tmp_path: Path) -> None:
    path = tmp_path / "db.json"
    legacy_dir(path)
    legacy = journal_of(path).read_bytes()
    db = Database(path)
    db.durable.compact()  # the upgrade: identity, generation 3
    db.close()
    journal_of(path).write_bytes(legacy)  # as if the new journal had not landed
    assert contents(path) == [1, 2]
    assert header(path)["database"] == identity(path)


def test_a_previous_version_data_dir_without_a_journal_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "db.json"
    legacy_dir(path)
    journal_of(path).unlink()
    assert contents(path) == [0, 1]


def test_a_previous_version_journal_with_damage_refuses(tmp_path: Path) -> None:
    path = tmp_path / "db.json"
    legacy_dir(path)
    data = journal_of(path).read_bytes().replace(b'"i":2', b'"i":9')
    journal_of(path).write_bytes(data)
    refused(path, "does not check out")


def test_a_refused_start_leaves_a_previous_version_data_dir_as_it_was(tmp_path: Path) -> None:
    legacy_dir(tmp_path / MAIN_DB)
    record = {"hash": "ab" * 32, "family_id": "f", "user_id": "u", "org_id": "o", "used_at": None}
    (tmp_path / TOKENS_DB).write_text(json.dumps({"refresh_tokens": {"1": record}}))
    before = files(tmp_path)

    async def main() -> None:
        store = Store(Settings(data_dir=tmp_path, clock=FakeClock()))
        with pytest.raises(StartupError, match="expires_at"):
            await store.open()

    asyncio.run(main())
    assert files(tmp_path) == before


PREVIOUS_VERSION = Path(__file__).parent / "data" / "previous-version"


def test_a_data_dir_written_by_the_previous_version_starts_and_keeps_its_sessions(
    tmp_path: Path,
) -> None:
    for name in ("dpaas.json", "dpaas.journal", "tokens.json", "tokens.journal"):
        (tmp_path / name).write_bytes((PREVIOUS_VERSION / name).read_bytes())
    issued = json.loads((PREVIOUS_VERSION / "refresh-tokens-issued.json").read_text())
    settings = Settings(data_dir=tmp_path, clock=FakeClock())

    async def main() -> None:
        store = Store(settings)
        await store.open()
        try:
            tokens = TokenService(settings, store, Keyring.load_or_create(tmp_path))
            org = (await store.find_login_user("myorg", "user@example.com") or {})
            page = await store.list_accounts(org["organization_id"], ListParams())
            names = sorted(a["name"] for a in page.results)
            assert names == ["Development", "Production", "Written by the previous version 1",
                             "Written by the previous version 2"], names
            assert await tokens.rotate(issued["spent"][0]) is None, "long spent"
            fresh = await tokens.rotate(issued["live"])
            assert fresh is not None, "a session of the previous version goes on"
            assert await tokens.rotate(issued["live"]) is None, "spent now"
            assert await tokens.rotate(fresh["refresh_token"]) is None, "reuse revoked it"
        finally:
            await store.close()

    asyncio.run(main())
    for name in (MAIN_DB, TOKENS_DB):
        ident = identity(tmp_path / name)
        assert ident and header(tmp_path / name)["database"] == ident


# --- as the issue tried it: the server as a process ------------------------------------------


START_REFUSAL_TIMEOUT = 30


def spawn(data_dir: Path, port: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "reference_server", "--demo", "--port", str(port),
         "--data-dir", str(data_dir)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )


def refused_start(data_dir: Path) -> str:
    """Start a server that must refuse to: its stderr. One that starts is stopped, and fails."""
    proc = spawn(data_dir, free_port())
    try:
        _, err = proc.communicate(timeout=START_REFUSAL_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate(timeout=30)
        raise AssertionError(f"the server started: {err}") from None
    assert proc.returncode == 2, err
    return err


def test_a_zero_length_journal_and_a_deleted_lock_as_the_red_team_tried_them(
    tmp_path: Path,
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = spawn(tmp_path, port)
    try:
        wait_ready(proc, base)
        admin = DEMO_PRINCIPALS["admin"]
        with httpx.Client(base_url=base, timeout=10) as c:
            token = c.post("/authentication/login", json={
                "email": admin.email, "password": admin.password,
                "organization_slug": admin.organization_slug}).json()["access_token"]
            for i in range(5):
                r = c.post("/accounts", json={"name": f"Acknowledged {i}"},
                           headers={"Authorization": f"Bearer {token}"})
                assert r.status_code == 201
        (tmp_path / LOCK_FILE).unlink()
        err = refused_start(tmp_path)
        assert "locked" in err and "Traceback" not in err, err
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)

    journal_of(tmp_path / MAIN_DB).write_bytes(b"")
    before = files(tmp_path)
    err = refused_start(tmp_path)
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert "empty where a header is due" in err
    assert files(tmp_path) == before, "not seeded again, nothing rewritten"
