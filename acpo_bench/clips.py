"""Clip datasets on disk: a directory holding ``manifest/`` (a datasets.Dataset) and the media files it names.

Columns: clip_id, video (path relative to the directory), visible, audible (label lists) and optionally
audio_caption, visual_caption and content_id. ``lexicon.json`` (label -> synonyms) is optional; without it the
lexicon is the label names. Any collection with these columns runs every synthetic-suite task.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

from acpo_bench.lexicon import Lexicon
from acpo_bench.media import MediaError, content_id
from acpo_bench.schemas import Clip, stable_hash

MANIFEST = "manifest"
LEXICON = "lexicon.json"
REQUIRED_COLUMNS = ("clip_id", "video", "visible", "audible")


class DatasetError(ValueError):
    """A dataset directory that cannot be used; the message names the path, the field and the fix."""


def json_records(path: Path, text: str) -> list:
    """A JSON list, or JSON Lines (blank lines skipped), read from ``path``'s text; a parse error names the file
    and, for JSON Lines, the line."""
    if text.lstrip().startswith("["):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path}: not valid JSON ({exc})") from None
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise DatasetError(f"{path}: line {number} is not valid JSON ({exc})") from None
    return rows


def confined_path(root: Path, name: object, source: object, place: str, field: str) -> Path:
    """``root / name`` for a media path read from a file (manifest, annotation): it must be relative and stay inside
    ``root`` once "." and ".." are resolved. An absolute path or one that climbs out ("../../etc/passwd") is
    refused, naming the file, the record and the field. Symlinks inside the directory are followed when the media is
    opened (that is how ``acpo-bench probes build`` links videos it does not copy)."""
    text = str(name) if name is not None else ""
    normal = os.path.normpath(text) if text else ""
    if not text or "\x00" in text or os.path.isabs(text) or normal == ".." or normal.startswith(".." + os.sep):
        raise DatasetError(f"{source}: {place}: {field} {text!r} is not a relative path inside the data directory "
                           f"{root}; refusing to read it (media paths in annotation files must stay inside --data)")
    return root / normal


@dataclass(frozen=True)
class ClipSet:
    name: str
    clips: tuple[Clip, ...]
    lexicon: Lexicon
    root: str | None = None
    annotations: tuple[dict, ...] = ()  # benchmark items (e.g. AVHBench QA) for tasks with their own loader

    def fingerprint(self) -> str:
        """Identity of the data: every clip's content and labels, independent of paths."""
        return "sha256:" + stable_hash([(c.content_id, c.visible, c.audible) for c in self.clips],
                                       list(self.annotations), length=64)

    def head(self, n: int | None) -> ClipSet:
        return self if n is None else replace(self, clips=self.clips[:n])

    def audible_frequency(self) -> Counter[str]:
        return Counter(label for c in self.clips for label in c.audible)

    def visible_frequency(self) -> Counter[str]:
        return Counter(label for c in self.clips for label in c.visible)


def load_clips(directory: str | Path, name: str | None = None) -> ClipSet:
    """Read a clip dataset directory, checking every required field with a message that says how to fix it."""
    root = Path(directory).expanduser().resolve()
    manifest = root / MANIFEST
    if not manifest.is_dir():
        raise DatasetError(f"{root}: no {MANIFEST}/ directory. A clip dataset is written by `acpo-bench data synth` "
                           "or `acpo-bench probes build`: a datasets.Dataset with columns "
                           f"{', '.join(REQUIRED_COLUMNS)}")
    import datasets  # heavy import, only when a dataset is read

    datasets.disable_progress_bars()
    try:
        table = _load_manifest(manifest)
    except Exception as exc:  # datasets raises many types for a damaged directory
        raise DatasetError(f"{manifest}: cannot be read as a datasets.Dataset ({exc})") from None
    missing = [c for c in REQUIRED_COLUMNS if c not in table.column_names]
    if missing:
        raise DatasetError(f"{manifest}: missing column(s) {missing}; required: {list(REQUIRED_COLUMNS)}")
    clips, seen = [], set()
    for row_number, row in enumerate(table):
        clip_id = str(row["clip_id"])
        if clip_id in seen:
            raise DatasetError(f"{manifest}: row {row_number}: clip_id {clip_id!r} appears twice; ids must be unique")
        seen.add(clip_id)
        for column in ("visible", "audible"):
            if not isinstance(row[column], list):
                raise DatasetError(f"{manifest}: row {row_number} ({clip_id}): {column} must be a list of labels")
        video = confined_path(root, row["video"], manifest, f"row {row_number} ({clip_id})", "video").resolve()
        cid = row.get("content_id")
        if not cid:
            try:
                cid = content_id(video)
            except MediaError:
                cid = "missing:" + stable_hash(clip_id, str(row["video"]))  # the probe will record the media error
        clips.append(Clip(clip_id=clip_id, video=str(video), visible=tuple(sorted(row["visible"])),
                          audible=tuple(sorted(row["audible"])), content_id=cid,
                          audio_caption=row.get("audio_caption"), visual_caption=row.get("visual_caption")))
    labels = sorted({label for c in clips for label in (*c.visible, *c.audible)})
    lexicon = Lexicon({label: [] for label in labels})
    if (root / LEXICON).exists():
        lexicon = Lexicon.load(root / LEXICON).with_synonyms({label: [] for label in labels})
    return ClipSet(name=name or root.name, clips=tuple(clips), lexicon=lexicon, root=str(root))


def _load_manifest(manifest: Path):
    """datasets.load_from_disk, also for a directory whose path holds bytes that are not UTF-8 (Arrow cannot open
    such a path; a symlink with a plain name in a temporary directory can)."""
    import datasets

    try:
        str(manifest).encode("utf-8")
    except UnicodeEncodeError:
        with tempfile.TemporaryDirectory(prefix="acpo-manifest-") as tmp:
            link = Path(tmp) / MANIFEST
            link.symlink_to(manifest, target_is_directory=True)
            return datasets.load_from_disk(str(link), keep_in_memory=True)
    return datasets.load_from_disk(str(manifest))


def write_manifest(directory: str | Path, rows: list[dict], lexicon: Lexicon | None = None) -> None:
    import datasets

    datasets.disable_progress_bars()
    root = Path(directory)
    datasets.Dataset.from_list(rows).save_to_disk(str(root / MANIFEST))
    if lexicon is not None:
        (root / LEXICON).write_text(json.dumps(lexicon.to_json(), indent=1, sort_keys=True))
