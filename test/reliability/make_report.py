#!/usr/bin/env python3
"""Generates docs/RELIABILITY.md from test results, never by hand.

Runs the reliability gtest binaries of a build (unit and, when built,
integration) with --gtest_output=xml, reads each test's recorded "input" and
"outcome" properties (what was tried, what actually happened), and adds the
libFuzzer runs found in the fuzz build (scripts/fuzz.sh logs), the crash
reproducers kept in the corpus, and the result rows the e2e fault scenarios
(test/e2e/fault_*_test.sh) and the sanitized e2e run wrote into
build/fault-results/*.tsv (fault, what happened, pass|FAIL, seconds, test).

  test/reliability/make_report.py [--build-dir build-asan] [--fuzz-dir build-fuzz]
                                  [--fault-dir build/fault-results] [--out docs/RELIABILITY.md]
"""
import argparse
import datetime
import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FUZZ_TARGETS = ["ip_prefix", "netlink_dump", "netlink_overlay", "node_json", "watch_framer", "kubeconfig"]
FUZZ_WHAT = {
    "ip_prefix": "IP/prefix text and raw bytes; parse -> to_string -> parse round trip",
    "netlink_dump": "rtnetlink reply datagrams; parsed routes re-encoded and parsed back",
    "netlink_overlay": "VXLAN link details and neighbour/FDB messages; refusals carry a reason, valid ones round-trip",
    "node_json": "Node JSON as node, watch event and LIST page; NodeInfo re-written and parsed back",
    "watch_framer": "watch stream with fuzzer-chosen chunk boundaries; chunked == one read",
    "kubeconfig": "kubeconfig YAML from a string; only ConfigError escapes, token never in describe()",
}


def cell(text):
    text = " ".join(str(text).split())
    if len(text) > 300:
        text = text[:297] + "..."
    return text.replace("|", "\\|")


