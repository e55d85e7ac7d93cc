"""Escaping for every output format. Results files are untrusted input: a model name, adapter path or commit
string is escaped for the format it lands in, so it renders as the text it is."""

from __future__ import annotations

import html
import re

_LATEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
          "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
          # the symbols this package itself writes, so a pdflatex without Unicode set-up compiles the table
          "Δ": r"$\Delta$", "↑": r"$\uparrow$", "↓": r"$\downarrow$", "−": "-", "†": r"$^\dagger$"}
_LATEX_RE = re.compile("|".join(re.escape(c) for c in _LATEX))
# GitHub markdown: characters that could open emphasis, code, links, tables or HTML
_MD_RE = re.compile(r"([\\`*_{}\[\]|~])")


def html_escape(text: object) -> str:
    return html.escape(str(text), quote=True)


def latex_escape(text: object) -> str:
    # control characters and newlines would break a table row; a space reads the same
    cleaned = re.sub(r"[\x00-\x1f\x7f]", " ", str(text))
    return _LATEX_RE.sub(lambda m: _LATEX[m.group()], cleaned)


def md_escape(text: object) -> str:
    """Text for a GitHub markdown table cell: markdown punctuation backslash-escaped, HTML as entities."""
    cleaned = re.sub(r"[\x00-\x1f\x7f]", " ", str(text))
    return _MD_RE.sub(r"\\\1", html.escape(cleaned, quote=False))


def csv_safe(text: object) -> str:
    """A text cell a spreadsheet will not run as a formula (OWASP: prefix = + - @ and tab/CR with a quote)."""
    text = str(text)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
