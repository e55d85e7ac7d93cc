"""The viewer page itself: one self-contained HTML file (inline CSS, one inline script, media as data: URIs).

Samples files are untrusted input, so their strings never become markup. Those in the HTML (run labels, filter
options, notices) are HTML-escaped; the rows travel as JSON inside ``<script type="application/json">`` with ``<``,
``>`` and ``&`` written as ``\\u003c`` etc. (no ``</script>`` can close the block), and the script puts them into the
page with ``textContent`` only, never as HTML. The Content-Security-Policy admits this page's own script and style
by hash and images and audio from data: URIs alone, and nothing else: no fetch, no other script, not even one that
slipped through escaping.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from acpo_bench.leaderboard.text import html_escape as esc

STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #1b1f24; }
h1 { font-size: 1.4em; margin: 0 0 .3em; }
.runs td, .runs th { padding: 2px 8px; text-align: left; border-bottom: 1px solid #d0d7de; }
.notices li { color: #9a6700; }
#filters { display: flex; flex-wrap: wrap; gap: .4em 1em; margin: 1em 0; padding: .6em; background: #f6f8fa;
           border: 1px solid #d0d7de; border-radius: 6px; position: sticky; top: 0; z-index: 1; }
#filters label { display: flex; flex-direction: column; font-size: 12px; color: #57606a; }
#filters label.check { flex-direction: row; align-items: center; gap: .3em; }
#count { color: #57606a; }
article.probe { border: 1px solid #d0d7de; border-radius: 6px; padding: .6em .8em; margin: .6em 0; }
article.probe[data-change="broken"] { border-left: 5px solid #cf222e; }
article.probe[data-change="fixed"] { border-left: 5px solid #1a7f37; }
article.probe[data-change="answer"] { border-left: 5px solid #bf8700; }
.head { display: flex; flex-wrap: wrap; gap: .3em; align-items: baseline; }
.chip { background: #eaeef2; border-radius: 10px; padding: 0 .5em; font-size: 12px; }
.chip.change { background: #fff8c5; font-weight: 600; }
.ids { color: #57606a; font-size: 12px; margin-left: auto; }
.media { display: flex; flex-wrap: wrap; gap: .4em; align-items: center; margin: .4em 0; }
.media img { height: 96px; border: 1px solid #d0d7de; }
.nomedia { color: #57606a; font-size: 12px; font-style: italic; }
.heard { color: #57606a; font-size: 12px; }
pre { white-space: pre-wrap; word-break: break-word; margin: .2em 0; font: 13px/1.35 ui-monospace, monospace; }
.truth { font-size: 12px; color: #57606a; }
.sides { display: flex; flex-wrap: wrap; gap: .6em; }
.side { flex: 1 1 22em; border-radius: 4px; padding: .3em .6em; background: #f6f8fa; }
.side[data-verdict="correct"] { background: #dafbe1; }
.side[data-verdict="wrong"] { background: #ffebe9; }
.side[data-verdict="error"] { background: #fff8c5; }
.side h3 { font-size: 13px; margin: 0; }
#more { margin: 1em 0; }
"""

