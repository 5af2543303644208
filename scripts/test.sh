#!/usr/bin/env bash
# Every test: installs what the tests need from the Debian archive if missing (chromium and
# fonts-noto-cjk, for the report's headless-browser test), then runs the Rust test suite.
# The README's test command; .ci/run runs it.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v chromium > /dev/null 2>&1 || missing+=(chromium)
command -v fc-list > /dev/null 2>&1 && fc-list :lang=zh family | grep -q "Noto Sans CJK" || missing+=(fonts-noto-cjk fontconfig)
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]} from the Debian archive" >&2
    as_root=()
    [ "$(id -u)" -eq 0 ] || as_root=(sudo)
    "${as_root[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
fi

cargo test --locked
