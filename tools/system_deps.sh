#!/usr/bin/env bash
# System packages the tests need, installed with apt-get where apt exists (a no-op when all are present):
#   tuxpaint-stamps-default  the real-media world's pictures and recordings (read from the installation, GPL)
#   libcairo2                rasterises the world's three SVG-only stamps (cairosvg)
#   ffmpeg                   Qwen's own inference path reads audio through it (qwen-omni-utils -> audioread)
#   chromium, chromium-driver  the HTML leaderboard and the sample viewer in a headless browser
#   texlive-latex-recommended  pdflatex and booktabs: the LaTeX leaderboard table is compiled in a test
# Elsewhere it names what is missing and fails, so no test is skipped for want of a package.
set -euo pipefail
missing=()
[ -d "${ACPO_BENCH_STAMPS:-/usr/share/tuxpaint/stamps}/animals" ] || missing+=(tuxpaint-stamps-default)
{ ldconfig -p 2>/dev/null | grep -q 'libcairo\.so\.2'; } || missing+=(libcairo2)
command -v ffmpeg >/dev/null || missing+=(ffmpeg)
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
{ command -v pdflatex >/dev/null && kpsewhich booktabs.sty >/dev/null; } || missing+=(texlive-latex-recommended)
[ ${#missing[@]} -eq 0 ] && exit 0
if command -v apt-get >/dev/null; then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    echo "installing system packages: ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
    echo "missing system packages: ${missing[*]} (no apt-get here: install them with your package manager;" \
         "Tux Paint's stamps can also live anywhere named by ACPO_BENCH_STAMPS=DIR)" >&2
    exit 1
fi
