"""The durable webhook outbox: one SQLite table of deliveries (pending, delivered, failed).

:class:`Outbox` is plain synchronous sqlite3 (WAL journal, ``synchronous=NORMAL``): the
dispatcher calls its writing methods from one worker thread, in batches, never from the
event loop; :meth:`Outbox.list` opens its own read connection and may run anywhere.
A row is committed before its first attempt, so a restart (or a crash of the process)
loses no pending delivery; a crash between a receiver's 2xx and the commit of
``delivered`` sends that delivery once more, with the same idempotency key.
"""
from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["STATUSES", "Delivery", "Outcome", "Outbox"]

#: the statuses a delivery can have
STATUSES = ("pending", "delivered", "failed")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    id          TEXT PRIMARY KEY,
    endpoint    TEXT NOT NULL,
    event_id    INTEGER,
    event_type  TEXT NOT NULL,
    body        BLOB NOT NULL,
    status      TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    created_at  REAL NOT NULL,
    updated_at  REAL NOT NULL,
    next_at     REAL NOT NULL,
    delivered_at REAL,
    last_status INTEGER,
    last_error  TEXT
);
CREATE INDEX IF NOT EXISTS deliveries_status ON deliveries (status, updated_at);
"""
_COLUMNS = ("id", "endpoint", "event_id", "event_type", "status", "attempts", "created_at",
            "updated_at", "next_at", "delivered_at", "last_status", "last_error")


@dataclass(slots=True)
class Delivery:
    """One event for one endpoint; ``id`` is also its idempotency key. ``body`` is None
    while the delivery waits for a retry (it is read back from the outbox when due)."""

    id: str
    endpoint: str
    event_id: int | None
    event_type: str
    body: bytes | None
    created_at: float
    attempts: int = 0
    next_at: float = 0.0


@dataclass(slots=True)
class Outcome:
    """The result of one attempt, to be written to the outbox."""

    id: str
    status: str
    attempts: int
    at: float
    next_at: float
    http_status: int | None = None
    error: str | None = None


class Outbox:
    """The SQLite file behind the dispatcher (see the module docstring for the threading rule)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        if self.path == ":memory:" or self.path.startswith("file:"):
            raise ValueError("webhook outbox: a file path is required (the outbox must survive a restart)")
        if not os.path.exists(self.path):   # phone numbers inside: owner-only (WAL files follow)
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def write(self, new: Sequence[Delivery], outcomes: Sequence[Outcome]) -> None:
        """Insert new pending deliveries and record attempt outcomes, in one transaction."""
        if not new and not outcomes:
            return
        with self._lock:
            db = self._db
            db.execute("BEGIN")
            try:
                db.executemany(
                    "INSERT INTO deliveries (id, endpoint, event_id, event_type, body, status, attempts,"
                    " created_at, updated_at, next_at) VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?)",
                    [(d.id, d.endpoint, d.event_id, d.event_type, d.body, d.created_at, d.created_at,
                      d.next_at) for d in new])
                db.executemany(
                    "UPDATE deliveries SET status = ?, attempts = ?, updated_at = ?, next_at = ?,"
                    " last_status = ?, last_error = ?,"
                    " delivered_at = CASE WHEN ? = 'delivered' THEN ? ELSE delivered_at END WHERE id = ?",
                    [(o.status, o.attempts, o.at, o.next_at, o.http_status, o.error, o.status, o.at, o.id)
                     for o in outcomes])
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def pending(self) -> list[Delivery]:
        """Every pending delivery, oldest first, without bodies (for a restart)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, endpoint, event_id, event_type, created_at, attempts, next_at FROM deliveries"
                " WHERE status = 'pending' ORDER BY created_at").fetchall()
        return [Delivery(r[0], r[1], r[2], r[3], None, r[4], r[5], r[6]) for r in rows]

    def bodies(self, ids: Iterable[str]) -> dict[str, bytes]:
        """The bodies of the given deliveries (missing ids are left out)."""
        wanted = list(ids)
        out: dict[str, bytes] = {}
        with self._lock:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start:start + 500]
                marks = ",".join("?" * len(chunk))
                for rid, body in self._db.execute(
                        f"SELECT id, body FROM deliveries WHERE id IN ({marks})", chunk):
                    out[rid] = body
        return out

    def counts(self) -> dict[str, int]:
        """Rows per status."""
        with self._lock:
            rows = self._db.execute("SELECT status, COUNT(*) FROM deliveries GROUP BY status").fetchall()
        out = dict.fromkeys(STATUSES, 0)
        out.update({status: n for status, n in rows})
        return out

    def get(self, delivery_id: str) -> dict[str, Any] | None:
        """One delivery as :meth:`list` shows it, or None."""
        with self._lock:
            row = self._db.execute(f"SELECT {', '.join(_COLUMNS)}, body FROM deliveries WHERE id = ?",
                                   (delivery_id,)).fetchone()
        return _row_dict(row) if row else None

    def list(self, status: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Deliveries, most recently updated first, optionally of one status."""
        if status is not None and status not in STATUSES:
            raise ValueError(f"unknown delivery status {status!r} (one of {', '.join(STATUSES)})")
        if limit < 0:
            raise ValueError("limit must be >= 0")
        sql = f"SELECT {', '.join(_COLUMNS)}, body FROM deliveries"
        args: list[Any] = []
        if status is not None:
            sql += " WHERE status = ?"
            args.append(status)
        sql += " ORDER BY updated_at DESC LIMIT ?"
        args.append(int(limit))
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [_row_dict(r) for r in rows]

    def requeue(self, delivery_id: str, at: float) -> bool:
        """Make a failed delivery pending again with a fresh attempt count; False if not failed."""
        with self._lock:
            cur = self._db.execute(
                "UPDATE deliveries SET status = 'pending', attempts = 0, next_at = ?, updated_at = ?"
                " WHERE id = ? AND status = 'failed'", (at, at, delivery_id))
        return cur.rowcount == 1

    def prune(self, delivered_before: float, failed_before: float) -> int:
        """Delete delivered and failed rows last updated before the given times."""
        with self._lock:
            cur = self._db.execute(
                "DELETE FROM deliveries WHERE (status = 'delivered' AND updated_at < ?)"
                " OR (status = 'failed' AND updated_at < ?)", (delivered_before, failed_before))
        return cur.rowcount


def _row_dict(row: Sequence[Any]) -> dict[str, Any]:
    out = dict(zip(_COLUMNS, row))
    out["idempotency_key"] = out["id"]
    body = row[len(_COLUMNS)]
    try:
        out["event"] = json.loads(body)
    except (ValueError, TypeError):
        out["event"] = None
    return out
