"""Any labelled video collection -> a clip dataset directory (``acpo-bench probes build``).

Labels come as rows of (video_id, label, modality) where modality is A (audible only), V (visible only) or AV
(both): the VGGSounder format (CSV columns video_id, label, modality, background_music, static_image, voice_over;
JSON Lines with the same keys work too), read from a file or from the ``vggsounder`` package's bundled labels; or
as plain per-clip class lists ({video_id, labels}; CSV labels separated by ";") with ``describes`` saying whether
they name what is heard (audio), seen (visual) or both. V-only labels are the visible-but-silent sources: the
visual-adversarial negatives of sound_presence and the bait of swapped_audio.

The output directory holds ``clips/`` (relative symlinks to the videos, or copies with ``copy``), ``manifest/``
(clip_id, video relative to the directory, visible, audible, content_id,
the VGGSounder flags when given, and audio_caption / visual_caption from an optional captions file),
``lexicon.json`` (label names, comma-separated aliases split out, plus user synonyms) and ``build_report.json``
(every clip left out, with the reason). Media problems are reported per clip and never stop the build.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from acpo_bench.clips import DatasetError, json_records, write_manifest
from acpo_bench.lexicon import Lexicon, surface_variants
from acpo_bench.media import VIDEO_SUFFIXES, MediaError, MediaSpec, content_id, decode_audio, decode_video
from acpo_bench.paths import staged_directory

MODALITIES = {"A": ("audible",), "V": ("visible",), "AV": ("visible", "audible")}
DESCRIBES = {"audio": "A", "visual": "V", "both": "AV"}
FLAGS = ("background_music", "static_image", "voice_over")
REPORT = "build_report.json"
VGGSOUNDER = "vggsounder"


@dataclass
class ClipLabels:
    visible: set[str] = field(default_factory=set)
    audible: set[str] = field(default_factory=set)
    flags: dict[str, bool] = field(default_factory=dict)


@dataclass
class BuildReport:
    output_dir: Path
    written: int
    skipped: list[tuple[str, str]]  # (video id or file, reason)
    labels_without_video: int
    lexicon_notes: list[str]


# --- labels ----------------------------------------------------------------------------------------------------

def _rows(path: Path) -> list[dict]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read the labels ({exc.strerror or exc})") from None
    if path.suffix.lower() in (".jsonl", ".json"):
        return json_records(path, text)
    return list(csv.DictReader(text.splitlines()))


def _flag(value: object) -> bool:
    return str(value).strip().lower() in ("true", "1", "yes")


def vggsounder_labels() -> Path:
    """The labels CSV bundled in the ``vggsounder`` package (VGGSound test set, per-label modality)."""
    try:
        from importlib import resources

        path = resources.files("vggsounder").joinpath("data", "vggsounder.csv")
    except ModuleNotFoundError:
        raise DatasetError("--labels vggsounder reads the labels bundled in the `vggsounder` package, which is not "
                           "installed: `pip install vggsounder` (or acpo-bench[vggsounder]); or pass the CSV file "
                           "itself with --labels FILE") from None
    if not path.is_file():
        raise DatasetError(f"the installed vggsounder package has no {path}; pass the CSV with --labels FILE")
    return Path(str(path))


def read_labels(source: str, describes: str | None = None) -> dict[str, ClipLabels]:
    """video_id -> labels per modality, from a VGGSounder-format file or per-clip class lists."""
    path = vggsounder_labels() if source == VGGSOUNDER else Path(source).expanduser()
    rows = _rows(path)
    if not rows:
        raise DatasetError(f"{path}: holds no labels")
    out: dict[str, ClipLabels] = {}
    per_label = "label" in rows[0]
    if per_label and describes is None and "modality" not in rows[0]:
        raise DatasetError(f"{path}: rows have 'label' but no 'modality' (A, V or AV); add the column, or pass "
                           "--describes audio|visual|both to say what the labels name")
    if not per_label and "labels" not in rows[0]:
        raise DatasetError(f"{path}: expected VGGSounder rows (video_id, label, modality) or per-clip class "
                           f"lists (video_id, labels); found columns {sorted(rows[0])}")
    if not per_label and describes is None:
        raise DatasetError(f"{path}: per-clip class lists need --describes audio|visual|both (what the labels name)")
    for number, row in enumerate(rows, start=1):
        video_id = str(row.get("video_id") or "").strip()
        if not video_id:
            raise DatasetError(f"{path}: row {number} has no video_id")
        if per_label:
            labels = [str(row["label"]).strip()]
            modality = str(row.get("modality") or DESCRIBES.get(describes or "", "")).strip().upper()
        else:
            raw = row["labels"]
            labels = raw if isinstance(raw, list) else str(raw).split(";")
            labels = [str(x).strip() for x in labels]
            modality = DESCRIBES[describes]
        if modality not in MODALITIES:
            raise DatasetError(f"{path}: row {number} ({video_id}) has modality {modality!r}; expected A, V or AV")
        clip = out.setdefault(video_id, ClipLabels())
        for label in filter(None, labels):
            for side in MODALITIES[modality]:
                getattr(clip, side).add(label)
        for name in FLAGS:
            if name in row and row[name] not in (None, ""):
                clip.flags[name] = _flag(row[name])
    return out


def read_captions(path: str | None) -> dict[str, dict]:
    if not path:
        return {}
    rows = _rows(Path(path).expanduser())
    out = {}
    for number, row in enumerate(rows, start=1):
        missing = [k for k in ("video_id", "audio_caption", "visual_caption") if not row.get(k)]
        if missing:
            raise DatasetError(f"{path}: row {number} lacks {missing}; a captions file holds "
                               "{video_id, audio_caption, visual_caption} per line")
        out[str(row["video_id"])] = row
    return out


def build_lexicon(labels: Iterable[str], synonyms: str | None = None) -> tuple[Lexicon, list[str]]:
    """Label names plus their comma-separated aliases ("bird chirping, tweeting" -> "bird chirping", "tweeting"),
    then the user's synonym file; an alias another label already claims is left out (and noted)."""
    claimed: dict[str, str] = {}
    forms: dict[str, list[str]] = {}
    notes = []
    ordered = sorted(set(labels))
    for label in ordered:  # the label names themselves first: they must stay unambiguous
        for variant in surface_variants(label):
            if claimed.setdefault(variant, label) != label:
                raise DatasetError(f"labels {claimed[variant]!r} and {label!r} share the surface form {variant!r}; "
                                   "rename one in the labels file")
        forms[label] = []
    for label in ordered:
        for alias in filter(None, (a.strip() for a in label.split(","))) if "," in label else ():
            variants = surface_variants(alias)
            owners = {claimed[v] for v in variants if v in claimed} - {label}
            if owners:
                notes.append(f"alias {alias!r} of {label!r} is also a form of {sorted(owners)}: left out")
                continue
            for v in variants:
                claimed[v] = label
            forms[label].append(alias)
    lexicon = Lexicon(forms)
    if synonyms:
        try:
            lexicon = lexicon.with_synonyms(Lexicon.load(synonyms).to_json())
        except ValueError as exc:
            raise DatasetError(f"{synonyms}: {exc}") from None
    return lexicon, notes


