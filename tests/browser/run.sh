#!/usr/bin/env bash
# Runs the dashboard's browser tests: installs playwright-core (npm) into the build tree on first use,
# then `node --test` drives Debian's Chromium against a real `secplat serve`.
# Environment: SECPLAT_BINARY, SECPLAT_BROWSER_NPM_PREFIX, SECPLAT_SCREENSHOT_DIR (set by CTest).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${SECPLAT_BINARY:?SECPLAT_BINARY must name the secplat binary}"
: "${SECPLAT_BROWSER_NPM_PREFIX:?SECPLAT_BROWSER_NPM_PREFIX must name the npm prefix for playwright-core}"
: "${SECPLAT_SCREENSHOT_DIR:?SECPLAT_SCREENSHOT_DIR must name the screenshot directory}"
chromium=${SECPLAT_CHROMIUM:-/usr/bin/chromium}
playwright_version=1.65.1

command -v node >/dev/null || { echo "FAIL: node not found (install nodejs: scripts/install-deps.sh)" >&2; exit 1; }
command -v npm >/dev/null || { echo "FAIL: npm not found (install npm: scripts/install-deps.sh)" >&2; exit 1; }
[[ -x "$chromium" ]] || { echo "FAIL: $chromium not found (install chromium: scripts/install-deps.sh)" >&2; exit 1; }
major=$(node -p 'process.versions.node.split(".")[0]')
if (( major < 18 )); then echo "FAIL: node $(node --version) is too old (need >= 18 for node:test and fetch)" >&2; exit 1; fi

prefix=$SECPLAT_BROWSER_NPM_PREFIX
pkg="$prefix/node_modules/playwright-core/package.json"
installed() { [[ -f "$pkg" ]] && [[ $(node -p "require('$pkg').version") == "$playwright_version" ]]; }
if ! installed; then
  mkdir -p "$prefix"
  # A lock, so parallel first runs do not install over each other.
  (
    flock 9
    installed || npm install --prefix "$prefix" --no-save --no-audit --no-fund --ignore-scripts \
      "playwright-core@$playwright_version" >"$prefix/install.log" 2>&1 \
      || { echo "FAIL: npm install playwright-core@$playwright_version:" >&2; cat "$prefix/install.log" >&2; exit 1; }
  ) 9>"$prefix.lock"
fi

rm -rf "$SECPLAT_SCREENSHOT_DIR"
mkdir -p "$SECPLAT_SCREENSHOT_DIR"
# One file, its tests in order (they share one server and build on each other's data).
exec node --test --test-reporter=spec "$here/dashboard.test.mjs"
