"""`acpo-bench leaderboard` and `plot` on real runs: values and order from the results files, Δ with paired CIs,
refusal of incomparable runs, escaping of untrusted strings in every format, a LaTeX table that parses (and compiles
where a TeX engine exists), CSV that round-trips, a self-contained HTML page, PNG/SVG figures."""

from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from pylatexenc.latexwalker import LatexEnvironmentNode, LatexMacroNode, LatexWalker

from acpo_bench.cli import main
from acpo_bench.leaderboard import html, tables
from acpo_bench.leaderboard.runs import AGS, IncomparableError, load_run
from acpo_bench.results import load_results, samples_file
from tests.reporting import copy_run, edit_results, gzip_samples, make_reference_runs
from tests.requires import unavailable

EVIL = "<script>window.__pwned=1</script>&|x_y%$#{}\\~^`*"
COMMITTED = Path(__file__).resolve().parents[1] / "leaderboard" / "results"


@pytest.fixture(scope="session")
def reference_runs(small_world_dir, tmp_path_factory):
    return make_reference_runs(small_world_dir, tmp_path_factory)


@pytest.fixture(scope="session")
def runs(reference_runs):
    return [load_run(p) for p in reference_runs.values()]


@pytest.fixture(scope="session")
def evil_run(reference_runs, tmp_path_factory):
    """A results file whose model name and adapter path are hostile strings."""
    def rename(results):
        results["model"].update(name=EVIL, adapter=f"runs/{EVIL}")
        results["run_info"]["git_commit"] = "<b>bold</b>"

    return edit_results(copy_run(reference_runs["blind"], tmp_path_factory.mktemp("evil") / "r"), rename)


def leaderboard(*args: str, capsys) -> str:
    assert main(["leaderboard", *args]) == 0
    return capsys.readouterr().out


def test_rows_values_and_default_order(runs, reference_runs):
    board = tables.build(runs)
    ags = [row.cells[AGS].value for row in board.rows]
    assert ags == sorted(ags, reverse=True) and board.rows[0].run.name == "audio-oracle" and ags[0] == 1.0
    keys = [c.key for c in board.columns]
    for name, block in load_results(reference_runs["visual-prior"])["tasks"].items():
        assert [k.split(".", 1)[1] for k in keys if k.startswith(name + ".")] == block["headline"]
    vp = next(row for row in board.rows if row.run.name == "visual-prior")
    entry = vp.run.results["tasks"]["swapped_audio"]["metrics"]["vahr"]
    assert vp.cells["swapped_audio.vahr"].value == entry["value"] == 1.0
    assert list(vp.cells["swapped_audio.vahr"].ci95) == entry["ci95"]
    assert not board.delta_columns


def test_sort_by_a_lower_is_better_metric(runs):
    board = tables.build(runs, sort="swapped_audio.vahr_yn")
    values = [row.cells["swapped_audio.vahr_yn"].value for row in board.rows]
    assert values == sorted(values)
    with pytest.raises(ValueError, match=r"did you mean swapped_audio\.vahr_yn"):
        tables.build(runs, sort="swapped_audio.vahr_yx")


def test_baseline_deltas_with_paired_cis(runs):
    board = tables.build(runs, baseline="visual-prior")
    base = next(r for r in board.rows if r.is_baseline)
    assert base.run.name == "visual-prior" and not base.deltas
    for row in board.rows:
        for column in board.delta_columns:
            if row.is_baseline:
                continue
            delta = row.deltas[column.key]
            expected = row.cells[column.key].value - base.cells[column.key].value
            assert delta.value == pytest.approx(expected)
            if column.key != AGS:
                assert delta.ci95[0] - 1e-9 <= delta.value <= delta.ci95[1] + 1e-9
    oracle = next(r for r in board.rows if r.run.name == "audio-oracle")
    assert oracle.deltas["swapped_audio.vahr"].value == -1.0 and oracle.deltas["swapped_audio.vahr"].ci95 == (-1, -1)
    with pytest.raises(ValueError, match="none of the runs"):
        tables.build(runs, baseline="nobody")


