#!/usr/bin/env python3
"""Prints one closing line for all meson test runs given as build dirs:
'tests: N passed, N failed, N skipped'."""
import json
import sys

passed = failed = skipped = 0
for build in sys.argv[1:]:
    try:
        with open(f"{build}/meson-logs/testlog.json") as f:
            for line in f:
                r = json.loads(line).get("result")
                if r in ("OK", "EXPECTEDFAIL"):
                    passed += 1
                elif r == "SKIP":
                    skipped += 1
                else:
                    failed += 1
    except FileNotFoundError:
        failed += 1
        print(f"{build}: no test log", file=sys.stderr)
print(f"tests: {passed} passed, {failed} failed, {skipped} skipped")
