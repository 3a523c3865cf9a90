#!/usr/bin/python3
"""Runs chatd's test suites one after another and prints one line per suite, then a last
line totalling them all: "N passed, N failed" (", N skipped" when any were skipped).

    tools/run-tests.py SUITE...      (make test and make check call it)

Each suite's full output goes to build/test-logs/SUITE.log; a failing suite also gets its
failures (or the end of its log) printed under its line. The counts are read from each
tool's own summary (cmocka, pytest, node --test's TAP, test_install.sh's last line,
bench-smoke's verdict), never made up: a suite that fails without printing a summary (a
build error, a crash) counts as one failure, and its line says so. Exit status 1 when
anything failed.
"""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LOG_DIR = REPO / "build" / "test-logs"
MAKE = [os.environ.get("MAKE", "make"), "--no-print-directory"]
TAIL_LINES = 40

# name: (command run at the repository's root, parser of its output)
SUITES = {
    "unit": (MAKE + ["unit"], "cmocka"),
    "integration": (MAKE + ["integration"], "pytest"),
    "integration-san": (MAKE + ["integration-san"], "pytest"),
    "node-client": (MAKE + ["node-client"], "tap"),
    "browser": (MAKE + ["browser"], "tap"),
    "bench-smoke": (MAKE + ["bench-smoke"], "smoke"),
    "install": (["tests/install/test_install.sh"], "install"),
}


class Counts:
    def __init__(self):
        self.passed = self.failed = self.skipped = 0
        self.note = ""  # said after the counts, e.g. "no summary: crashed?"

    def add(self, other):
        self.passed += other.passed
        self.failed += other.failed
        self.skipped += other.skipped

    def __str__(self):
        s = f"{self.passed} passed, {self.failed} failed"
        return s + (f", {self.skipped} skipped" if self.skipped else "")


def parse_cmocka(log, status):
    """make unit prints "== build/tests/test_x" before each program; cmocka ends each with
    "[  PASSED  ] N test(s)." and, when some failed, "[  FAILED  ] N test(s), listed below:".
    A program that ends without either (a sanitizer abort) counts as one failure."""
    c = Counts()
    programs = re.split(r"^== (\S+)$", log, flags=re.M)
    # programs: [before, name1, body1, name2, body2, ...]
    crashed = []
    for name, body in zip(programs[1::2], programs[2::2]):
        passed = re.search(r"^\[  PASSED  \] (\d+) test", body, re.M)
        failed = re.search(r"^\[  FAILED  \] (\d+) test", body, re.M)
        skipped = re.search(r"^\[  SKIPPED \] (\d+) test", body, re.M)
        if not passed and not failed:
            crashed.append(Path(name).name)
            c.failed += 1
            continue
        c.passed += int(passed.group(1)) if passed else 0
        c.failed += int(failed.group(1)) if failed else 0
        c.skipped += int(skipped.group(1)) if skipped else 0
    if crashed:
        c.note = "no cmocka summary from " + ", ".join(crashed)
    return c


PYTEST_WORDS = {"passed": "passed", "failed": "failed", "error": "failed", "errors": "failed",
                "skipped": "skipped", "xfailed": "passed", "xpassed": "failed"}


def parse_pytest(log, status):
    """pytest -q ends with "12 passed, 1 failed, 2 skipped in 3.45s"."""
    c = Counts()
    lines = [ln for ln in log.splitlines() if re.search(r"\bin [\d.]+s\b", ln)]
    if not lines:
        return None
    for n, word in re.findall(r"(\d+) (\w+)", lines[-1]):
        field = PYTEST_WORDS.get(word)
        if field:
            setattr(c, field, getattr(c, field) + int(n))
    return c