# --- media -----------------------------------------------------------------------------------------------------

def find_videos(directory: str | Path) -> dict[str, Path]:
    """Stem -> file for every video under ``directory`` (recursively)."""
    root = Path(directory).expanduser().resolve()
    if not root.is_dir():
        raise DatasetError(f"--videos {root}: not a directory")
    found: dict[str, Path] = {}
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() in VIDEO_SUFFIXES and path.is_file():
            found.setdefault(path.stem, path)
    return found


def check_media(path: str) -> tuple[str | None, str | None]:
    """(content id, None) for a clip whose frames and audio decode, else (None, reason)."""
    try:
        decode_video(path, MediaSpec(frames=1))
        audio = decode_audio(path)
        if len(audio) == 0:
            return None, f"{path}: audio track holds no samples"
        return content_id(path), None
    except MediaError as exc:
        return None, str(exc)


# --- the build -------------------------------------------------------------------------------------------------

def build_probes_dataset(videos: str, labels: str, output_dir: str, describes: str | None = None,
                         synonyms: str | None = None, captions: str | None = None, copy: bool = False,
                         workers: int | None = None, advance: Callable[[int], None] = lambda n: None
                         ) -> BuildReport:
    """Write the clip dataset; clips whose media fail are reported in the returned report and build_report.json."""
    output = Path(output_dir).expanduser().resolve()
    if output.exists() and any(output.iterdir()):
        raise FileExistsError(f"{output}: exists and is not empty; choose a new --output-dir")
    label_map = read_labels(labels, describes)
    files = find_videos(videos)
    caption_map = read_captions(captions)
    matched = [v for v in label_map if v in files]
    skipped = [(f"{files[stem].name}", "no labels for this video") for stem in sorted(set(files) - set(label_map))]
    if not matched:
        raise DatasetError(f"none of the {len(files)} videos under {videos} has labels in {labels} "
                           "(video files are matched to label rows by name: {video_id}.mp4)")
    paths = [str(files[v]) for v in matched]
    workers = workers or min(os.cpu_count() or 1, 8)
    if workers > 1 and len(paths) >= 32:
        with ProcessPoolExecutor(workers) as pool:
            checks = []
            for result in pool.map(check_media, paths, chunksize=8):
                checks.append(result)
                advance(1)
    else:
        checks = []
        for path in paths:
            checks.append(check_media(path))
            advance(1)
    with staged_directory(output) as staging:
        rows = []
        has_flags = any(c.flags for c in label_map.values())
        for video_id, (cid, reason) in zip(matched, checks, strict=True):
            if reason:
                skipped.append((video_id, reason))
                continue
            source = files[video_id]
            (staging / "clips").mkdir(exist_ok=True)
            video = f"clips/{source.name}"
            if copy:
                shutil.copy2(source, staging / video)
            else:  # a relative link: the manifest names only paths inside the dataset (load_clips refuses others)
                (staging / video).symlink_to(os.path.relpath(source, output / "clips"))
            clip = label_map[video_id]
            row = {"clip_id": video_id, "video": video, "visible": sorted(clip.visible),
                   "audible": sorted(clip.audible), "content_id": cid,
                   **({name: clip.flags.get(name) for name in FLAGS} if has_flags else {})}
            if caption_map:
                cap = caption_map.get(video_id, {})
                row.update(audio_caption=cap.get("audio_caption"), visual_caption=cap.get("visual_caption"))
            rows.append(row)
        if not rows:
            raise DatasetError(f"every matched clip failed to decode; first reasons: {[r for _, r in skipped[:3]]}")
        lexicon, notes = build_lexicon((lab for r in rows for lab in (*r["visible"], *r["audible"])), synonyms)
        write_manifest(staging, rows, lexicon)
        report = {"written": len(rows), "skipped": [{"clip": c, "reason": r} for c, r in skipped],
                  "labels_without_video": len(label_map) - len(matched), "lexicon_notes": notes,
                  "labels": str(labels), "videos": str(Path(videos).expanduser().resolve())}
        (staging / REPORT).write_text(json.dumps(report, indent=1))
    return BuildReport(output, len(rows), skipped, len(label_map) - len(matched), notes)
