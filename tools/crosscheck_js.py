#!/usr/bin/env python3
"""Cross-checks the shuangsui binary against the browser verifier
(static/verify/shuangsui-verify.js), run under node by tools/jsverify.js.

As tools/crosscheck.py does for tools/verify.py: random small pools from
`shuangsui gen-data`, random plans that fit them (crosscheck.random_plan:
quota modes, team sizes, caps, recusal flags, filters, history, joint
plans), drawn by the binary with hex and ceremony seeds.  Each bundle must
be `verified` by the JavaScript verifier, and its public/ copy too; the
public copy with no pool files, or without conflicts.csv, must be
`partially verified`.  Every third bundle gets substitutions made by the
binary, which must be replayed.  Once per pool, tampered copies (an edited
row, a changed seed, an edited history, a changed pool file, an edited
public row checked without any pool file) must be NOT VERIFIED, the pool
re-encoded as GB18030 must still verify, and one bundle is checked with the
plain-JavaScript SHA-256 that browsers use without SubtleCrypto.  With
--shipped, the plans of config/plans/ are drawn on data/ and checked the
same way.

Usage:
    python3 tools/crosscheck_js.py --shuangsui target/release/shuangsui [--seeds 24] [--shipped]

Prints every failure, then a last line "N passed, M failed"; exit 1 if M > 0.
Standard library and node only.
"""

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import crosscheck as xc  # noqa: E402
import verify  # noqa: E402

ROOT = os.path.dirname(HERE)
JSVERIFY = os.path.join(HERE, "jsverify.js")
# The smaller pools of crosscheck.py: node redoes each draw from the files.
POOLS = xc.POOLS[:3]
SHIPPED_SEED = "ceremony:2026-1128-0930-1415-9265"


def run_js(bundle, data=None, *flags):
    """tools/jsverify.js on a bundle; returns (exit code, printed text)."""
    command = ["node", JSVERIFY, bundle] + (["--data", data] if data else []) + list(flags)
    run = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return run.returncode, run.stdout


def expect(tally, verdict, what, bundle, data=None, *flags, contains=None):
    code, out = run_js(bundle, data, *flags)
    want_code = {"verified": 0, "partially verified": 0, "NOT VERIFIED": 1}[verdict]
    last = xc.last_line(out)
    ok = code == want_code and last.startswith(verdict + ":") and (contains is None or contains in out)
    return tally.check(ok, "%s must be %s (exit %d)" % (what, verdict, want_code), out)


def tamper_checks(tally, rng, bundle, pool_dir, pool, work):
    """Copies of `bundle` (or of its pool) damaged in several ways."""
    other_seed, bump_history = xc.another_seed(rng), xc.bump_history

    cases = [
        ("edited assignments row (team order)", "assignments.csv", xc.swap_team, ()),
        ("edited public assignments row (team order)", "public/assignments.csv", xc.swap_team, ()),
        ("changed seed in manifest", "manifest.json", other_seed, ()),
        ("edited history.csv", "history.csv", bump_history, ()),
        ("edited assignments row, checked without conflicts.csv", "assignments.csv", xc.swap_team, ("--no-conflicts",)),
    ]
    for what, relpath, change, flags in cases:
        copy = os.path.join(work, "tampered-%d" % rng.getrandbits(32))
        shutil.copytree(bundle, copy)
        if xc.rewrite(os.path.join(copy, relpath), change):
            expect(tally, "NOT VERIFIED", "%s: %s" % (what, bundle), copy, pool_dir, *flags)
            if relpath.startswith("public/"):
                # What a visitor without any pool file checks must catch it too.
                expect(tally, "NOT VERIFIED", "%s, public copy without the pool: %s" % (what, bundle),
                       os.path.join(copy, "public"))
        shutil.rmtree(copy)

    target = rng.choice(pool.records["targets"])
    officer = rng.choice(pool.records["inspectors"])
    edits = [
        ("targets.csv", target[1], target[1] + "分店"),
        ("inspectors.csv", "," + officer[4] + ",", "," + officer[4] + "村,"),
    ]
    for name, old, new in edits:
        changed = os.path.join(work, "pool-changed")
        shutil.rmtree(changed, ignore_errors=True)
        shutil.copytree(pool_dir, changed)
        if xc.rewrite(os.path.join(changed, name), lambda d: d.replace(old.encode(), new.encode(), 1)):
            code, out = run_js(bundle, changed)
            tally.check(code == 1 and name in xc.last_line(out), "changed %s must be NOT VERIFIED naming it" % name, out)
        shutil.rmtree(changed)