def test_incomparable_runs_refused_or_marked(runs, reference_runs, small_world_dir, tmp_path, capsys):
    other = tmp_path / "limited"
    assert main(["eval", "--model", "blind", "--tasks", "swapped_audio", "--data", str(small_world_dir), "--limit",
                 "12", "--output-dir", str(other), "--quiet", "--no-cache"]) == 0
    bumped = edit_results(copy_run(reference_runs["always-yes"], tmp_path / "v9"),
                          lambda r: r["tasks"]["silent_video"].update(version=9))
    with pytest.raises(IncomparableError) as err:
        tables.build([*runs, load_run(other), load_run(bumped)])
    message = str(err.value)
    assert str(other / "results.json") in message and "data" in message
    assert "silent_video version 9 vs 1" in message and "--allow-mixed" in message
    assert main(["leaderboard", *map(str, reference_runs.values()), str(other)]) == 2
    assert "not comparable" in capsys.readouterr().err

    text = leaderboard(*map(str, reference_runs.values()), str(other), str(bumped), "--allow-mixed", capsys=capsys)
    marked = [line for line in text.splitlines() if line.startswith("| ") and "†" in line]
    assert len(marked) == 2
    assert "silent\\_video version 9 vs 1" in text


def test_markdown_table_shape_and_escaping(runs, evil_run, capsys):
    text = leaderboard(*(str(r.path) for r in runs), str(evil_run), "--format", "md", capsys=capsys)
    lines = [line for line in text.splitlines() if line.startswith("|")]
    cells = [_md_cells(line) for line in lines]
    assert len({len(c) for c in cells}) == 1  # every row has the header's column count
    assert len(lines) == 2 + len(runs) + 1
    assert "<script>" not in text and "&lt;script&gt;" in text and "&lt;b&gt;" in text
    evil_row = next(c for c in cells if "pwned" in c[0])
    assert evil_row[0] == _md_escaped(EVIL)


def _md_cells(line: str) -> list[str]:
    return [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]


def _md_escaped(text: str) -> str:
    return re.sub(r"([\\`*_{}\[\]|~])", r"\\\1", text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))


def test_csv_round_trips(runs, evil_run, tmp_path, capsys):
    out = tmp_path / "board.csv"
    leaderboard(*(str(r.path) for r in runs), str(evil_run), "--format", "csv", "--output", str(out),
                "--baseline", "visual-prior", capsys=capsys)
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(rows) == len(runs) + 1
    by_name = {row["model"]: row for row in rows}
    for run in runs:
        row = by_name[run.name]
        assert float(row["swapped_audio.vahr"]) == run.value("swapped_audio.vahr")
        assert [float(row["ags.ci_low"]), float(row["ags.ci_high"])] == run.metric(AGS)["ci95"]
    assert by_name["visual-prior"]["baseline"] == "1" and by_name["visual-prior"]["delta.ags"] == ""
    assert float(by_name["audio-oracle"]["delta.swapped_audio.vahr"]) == -1.0
    assert EVIL in by_name  # text kept verbatim (csv quoting), only formula openers are defused
    hostile = tables.csv_text(tables.build([_renamed(runs[0], "=HYPERLINK(1)")]))
    assert "'=HYPERLINK(1)" in hostile


def _renamed(run, name):
    results = {**run.results, "model": {**run.results["model"], "name": name}}
    return type(run)(run.path, results)


