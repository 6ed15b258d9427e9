#!/bin/sh
# Runs one browser test file with node, or skips (exit 77) when headless
# Chromium or the npm packages are not installed.
# Usage: run-browser-test.sh <test.mjs>
here=$(dirname "$0")
chromium=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$chromium" ]; then
  echo "SKIP: $chromium not found (apt-get install chromium)"
  exit 77
fi
if [ ! -d "$here/node_modules/playwright-core" ]; then
  echo "SKIP: $here/node_modules/playwright-core missing (run npm ci in tests/browser)"
  exit 77
fi
if ! command -v node >/dev/null 2>&1; then
  echo "SKIP: node not found (apt-get install nodejs)"
  exit 77
fi
cd "$here" && exec node "$1"