def substitution_checks(tally, rng, binary, bundle, pool_dir):
    """§12: substitutions made by the binary must be replayed."""
    import csv
    with open(os.path.join(bundle, "assignments.csv"), encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))[1:]
    made = 0
    for _ in range(rng.randint(1, 3) if rows else 0):
        row = rng.choice(rows)
        team = row[6].split(";")
        log = verify.read_substitutions(bundle)
        for entry in (log or {}).get("substitutions", []):
            if entry["credit_code"] == row[1]:
                team[team.index(entry["out"])] = entry["in"]
        run = subprocess.run([binary, "substitute", bundle, "--data", pool_dir, "--target", row[1],
                              "--officer", rng.choice(team), "--reason", rng.choice(verify.SUBSTITUTION_REASONS),
                              "--note", "crosscheck"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        made += run.returncode == 0
    if made:
        expect(tally, "verified", "%s after %d substitutions" % (bundle, made), bundle, pool_dir,
               contains="substitutions re-drawn")
        expect(tally, "partially verified", "%s/public after substitutions, without the pool" % bundle,
               os.path.join(bundle, "public"), contains="substitutions replayed")


def reencoded_checks(tally, rng, bundle, pool_dir, work):
    copy = os.path.join(work, "pool-reencoded")
    shutil.rmtree(copy, ignore_errors=True)
    xc.reencode_pool(pool_dir, copy, rng)
    for encoding in ("detect", "gbk"):
        expect(tally, "verified", "%s against its pool re-encoded as GB18030 (--encoding %s)" % (bundle, encoding),
               bundle, copy, "--encoding", encoding)
    shutil.rmtree(copy)


def shipped_checks(tally, binary, work):
    """The plans of config/plans/ on the bundled data/."""
    data = os.path.join(ROOT, "data")
    for plan in sorted(os.listdir(os.path.join(ROOT, "config", "plans"))):
        if not plan.endswith(".toml"):
            continue
        run = subprocess.run([binary, "draw", "--plan", os.path.join(ROOT, "config", "plans", plan), "--seed",
                              SHIPPED_SEED, "--data", data, "--out", os.path.join(work, "shipped")],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if not tally.check(run.returncode == 0, "draw %s" % plan, run.stderr):
            continue
        bundle = run.stdout.strip().splitlines()[-1]
        tally.draws += 1
        expect(tally, "verified", bundle, bundle, data)
        expect(tally, "partially verified", bundle + "/public without the pool", os.path.join(bundle, "public"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shuangsui", required=True, help="path to the shuangsui binary")
    parser.add_argument("--seeds", type=int, default=24, help="number of random draws (default 24)")
    parser.add_argument("--rng", type=int, default=2026, help="seed of this script's own choices")
    parser.add_argument("--shipped", action="store_true", help="also the shipped plans on data/")
    args = parser.parse_args(argv)

    binary = os.path.abspath(args.shuangsui)
    rng = random.Random(args.rng)
    work = tempfile.mkdtemp(prefix="shuangsui-crosscheck-js-")
    tally = xc.Tally()
    started = time.time()
    try:
        pools = []
        for gen_seed, targets, inspectors, items, conflicts in POOLS:
            pool_dir = os.path.join(work, "pool-%d" % gen_seed)
            subprocess.run([binary, "gen-data", "--out", pool_dir, "--seed", str(gen_seed),
                            "--targets", str(targets), "--inspectors", str(inspectors),
                            "--items", str(items), "--conflicts", str(conflicts)],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            pools.append((pool_dir, verify.load_pool(pool_dir)))
        bundles = {}
        checked = set()
        for n in range(args.seeds):
            pool_dir, pool = pools[n % len(pools)]
            name = "XJ-%03d" % n
            text, wants_history = xc.random_plan(rng, pool, name)
            plan_path = os.path.join(work, name + ".toml")
            with open(plan_path, "w", encoding="utf-8") as f:
                f.write(text)
            seed = "%064x" % rng.getrandbits(256) if rng.random() < 0.5 else "ceremony:" + xc.random_ceremony(rng)
            command = [binary, "draw", "--plan", plan_path, "--seed", seed, "--data", pool_dir,
                       "--out", os.path.join(work, "bundles")]
            earlier = bundles.setdefault(pool_dir, [])
            if wants_history and earlier:
                for bundle in rng.sample(earlier, min(len(earlier), rng.randint(1, 2))):
                    command += ["--history", bundle]
            run = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            if run.returncode != 0:
                if run.returncode == 2 and any(s in run.stderr for s in xc.INFEASIBLE):
                    tally.skipped += 1
                else:
                    tally.check(False, "draw %s failed (exit %d)" % (name, run.returncode), run.stderr)
                continue
            bundle = run.stdout.strip().splitlines()[-1]
            tally.draws += 1
            earlier.append(bundle)
            public = os.path.join(bundle, "public")
            expect(tally, "verified", bundle, bundle, pool_dir)
            expect(tally, "verified", public, public, pool_dir)
            expect(tally, "partially verified", public + " without the pool", public)
            if n % 4 == 0:
                expect(tally, "partially verified", public + " without conflicts.csv", public, pool_dir, "--no-conflicts")
            if n % 3 == 1:
                substitution_checks(tally, rng, binary, bundle, pool_dir)
            if pool_dir not in checked:
                checked.add(pool_dir)
                expect(tally, "verified", bundle + " with the plain-JavaScript SHA-256", bundle, pool_dir, "--no-subtle")
                tamper_checks(tally, rng, bundle, pool_dir, pool, work)
                reencoded_checks(tally, rng, bundle, pool_dir, work)
        if args.shipped:
            shipped_checks(tally, binary, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print("%d draws checked by the JavaScript verifier, %d skipped as infeasible, %.0f s"
          % (tally.draws, tally.skipped, time.time() - started))
    print("%d passed, %d failed" % (tally.passed, tally.failed))
    return 1 if tally.failed else 0


if __name__ == "__main__":
    sys.exit(main())