def run_gtest(binary, xml_path):
    if not os.path.exists(binary):
        return None
    subprocess.run([binary, f"--gtest_output=xml:{xml_path}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   check=False, timeout=900)
    return xml_path if os.path.exists(xml_path) else None


def gtest_rows(xml_path, binary_name):
    rows = []
    for case in ET.parse(xml_path).getroot().iter("testcase"):
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        # gtest 1.12 may also put recorded properties as attributes.
        for key in ("input", "outcome"):
            if key not in props and case.get(key) is not None:
                props[key] = case.get(key)
        if "input" not in props:
            continue
        failed = case.find("failure") is not None
        skipped = case.get("result") == "skipped" or case.find("skipped") is not None
        result = "FAIL" if failed else ("skipped" if skipped else "pass")
        test = f"{binary_name}: {case.get('classname')}.{case.get('name')}"
        rows.append((props["input"], props.get("outcome", ""), test, result))
    return rows


def fuzz_rows(fuzz_dir):
    rows = []
    for target in FUZZ_TARGETS:
        log = os.path.join(fuzz_dir, "fuzz-artifacts", f"{target}.log")
        if not os.path.exists(log):
            continue
        text = open(log, errors="replace").read()
        runs = re.findall(r"^Done (\d+) runs in (\d+) second", text, re.M)
        cov = re.findall(r"DONE\s+cov: (\d+) ft: (\d+) corp: (\d+)", text)
        artifacts_dir = os.path.join(fuzz_dir, "fuzz-artifacts", target)
        crashes = [f for f in os.listdir(artifacts_dir)] if os.path.isdir(artifacts_dir) else []
        bad = re.search(r"(fuzz property failed.*|SUMMARY: .*)", text)
        if runs:
            outcome = f"{int(runs[-1][0]):,} inputs in {runs[-1][1]} s"
            if cov:
                outcome += f", coverage {cov[-1][0]} edges / {cov[-1][1]} features, corpus {cov[-1][2]}"
            outcome += ", no crash, every property held" if not bad else ""
            result = "pass" if not bad else "FAIL"
        else:
            outcome = bad.group(1) if bad else "did not finish"
            result = "FAIL"
        if bad:
            outcome += f"; {bad.group(1)} ({len(crashes)} input(s) kept)"
        rows.append((f"libFuzzer: {FUZZ_WHAT[target]}", outcome, f"test/fuzz/{target}_fuzz.cpp (scripts/fuzz.sh)",
                     result))
    return rows


def fault_rows(fault_dir):
    rows = []
    if not os.path.isdir(fault_dir):
        return rows
    for name in sorted(os.listdir(fault_dir)):
        if not name.endswith(".tsv"):
            continue
        for line in open(os.path.join(fault_dir, name), errors="replace"):
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 5:
                continue
            fault, outcome, result, seconds, test = parts
            rows.append((f"fault (netns e2e): {fault}", f"{outcome} [{seconds} s]", test,
                         "pass" if result == "pass" else "FAIL"))
    return rows


def fuzz_exec_table(fuzz_dir):
    """Executions per fuzzer of the last scripts/fuzz.sh run (e.g. CI's smoke run)."""
    lines = []
    for target in FUZZ_TARGETS:
        log = os.path.join(fuzz_dir, "fuzz-artifacts", f"{target}.log")
        if not os.path.exists(log):
            continue
        text = open(log, errors="replace").read()
        runs = re.findall(r"^Done (\d+) runs in (\d+) second", text, re.M)
        if not runs:
            continue
        execs, secs = int(runs[-1][0]), int(runs[-1][1])
        per_s = f"{execs // secs:,}" if secs else "-"
        when = datetime.datetime.fromtimestamp(os.path.getmtime(log), datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")
        lines.append(f"| {target}_fuzzer | {secs} | {execs:,} | {per_s} | {when} UTC |")
    if not lines:
        return []
    return ["## Executions per fuzzer (last `scripts/fuzz.sh` run)\n",
            "| Fuzzer | Seconds | Executions | Executions/s | Run at |", "|---|---|---|---|---|"] + lines + [""]


def replay_rows(build_dir):
    rows = []
    for target in FUZZ_TARGETS:
        binary = os.path.join(build_dir, "bin", f"{target}_replay")
        corpus = os.path.join(ROOT, "test", "fuzz", "corpus", target)
        if not os.path.exists(binary):
            continue
        proc = subprocess.run([binary, corpus], capture_output=True, text=True, check=False, timeout=600)
        files = sorted(os.listdir(corpus))
        regressions = [f for f in files if f.startswith("regression-")]
        outcome = (proc.stdout.strip() or proc.stderr.strip()).splitlines()[-1:] or [""]
        what = f"checked-in corpus of {target} ({len(files)} files"
        what += f", crash reproducers: {', '.join(regressions)})" if regressions else ")"
        rows.append((what, outcome[0], f"ctest fuzz_corpus_{target}", "pass" if proc.returncode == 0 else "FAIL"))
    return rows


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build-dir", default="build-asan")
    parser.add_argument("--fuzz-dir", default="build-fuzz")
    parser.add_argument("--fault-dir", default=os.path.join("build", "fault-results"))
    parser.add_argument("--out", default=os.path.join(ROOT, "docs", "RELIABILITY.md"))
    args = parser.parse_args()
    build_dir = os.path.join(ROOT, args.build_dir) if not os.path.isabs(args.build_dir) else args.build_dir
    fuzz_dir = os.path.join(ROOT, args.fuzz_dir) if not os.path.isabs(args.fuzz_dir) else args.fuzz_dir
    fault_dir = os.path.join(ROOT, args.fault_dir) if not os.path.isabs(args.fault_dir) else args.fault_dir

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("reliability_unit_tests", "reliability_integration_tests"):
            xml = run_gtest(os.path.join(build_dir, "bin", name), os.path.join(tmp, name + ".xml"))
            if xml:
                rows += gtest_rows(xml, name)
            else:
                print(f"make_report: {name} not built in {build_dir}; its rows are missing", file=sys.stderr)
    rows += replay_rows(build_dir)
    rows += fuzz_rows(fuzz_dir)
    faults = fault_rows(fault_dir)
    if not faults:
        print(f"make_report: no fault results in {fault_dir} (run the fault_* e2e scenarios as root)", file=sys.stderr)
    rows += faults
    if not rows:
        print("make_report: no results found; build the tests first", file=sys.stderr)
        return 1

    cache = os.path.join(build_dir, "CMakeCache.txt")
    cache_text = open(cache).read() if os.path.exists(cache) else ""
    sanitized = "KHG_SANITIZE:BOOL=ON" in cache_text
    failed = sum(1 for r in rows if r[3] == "FAIL")
    out = []
    out.append("# Reliability: faults and bad input tried\n")
    out.append("Generated by `test/reliability/make_report.py` from test results "
               f"({datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}; "
               f"build `{args.build_dir}`{' with ASan+UBSan' if sanitized else ''}, fuzz build `{args.fuzz_dir}`, "
               f"fault results `{args.fault_dir}`). "
               "Do not edit by hand: rerun it.\n")
    out.append("\"What happened\" is what the code under test actually did in that run (recorded by the test), "
               "not what it was expected to do; the Result column says whether it matched the expectation.\n")
    out.append(f"{len(rows)} rows, {len(rows) - failed} pass, {failed} fail.\n")
    out.append("| # | Fault / bad input | What happened | Test | Result |")
    out.append("|---|---|---|---|---|")
    for i, (what, outcome, test, result) in enumerate(rows, 1):
        out.append(f"| {i} | {cell(what)} | {cell(outcome)} | {cell(test)} | {result} |")
    out.append("")
    out += fuzz_exec_table(fuzz_dir)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        f.write("\n".join(out))
    print(f"make_report: wrote {args.out}: {len(rows)} rows, {failed} failing")
    return 0


if __name__ == "__main__":
    sys.exit(main())