def test_latex_is_a_valid_booktabs_table(runs, evil_run, capsys):
    text = leaderboard(*(str(r.path) for r in runs), str(evil_run), "--format", "latex", "--baseline",
                       "visual-prior", capsys=capsys)
    nodes, _, _ = LatexWalker(text, tolerant_parsing=False).get_latex_nodes()
    table = next(n for n in nodes if isinstance(n, LatexEnvironmentNode) and n.environmentname == "table")
    tabular = next(n for n in table.nodelist if isinstance(n, LatexEnvironmentNode)
                   and n.environmentname == "tabular")
    body = text[text.index("\\begin{tabular}"):text.index("\\end{tabular}")]
    spec = re.match(r"\\begin\{tabular\}\{@\{\}([lrc]+)@\{\}\}", body).group(1)
    macros = [n.macroname for n in tabular.nodelist if isinstance(n, LatexMacroNode)]
    assert macros.count("toprule") == macros.count("midrule") == macros.count("bottomrule") == 1
    rows = [r for r in _latex_rows(body) if r]
    assert len(rows) == 2 + len(runs) + 1  # group header, metric header, one row per run
    for row in rows:
        spans = sum(int(m) for m in re.findall(r"\\multicolumn\{(\d+)\}", row))
        plain = len(_split_cells(row)) - len(re.findall(r"\\multicolumn", row))
        assert spans + plain == len(spec), row
    assert "\\textless{}" not in text and "<script>" in text  # < and > are not special in LaTeX text
    for raw, escaped in (("&", "\\&"), ("%", "\\%"), ("_", "\\_"), ("#", "\\#"), ("$", "\\$")):
        assert escaped in text, raw


def test_latex_table_compiles(runs, evil_run, tmp_path, capsys):
    """pdflatex compiles the table (make test installs TeX Live's LaTeX with tools/system_deps.sh; without it this
    fails in CI and skips elsewhere, saying what to install)."""
    engine = shutil.which("pdflatex")
    if not engine:
        unavailable("pdflatex", "apt-get install texlive-latex-recommended (make test does: tools/system_deps.sh)")
    text = leaderboard(*(str(r.path) for r in runs), str(evil_run), "--format", "latex", "--baseline",
                       "visual-prior", capsys=capsys)
    doc = tmp_path / "t.tex"
    doc.write_text("\\documentclass{article}\\usepackage{booktabs}\\usepackage[T1]{fontenc}"
                   "\\usepackage[utf8]{inputenc}\\begin{document}" + text + "\\end{document}\n")
    subprocess.run([engine, "-interaction=nonstopmode", "-halt-on-error", doc.name], cwd=tmp_path, check=True,
                   capture_output=True, timeout=120)


def _latex_rows(body: str) -> list[str]:
    body = body.split("\\toprule", 1)[1].split("\\bottomrule", 1)[0]
    body = re.sub(r"\\(cmidrule\(lr\)\{\d+-\d+\}|midrule)", "", body)
    return [r.strip() for r in re.split(r"(?<!\\)\\\\", body)]


def _split_cells(row: str) -> list[str]:
    return re.split(r"(?<!\\)&", row)


def test_html_is_self_contained_and_escaped(runs, evil_run, tmp_path, capsys):
    out = tmp_path / "board.html"
    leaderboard(*(str(r.path) for r in runs), str(evil_run), "--format", "html", "--output", str(out), capsys=capsys)
    page = out.read_text()
    assert page.count("<script>") == 1 and "window.__pwned" not in page.split("<script>")[1]
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in page
    assert not re.search(r"""(src|href)\s*=|<link|@import|url\(""", page)
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page).group(1)
    assert "default-src 'none'" in csp and html._hash(html.SCRIPT) in csp and html._hash(html.STYLE) in csp


def test_before_after_chart_for_runs_sharing_a_base_model(reference_runs, tmp_path):
    tuned = edit_results(copy_run(reference_runs["audio-oracle"], tmp_path / "tuned"),
                         lambda r: r["model"].update(name="visual-prior", adapter="runs/acpo-tiny"))
    board = tables.build([load_run(reference_runs["visual-prior"]), load_run(tuned),
                          load_run(reference_runs["blind"])])
    groups = html.base_model_groups(board.rows)
    assert [(b.run.label, [t.run.label for t in ts]) for b, ts in groups] == [
        ("visual-prior", ["visual-prior + acpo-tiny"])]
    svg = html.before_after_charts(board)
    root = ET.fromstring(svg)  # well-formed XML
    circles = root.findall(".//{http://www.w3.org/2000/svg}circle")
    directed = [c for c in board.columns if c.higher_is_better is not None]
    assert len(circles) == 2 + 2 * len(directed)  # legend + one point per run and metric
    assert "before: visual-prior" in svg and "after: visual-prior + acpo-tiny" in svg


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_plot_files(reference_runs, tmp_path, suffix, capsys):
    out = tmp_path / f"fig{suffix}"
    assert main(["plot", str(reference_runs["visual-prior"]), str(reference_runs["audio-oracle"]),
                 "--output", str(out)]) == 0
    data = out.read_bytes()
    if suffix == ".png":
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
    else:
        root = ET.fromstring(data)
        text = "".join(root.itertext())
        assert "swapped_audio.vahr" in text and "audio grounding score" in text
    assert main(["plot", str(reference_runs["visual-prior"]), str(reference_runs["audio-oracle"]),
                 "--output", str(tmp_path / "fig.pdf")]) == 2
    assert main(["plot", str(reference_runs["visual-prior"]), str(reference_runs["audio-oracle"]),
                 "--output", str(out), "--metrics", "swapped_audio.nope"]) == 2
    assert "no metric 'nope'" in capsys.readouterr().err


