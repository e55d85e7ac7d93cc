"""SQLite response cache: one file per output directory, bound to one adapter fingerprint; it doubles as resume.

Key = sha256(fingerprint, probe id, settings) where settings hold everything that changes an answer (scoring mode,
frames/fps, max_new_tokens, choices). The file records its fingerprint and refuses a different model, so one model
can never be served another's answers. WAL mode and one transaction per batch: a kill loses at most the batch in
flight, never a committed answer.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path

from acpo_bench.schemas import Response, stable_hash

SCHEMA = 1


class CacheMismatchError(RuntimeError):
    pass


class ResponseCache:
    """Answers are written to ``path``; ``also_read`` names other cache files of the same output directory (the
    per-rank files of a data-parallel run) whose answers are served too, so a rerun with another number of
    processes recomputes nothing."""

    def __init__(self, path: str | Path, fingerprint: str, also_read: Iterable[str | Path] = ()) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fingerprint = fingerprint
        self._readers = [ResponseCache(p, fingerprint) for p in also_read if Path(p) != self.path]
        self._db = sqlite3.connect(str(self.path), timeout=60)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        with self._db:
            self._db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            self._db.execute("CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, probe_id TEXT NOT NULL, "
                             "text TEXT NOT NULL, scored_by TEXT NOT NULL, choice_logprobs TEXT)")
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('fingerprint', ?)", (fingerprint,))
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(SCHEMA),))
        stored = self._db.execute("SELECT value FROM meta WHERE key='fingerprint'").fetchone()[0]
        if stored != fingerprint:
            self._db.close()
            raise CacheMismatchError(
                f"{self.path} holds answers of a different model (fingerprint {stored[:23]}..., this model is "
                f"{fingerprint[:23]}...). Use another --output-dir, or delete that file to start over.")

    @staticmethod
    def key(fingerprint: str, probe_id: str, settings: dict) -> str:
        return stable_hash(fingerprint, probe_id, settings, length=64)

    def get_many(self, keys: Sequence[str]) -> dict[str, Response]:
        out: dict[str, Response] = {}
        for reader in self._readers:
            out.update(reader.get_many(keys))
        for start in range(0, len(keys), 500):
            chunk = list(keys[start:start + 500])
            marks = ",".join("?" * len(chunk))
            for key, text, scored_by, logprobs in self._db.execute(
                    f"SELECT key, text, scored_by, choice_logprobs FROM responses WHERE key IN ({marks})", chunk):
                out[key] = Response(text=text, scored_by=scored_by,
                                    choice_logprobs=json.loads(logprobs) if logprobs else None)
        return out

    def put_many(self, items: Iterable[tuple[str, str, Response]]) -> None:
        """Store (key, probe_id, response) rows in one transaction."""
        rows = [(key, probe_id, r.text, r.scored_by, json.dumps(r.choice_logprobs) if r.choice_logprobs else None)
                for key, probe_id, r in items]
        with self._db:
            self._db.executemany("INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?)", rows)

    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def close(self) -> None:
        for reader in self._readers:
            reader.close()
        self._db.close()
