#!/usr/bin/env python3
"""Prints one closing line for all meson test runs given as build dirs:
'tests: N passed, N failed, N skipped', after one line for each test that
failed or skipped, with the reason the test printed."""
import json
import sys


def reason(entry):
    """The test's own words: its last line that says 'skip', else its last
    line of output."""
    lines = [l.strip() for l in (entry.get("stdout") or "").splitlines()
             if l.strip()]
    for l in reversed(lines):
        if "skip" in l.lower():
            return l[:200]
    return lines[-1][:200] if lines else "(no output)"


passed = failed = skipped = 0
for build in sys.argv[1:]:
    try:
        with open(f"{build}/meson-logs/testlog.json") as f:
            for line in f:
                entry = json.loads(line)
                r = entry.get("result")
                if r in ("OK", "EXPECTEDFAIL"):
                    passed += 1
                    continue
                if r == "SKIP":
                    skipped += 1
                else:
                    failed += 1
                print(f"{r.lower()}: {build}: {entry.get('name')}: "
                      f"{reason(entry)}")
    except FileNotFoundError:
        failed += 1
        print(f"{build}: no test log", file=sys.stderr)
print(f"tests: {passed} passed, {failed} failed, {skipped} skipped")