# Filters are the page's <select>s and checkbox (data-filter names what each tests); the rows matching all of them
# are shown PAGE at a time (a run has thousands of probes; building every row's DOM at once would stall the tab).
SCRIPT = """
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("view-data").textContent);
  var S = data.strings, F = {}, PAGE = 50;
  data.fields.forEach(function (name, i) { F[name] = i; });
  var SIDE = {};
  data.side_fields.forEach(function (name, i) { SIDE[name] = i; });
  var CHANGE = {fixed: "fixed: wrong \\u2192 right", broken: "broken: right \\u2192 wrong",
                answer: "answer changed", same: "", one: "in one run only"};
  function str(i) { return i === null || i === undefined ? "" : S[i]; }
  function get(row, name) { return row[F[name]]; }
  function strs(row, name) { return get(row, name).map(str); }
  function verdict(side) {
    if (!side) { return "absent"; }
    if (side[SIDE.error] !== null) { return "error"; }
    return side[SIDE.correct] === true ? "correct" : side[SIDE.correct] === false ? "wrong" : "unscored";
  }
  var tests = {
    task: function (row, v) { return str(get(row, "task")) === v; },
    metric: function (row, v) { return strs(row, "metrics").indexOf(v) >= 0; },
    question: function (row, v) { return str(get(row, "question")) === v; },
    kind: function (row, v) { return str(get(row, "kind")) === v; },
    condition: function (row, v) { return str(get(row, "condition")) === v; },
    "class": function (row, v) {
      var role = document.getElementById("f-role").value;
      return ((role === "" || role === "target") && str(get(row, "target")) === v)
        || ((role === "" || role === "visible") && strs(row, "visible").indexOf(v) >= 0)
        || ((role === "" || role === "audible") && strs(row, "audible").indexOf(v) >= 0);
    },
    verdict0: function (row, v) { return verdict(get(row, "sides")[0]) === v; },
    verdict1: function (row, v) { return verdict(get(row, "sides")[1]) === v; },
    change: function (row, v) {
      var c = str(get(row, "change"));
      return v === "any" ? (c === "fixed" || c === "broken" || c === "answer") : c === v;
    },
    media: function (row, v) { return v !== "on" || get(row, "media") >= 0; }
  };
  var controls = Array.prototype.slice.call(document.querySelectorAll("[data-filter]"));
  var list = document.getElementById("rows"), more = document.getElementById("more");
  var count = document.getElementById("count");
  var matching = [], shown = 0;

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null && text !== "") { e.textContent = text; }
    return e;
  }
  function chip(text, cls) { return text ? el("span", "chip" + (cls ? " " + cls : ""), text) : null; }
  function add(parent, child) { if (child) { parent.appendChild(child); } return child; }

  function mediaBlock(row) {
    var m = get(row, "media");
    if (m < 0) { return el("p", "nomedia", "no media: " + str(get(row, "note"))); }
    var media = data.media[m], box = el("div", "media");
    media.frames.forEach(function (uri, k) {
      var img = el("img");
      img.alt = "frame " + (k + 1) + " of " + media.frames.length;
      img.src = uri;
      box.appendChild(img);
    });
    var audio = el("audio");
    audio.controls = true;
    audio.preload = "metadata";
    audio.title = "the audio the model heard: " + str(get(row, "heard"));
    audio.src = media.audio;
    box.appendChild(audio);
    box.appendChild(el("span", "heard", str(get(row, "heard"))));
    if (media.frames.length < media.frame_count) {
      box.appendChild(el("span", "nomedia", media.frames.length + " of " + media.frame_count + " frames shown"));
    }
    return box;
  }

  function sideBlock(side, i) {
    var v = verdict(side), box = el("section", "side");
    box.setAttribute("data-verdict", v);
    var mark = {correct: "\\u2713 correct", wrong: "\\u2717 wrong", error: "error", unscored: "not scored",
                absent: "not in this run"}[v];
    box.appendChild(el("h3", null, (data.runs.length > 1 ? "ABCD"[i] + " \\u00b7 " : "") + data.runs[i] + ": " + mark));
    if (!side) { return box; }
    if (side[SIDE.error] !== null) { box.appendChild(el("pre", "error", str(side[SIDE.error]))); }
    add(box, el("pre", "response", str(side[SIDE.response])));
    box.appendChild(el("div", "truth", "answer: " + (str(side[SIDE.answer]) || "\\u2014") + " \\u00b7 why: "
                       + str(side[SIDE.why])));
    return box;
  }

  function render(row) {
    var art = el("article", "probe"), head = el("div", "head");
    var change = str(get(row, "change"));
    if (change) { art.setAttribute("data-change", change); }
    art.setAttribute("data-probe", get(row, "probe"));
    art.setAttribute("data-task", str(get(row, "task")));  // tasks that ask the same question share its probe id
    [chip(CHANGE[change], "change"), chip(str(get(row, "task"))), chip(str(get(row, "condition"))),
     chip(str(get(row, "setting"))), chip(str(get(row, "kind")) + " \\u00b7 " + str(get(row, "question"))),
     chip(str(get(row, "target")) && "target: " + str(get(row, "target")))]
      .forEach(function (c) { add(head, c); });
    head.appendChild(el("span", "ids", "clip " + str(get(row, "clip")) + " \\u00b7 probe " + get(row, "probe")));
    art.appendChild(head);
    art.appendChild(mediaBlock(row));
    art.appendChild(el("pre", "prompt", str(get(row, "prompt"))));
    var truth = [];
    if (str(get(row, "expected"))) { truth.push("expected: " + str(get(row, "expected"))); }
    truth.push("visible: " + (strs(row, "visible").join(", ") || "\\u2014"));
    truth.push("audible: " + (strs(row, "audible").join(", ") || "\\u2014"));
    art.appendChild(el("div", "truth", truth.join(" \\u00b7 ")));
    var sides = el("div", "sides");
    get(row, "sides").forEach(function (side, i) { sides.appendChild(sideBlock(side, i)); });
    art.appendChild(sides);
    return art;
  }

  function showMore() {
    var end = Math.min(shown + PAGE, matching.length);
    for (; shown < end; shown++) { list.appendChild(render(matching[shown])); }
    count.textContent = "showing " + shown + " of " + matching.length + " matching probes ("
      + data.rows.length + " in all)";
    more.hidden = shown >= matching.length;
  }

  function apply() {
    var active = controls.map(function (c) {
      return [tests[c.getAttribute("data-filter")], c.type === "checkbox" ? (c.checked ? "on" : "") : c.value];
    }).filter(function (t) { return t[1] !== ""; });
    matching = data.rows.filter(function (row) {
      return active.every(function (t) { return t[0](row, t[1]); });
    });
    while (list.firstChild) { list.removeChild(list.firstChild); }
    shown = 0;
    showMore();
  }

  controls.forEach(function (c) { c.addEventListener("change", apply); });
  document.getElementById("f-role").addEventListener("change", apply);
  more.addEventListener("click", showMore);
  apply();
})();
"""


def csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


CSP = (f"default-src 'none'; script-src {csp_hash(SCRIPT)}; style-src {csp_hash(STYLE)}; img-src data:; "
       "media-src data:; base-uri 'none'; form-action 'none'")


def json_for_script(value: Any) -> str:
    """JSON that is inert inside a <script> block: no "<", ">" or "&" survives, so no "</script>" or "<!--" can end
    or bend the block (JSON.parse reads the \\u escapes back as the same characters)."""
    text = json.dumps(value, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


@dataclass(frozen=True)
class RunSummary:
    """A run as the page's header lists it."""

    label: str
    path: str
    data: str
    probes: int
    verdicts: dict[str, int]  # correct / wrong / unscored / error -> count


@dataclass(frozen=True)
class Choices:
    """The values each filter offers, as found in the rows."""

    tasks: Sequence[str]
    metrics: Sequence[str]
    questions: Sequence[str]
    kinds: Sequence[str]
    classes: Sequence[str]
    conditions: Sequence[str]


VERDICTS = (("correct", "correct"), ("wrong", "wrong"), ("unscored", "not scored"), ("error", "error"))
CHANGES = (("any", "answer changed (any)"), ("fixed", "fixed: wrong → right"), ("broken", "broken: right → wrong"),
           ("answer", "answer changed, same verdict"), ("same", "unchanged"), ("one", "in one run only"))


def page(runs: Sequence[RunSummary], choices: Choices, payload: dict[str, Any], notices: Sequence[str]) -> str:
    """The whole page. ``payload`` (strings, fields, rows, media, runs) is what the script reads."""
    title = "acpo-bench samples: " + " vs ".join(r.label for r in runs)
    notes = "".join(f"<li>{esc(n)}</li>" for n in notices)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n"
        "<meta name=\"referrer\" content=\"no-referrer\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>{esc(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        f"<h1>{esc(title)}</h1>\n{_runs_table(runs)}\n"
        + (f"<ul class=\"notices\">{notes}</ul>\n" if notes else "")
        + _filters(runs, choices)
        + "<noscript><p>The rows are drawn by this page's script: allow JavaScript for this file.</p></noscript>\n"
        "<p id=\"count\"></p>\n<div id=\"rows\"></div>\n<button id=\"more\" type=\"button\" hidden>show more"
        "</button>\n"
        f"<script type=\"application/json\" id=\"view-data\">{json_for_script(payload)}</script>\n"
        f"<script>{SCRIPT}</script>\n</body>\n</html>\n")


def _runs_table(runs: Sequence[RunSummary]) -> str:
    letters = "ABCD" if len(runs) > 1 else " "
    rows = "".join(
        f"<tr><td>{esc(letters[i].strip())}</td><td>{esc(r.label)}</td><td><code>{esc(r.path)}</code></td>"
        f"<td>{esc(r.data)}</td><td>{r.probes}</td>"
        + "".join(f"<td>{r.verdicts.get(key, 0)}</td>" for key, _ in VERDICTS) + "</tr>"
        for i, r in enumerate(runs))
    heads = "".join(f"<th>{esc(h)}</th>" for h in ("", "run", "results", "data", "probes",
                                                    *(label for _, label in VERDICTS)))
    return f"<table class=\"runs\"><thead><tr>{heads}</tr></thead><tbody>{rows}</tbody></table>"


def _select(name: str, label: str, options: Sequence[tuple[str, str]], element_id: str | None = None,
            any_label: str = "any", filtered: bool = True) -> str:
    opts = f"<option value=\"\">{esc(any_label)}</option>" + "".join(
        f"<option value=\"{esc(value)}\">{esc(text)}</option>" for value, text in options)
    attribute = f" data-filter=\"{name}\"" if filtered else ""
    return (f"<label>{esc(label)}<select id=\"{element_id or 'f-' + name}\"{attribute}>{opts}</select>"
            "</label>")


def _filters(runs: Sequence[RunSummary], choices: Choices) -> str:
    same = lambda values: [(v, v) for v in values]
    parts = [_select("task", "task", same(choices.tasks)),
             _select("metric", "metric", same(choices.metrics)),
             _select("question", "question", same(choices.questions)),
             _select("kind", "kind", same(choices.kinds)),
             _select("condition", "condition (audio)", same(choices.conditions)),
             _select("class", "class", same(choices.classes)),
             _select("role", "class as", [("target", "target"), ("visible", "visible"), ("audible", "audible")],
                     element_id="f-role", any_label="target, visible or audible", filtered=False)]
    for i, _ in enumerate(runs):
        parts.append(_select(f"verdict{i}", f"{'AB'[i]}: verdict" if len(runs) > 1 else "verdict", VERDICTS))
    if len(runs) > 1:
        parts.append(_select("change", "A → B", CHANGES))
    parts.append("<label class=\"check\"><input type=\"checkbox\" id=\"f-media\" data-filter=\"media\">"
                 "with media only</label>")
    return "<form id=\"filters\">" + "".join(parts) + "</form>\n"