def test_gzipped_samples_render_as_the_plain_ones(reference_runs, tmp_path, capsys):
    """The Δ CIs read the samples: gzipped (as leaderboard/results/ stores them) they give the same tables."""
    packed = {name: gzip_samples(copy_run(run, tmp_path / name)) for name, run in reference_runs.items()}
    plain = tables.build([load_run(p) for p in reference_runs.values()], baseline="visual-prior")
    board = tables.build([load_run(p) for p in packed.values()], baseline="visual-prior")
    assert not board.notes and any(cell.ci95 for row in board.rows for cell in row.deltas.values())
    root = next(iter(reference_runs.values())).parent
    for render in (tables.markdown, tables.latex, html.page):  # the page links each results file: paths aside
        assert render(board).replace(str(tmp_path), "RUNS") == render(plain).replace(str(root), "RUNS")
    damaged = packed["blind"] / "samples_swapped_audio.jsonl.gz"
    damaged.write_bytes(damaged.read_bytes()[:100])
    text = leaderboard(*(str(p) for p in packed.values()), "--baseline", "visual-prior", capsys=capsys)
    text = text.replace("\\_", "_")  # markdown-escaped
    assert "no Δ CI for blind on swapped_audio" in text and f"{damaged}: not a readable gzip file" in text


def test_committed_runs_store_their_samples_gzipped():
    """leaderboard/results/ keeps samples as .jsonl.gz (82 MiB plain), each the plain bytes its results file hashed,
    compressed as `make leaderboard` does (gzip -n -9: no name or time in the header, so the bytes reproduce)."""
    root = COMMITTED
    runs = sorted(p.parent for p in root.glob("*/results.json"))
    assert runs and not list(root.glob("*/samples_*.jsonl")), "gzip the samples: make leaderboard"
    for run in runs:
        for task in load_results(run)["tasks"]:
            path, _ = samples_file(run, task)  # the sha256 of the plain bytes is checked here
            assert path.name == f"samples_{task}.jsonl.gz"


def test_committed_samples_are_gzip_n_9():
    """The committed .gz bytes are what `make leaderboard` writes (gzip -n -9), so they reproduce."""
    if not shutil.which("gzip"):
        unavailable("the gzip command", "install gzip (`make leaderboard` compresses the samples with it)")
    smallest = min(COMMITTED.glob("*/samples_*.jsonl.gz"), key=lambda p: p.stat().st_size)
    task = smallest.name.removeprefix("samples_").removesuffix(".jsonl.gz")
    again = subprocess.run(["gzip", "-n", "-9", "-c"], input=samples_file(smallest.parent, task)[1],
                           capture_output=True, check=True).stdout
    assert again == smallest.read_bytes()


