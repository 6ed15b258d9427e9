#!/usr/bin/env python3
"""tools/test-summary.py names each skipped and failed test with its
reason and counts them apart: run on a made-up meson test log."""
import json
import os
import subprocess
import sys
import tempfile

summary = sys.argv[1]
entries = [
    {"name": "vmstream:unit / ok-one", "result": "OK", "stdout": "fine\n"},
    {"name": "vmstream:vm / needs-image", "result": "SKIP",
     "stdout": "booting\nSKIP: no guest image (the vm suite builds it)\n"},
    {"name": "vmstream:rtsp / needs-pipewire", "result": "SKIP",
     "stdout": "skip: wireplumber is not installed here\nbye\n"},
    {"name": "vmstream:unit / silent-skip", "result": "SKIP", "stdout": ""},
    {"name": "vmstream:unit / broken", "result": "FAIL",
     "stdout": "ok 1\nnot ok 2 - the answer is not 401\n"},
]
with tempfile.TemporaryDirectory() as d:
    os.makedirs(os.path.join(d, "meson-logs"))
    with open(os.path.join(d, "meson-logs", "testlog.json"), "w") as f:
        for e in entries:
            f.write(json.dumps(e) + "\n")
    out = subprocess.run([sys.executable, summary, d], capture_output=True,
                         text=True, check=True).stdout
want = [
    "skip: %s: vmstream:vm / needs-image: SKIP: no guest image (the vm suite builds it)" % d,
    "skip: %s: vmstream:rtsp / needs-pipewire: skip: wireplumber is not installed here" % d,
    "skip: %s: vmstream:unit / silent-skip: (no output)" % d,
    "fail: %s: vmstream:unit / broken: not ok 2 - the answer is not 401" % d,
    "tests: 1 passed, 1 failed, 3 skipped",
]
lines = out.splitlines()
bad = [w for w in want if w not in lines]
if bad:
    print("test-summary.py printed:\n" + out + "\nmissing:\n" + "\n".join(bad))
    sys.exit(1)
print("ok: every skipped and failed test is named with its reason")