def parse_tap(log, status):
    """node --test --test-reporter=tap ends with "# pass N", "# fail N", "# cancelled N",
    "# skipped N" and "# todo N"; cancelled tests count as failed, todo ones as skipped."""
    found = dict(re.findall(r"^# (pass|fail|cancelled|skipped|todo) (\d+)$", log, re.M))
    if "pass" not in found or "fail" not in found:
        return None
    c = Counts()
    c.passed = int(found["pass"])
    c.failed = int(found["fail"]) + int(found.get("cancelled", 0))
    c.skipped = int(found.get("skipped", 0)) + int(found.get("todo", 0))
    return c


def parse_install(log, status):
    """test_install.sh ends with "N passed, M failed" and says "skip ..." for each check it
    cannot make on this machine."""
    m = re.findall(r"^(\d+) passed, (\d+) failed$", log, re.M)
    if not m:
        return None
    c = Counts()
    c.passed, c.failed = int(m[-1][0]), int(m[-1][1])
    c.skipped = len(re.findall(r"^skip ", log, re.M))
    return c


def parse_smoke(log, status):
    """bench-smoke is one check: every delivery arrived ("bench-smoke: OK")."""
    c = Counts()
    if status == 0 and re.search(r"^bench-smoke: OK$", log, re.M):
        c.passed = 1
        m = re.search(r"^RESULT .*", log, re.M)
        rate = re.search(r"deliveries_per_s=(\S+)", m.group(0)) if m else None
        if rate:
            c.note = f"{rate.group(1)} deliveries/s"
    else:
        c.failed = 1
    return c


PARSERS = {"cmocka": parse_cmocka, "pytest": parse_pytest, "tap": parse_tap,
           "install": parse_install, "smoke": parse_smoke}


def failure_details(log, parser):
    """The lines worth reading first: pytest's short summary, TAP's "not ok" blocks, or
    the end of the log."""
    lines = log.splitlines()
    if parser == "pytest":
        for i, ln in enumerate(lines):
            if "short test summary info" in ln:
                return lines[i + 1:i + 1 + TAIL_LINES]
    if parser == "tap":
        out = []
        for i, ln in enumerate(lines):
            if re.match(r"\s*not ok ", ln):
                out.extend(lines[i:i + 12])
        if out:
            return out[:TAIL_LINES * 2]
    return lines[-TAIL_LINES:]


def run_suite(name):
    command, parser = SUITES[name]
    log_path = LOG_DIR / f"{name}.log"
    if sys.stdout.isatty():  # what runs now, overwritten by the suite's line
        print(f"...  {name:<16} running", end="\r", flush=True)
    start = time.monotonic()
    with open(log_path, "w", encoding="utf-8") as log_file:
        status = subprocess.call(command, cwd=REPO, stdin=subprocess.DEVNULL,
                                 stdout=log_file, stderr=subprocess.STDOUT)
    seconds = time.monotonic() - start
    log = log_path.read_text(encoding="utf-8", errors="replace")
    counts = PARSERS[parser](log, status)
    if counts is None:
        counts = Counts()
        counts.failed = 1
        counts.note = f"exit status {status} and no test summary"
    elif status != 0 and counts.failed == 0:
        # The tool said all was well but the command failed (a leak found at exit, say).
        counts.failed = 1
        counts.note = (counts.note + "; " if counts.note else "") + f"exit status {status}"
    ok = counts.failed == 0
    note = f" ({counts.note})" if counts.note else ""
    line = f"{'ok  ' if ok else 'FAIL'} {name:<16} {counts}{note}  [{seconds:.1f} s]"
    print(f"{line:<40}", flush=True)
    if not ok:
        for ln in failure_details(log, parser):
            print("     | " + ln)
        print(f"     full log: {log_path.relative_to(REPO)}", flush=True)
    return counts


def main(argv):
    names = argv[1:]
    unknown = [n for n in names if n not in SUITES]
    if not names or unknown:
        print(f"usage: {argv[0]} SUITE... (suites: {', '.join(SUITES)})", file=sys.stderr)
        return 2
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    total = Counts()
    for name in names:
        total.add(run_suite(name))
    print(total)
    return 1 if total.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