def test_committed_leaderboard_is_current(monkeypatch):
    """leaderboard/ holds what `make leaderboard` renders from leaderboard/results/: rerun it after adding a run."""
    root = Path(__file__).resolve().parents[1]
    monkeypatch.chdir(root)  # the Makefile passes paths relative to the repository root
    paths = sorted(str(p.relative_to(root)) for p in (root / "leaderboard" / "results").glob("*/results.json"))
    assert len(paths) >= 4
    board = tables.build([load_run(p) for p in paths])
    assert {"audio-oracle", "visual-prior", "always-yes", "blind"} <= {row.run.name for row in board.rows}
    for render, name in ((tables.markdown, "README.md"), (tables.csv_text, "leaderboard.csv"),
                         (tables.latex, "leaderboard.tex"), (html.page, "leaderboard.html")):
        committed = (root / "leaderboard" / name).read_text()
        assert render(board) == committed, f"leaderboard/{name} is stale: run make leaderboard"


def test_labels_keep_local_checkpoints_apart():
    from acpo_bench.leaderboard.runs import Run

    def label(**model):
        return Run(Path("results.json"), {"model": model}).label

    assert label(name="qwen-omni-tiny") == "qwen-omni-tiny"
    assert label(name="qwen-omni", args={"path": "/runs/pipe/train/both-seed0/policy/"}) == \
        "qwen-omni @ both-seed0/policy"
    assert label(name="qwen-omni", args={"path": "/runs/pipe/train/input-seed1/policy"}) == \
        "qwen-omni @ input-seed1/policy"
    assert label(name="qwen-omni", adapter="runs/acpo-7b/", args={"path": "/ckpt/7b"}) == "qwen-omni + acpo-7b"
    assert label(name="qwen-omni", args={"path": ["not", "a", "path"]}) == "qwen-omni"
    # contrastive decoding answers differently from the same weights: the label says so
    assert label(name="qwen-omni-tiny", args={"decoding": "contrastive", "alpha": "1.0", "beta": "0.1"}) == \
        "qwen-omni-tiny · contrastive decoding alpha=1.0 beta=0.1"
    assert label(name="qwen-omni-tiny", args={"decoding": "greedy"}) == "qwen-omni-tiny"


def test_runs_on_other_clip_counts_are_told_apart(small_world_dir, tmp_path, capsys):
    """Two --limit runs keep their world's name, so the names alone read the same: the refusal must say 6 vs 12
    clips and show both fingerprints (the first user saw two identical data names and nothing else)."""
    paths = {}
    for limit in ("6", "12"):
        paths[limit] = tmp_path / f"limit{limit}"
        assert main(["eval", "--model", "blind", "--tasks", "core", "--data", str(small_world_dir), "--limit", limit,
                     "--output-dir", str(paths[limit]), "--quiet", "--no-cache"]) == 0
    capsys.readouterr()
    assert main(["leaderboard", str(paths["6"]), str(paths["12"])]) == 2
    err = capsys.readouterr().err
    six, twelve = (load_run(p).data for p in (paths["6"], paths["12"]))
    assert six["name"] == twelve["name"]
    line = next(line for line in err.splitlines() if line.strip().startswith(str(paths["12"])))
    assert "data: 12 clips vs 6 clips" in line
    fingerprints = [d["fingerprint"].removeprefix("sha256:")[:10] for d in (twelve, six)]
    assert f"fingerprint {fingerprints[0]} vs {fingerprints[1]}" in line
    assert f"(both {six['name']}, the synthetic world)" in line


def test_data_differences_name_each_field_that_differs():
    from acpo_bench.leaderboard.runs import data_differences

    old = {"name": "mine", "fingerprint": "sha256:aaaaaaaaaaaa"}  # a file from before clips and world were recorded
    new = {"name": "stamps-v1-n240-x", "world": "stamps", "clips": 240, "fingerprint": "sha256:bbbbbbbbbbbb"}
    assert data_differences(old, new) == ("data: clip count not recorded vs 240 clips, not a generated world vs the "
                                          "real-media world, mine vs stamps-v1-n240-x, fingerprint aaaaaaaaaa vs "
                                          "bbbbbbbbbb")
    same_but_content = {**new, "fingerprint": "sha256:cccccccccccc"}
    assert data_differences(same_but_content, new) == ("data: fingerprint cccccccccc vs bbbbbbbbbb (both "
                                                        "stamps-v1-n240-x, 240 clips, the real-media world)")
