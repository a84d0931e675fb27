#!/usr/bin/env python3
"""Cross-checks the shuangsui binary against the independent verifier.

Generates a few random pools with `shuangsui gen-data`, writes plans that fit
them (varying the quota mode, ratios, team size, workload caps, recusal
flags, target filters, exclusion windows with --history from earlier
bundles, and joint plans of two departments, ALGORITHM.md §13), draws --seeds bundles with random hex and ceremony seeds, and runs
tools/verify.py in-process on every bundle: the confidential bundle (which
also checks its public/ copy), the public/ copy on its own, and now and then
without the recusal list ("partially verified").  Once per pool, a bundle is
also checked against its pool re-encoded (GB18030, CRLF, rows shuffled,
columns rotated: must still verify), and tampered copies (an edited
assignments row, a changed seed, a changed pool file, an edited history)
must fail.  Every third bundle also gets a few substitutions made by the
binary (§12), which verify.py must replay.

Draws the binary refuses as infeasible (exit 2, "cannot get a full team", or
a count larger than the eligible targets) are skipped and counted.

Usage:
    python3 tools/crosscheck.py --shuangsui target/release/shuangsui [--seeds 300]

Prints every failure, then a last line "N passed, M failed"; exit 1 if M > 0.
Standard library only.
"""

import argparse
import collections
import csv
import io
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import verify  # noqa: E402

# (gen-data seed, targets, inspectors, items, conflicts): small to medium
# pools, so that one run covers many plans in a few minutes.
POOLS = [
    (101, 300, 40, 20, 30),
    (102, 1000, 80, 40, 100),
    (103, 3000, 150, 60, 300),
    (104, 2000, 120, 30, 600),
]

# What the binary says when a plan cannot be drawn (exit 2).
INFEASIBLE = ("cannot get a full team", "are eligible", "the plan draws no visit")


class Tally:
    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.skipped = 0
        self.draws = 0

    def check(self, ok, what, output=""):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
            print("FAILED: %s" % what)
            if output:
                print("    " + output.rstrip().replace("\n", "\n    "))
        return ok


def run_verify(bundle, data, pool=None, no_conflicts=False):
    """verify.verify() in-process; returns (exit code, printed text)."""
    out = io.StringIO()
    code = verify.verify(bundle, data, no_conflicts=no_conflicts, out=out, pool=pool)
    return code, out.getvalue()


def last_line(text):
    lines = text.rstrip().splitlines()
    return lines[-1] if lines else ""


# ---------------------------------------------------------------------------
# Plans
# ---------------------------------------------------------------------------

def busiest(pool):
    """The (department, field) with the most items, ties broken by how many
    valid officers of that department hold the field; and its item codes."""
    items = collections.defaultdict(list)
    for r in pool.records["items"]:
        items[(r[2], r[3])].append(r[0])
    holders = collections.Counter()
    for o in pool.records["inspectors"]:
        for area in o[3].split(";"):
            holders[(o[2], area)] += 1
    key = max(items, key=lambda k: (len(items[k]), holders[k], k))
    return key[0], sorted(items[key])


def joint_partner(pool, initiator, date):
    """A department to join `initiator` in a joint plan (§13): the one whose
    best-staffed item field has the most valid holders; and its items whose
    field at least three valid officers hold."""
    holders = collections.Counter()
    for o in pool.records["inspectors"]:
        if o[5] >= date:
            for area in o[3].split(";"):
                holders[(o[2], area)] += 1
    items = collections.defaultdict(list)
    for r in pool.records["items"]:
        if r[2] != initiator and holders[(r[2], r[3])] >= 3:
            items[r[2]].append(r[0])
    if not items:
        return None, []
    best = max(items, key=lambda d: (max(holders[(d, r[3])] for r in pool.records["items"] if r[0] in items[d]), d))
    return best, sorted(items[best])


def toml_list(values):
    return "[" + ", ".join('"%s"' % v for v in values) + "]"


def random_ceremony(rng):
    """20–30 digits read out in groups, with the separators §2 allows and
    sometimes full-width digits."""
    digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(20, 30)))
    text = ""
    for i, d in enumerate(digits):
        if i and i % rng.choice((4, 5)) == 0:
            text += rng.choice((" ", "-", " / ", "，", "：", "、", "\u3000"))
        text += chr(ord(d) - ord("0") + ord("０")) if rng.random() < 0.1 else d
    return text


def random_plan(rng, pool, name):
    """A plan TOML that fits `pool` (see docs/ALGORITHM.md §4), and whether
    it wants a history.  The workload cap is sized from the demand (visits ×
    team size over the qualified officers) times a random slack, so most
    plans are feasible and some are tight enough to exercise the load levels
    of §6."""
    department, codes = busiest(pool)
    doc = {
        "id": name,
        "name": "交叉核验计划 " + name,
        "department": department,
        "inspection_date": "2026-%02d-%02d" % (rng.randint(3, 12), rng.randint(1, 28)),
        "items": sorted(rng.sample(codes, rng.randint(1, len(codes)))),
        "targets": {"townships": [], "entity_types": [], "industries": []},
        "quota": "item_ratios",
        "exclude_inspected_within_days": 0,
        "team_size": rng.choice((2, 2, 3)),
        "workload_cap": 1,
        "recusal": {"declared": True, "same_township": rng.random() < 0.5,
                    "previous_inspector": rng.random() < 0.5},
    }
    selection = []
    joint = rng.random() < 0.3
    if joint:
        partner, theirs = joint_partner(pool, department, doc["inspection_date"])
        if partner is None:
            joint = False
        else:
            doc["joint"] = {"participants": [partner]}
            doc["items"] = sorted(doc["items"] + rng.sample(theirs, rng.randint(1, min(2, len(theirs)))))
    if rng.random() < 0.25:
        townships = sorted({t[4] for t in pool.records["targets"]})
        doc["targets"]["townships"] = sorted(rng.sample(townships, min(len(townships), rng.randint(2, 6))))
        if rng.random() < 0.5:
            doc["targets"]["entity_types"] = sorted(["企业", "个体工商户"])
    # A joint plan draws over the union of its items: ratios or a count only.
    mode = rng.choice(("ratios", "count") if joint else ("item_ratios", "ratios", "count"))
    if mode == "ratios":
        choices = ("0", "0.5", "1", "3", "5%", "10", "20", "33.33", "100")
        ratios = [rng.choice(choices) for _ in range(4)]
        selection.append('ratios = { A = "%s", B = "%s", C = "%s", D = "%s" }' % tuple(ratios))
        doc["quota"] = {"ratios_bp": [int(verify.canonical_ratio(r)) for r in ratios]}
    elif mode == "count":
        doc["quota"] = {"count": rng.randint(1, 8)}
        selection.append("count = %d" % doc["quota"]["count"])
    wants_history = rng.random() < 0.4
    if wants_history:
        doc["exclude_inspected_within_days"] = rng.choice((0, 30, 365, 1000))
        selection.append("exclude_inspected_within_days = %d" % doc["exclude_inspected_within_days"])

    # Demand and supply, ignoring history and recusal (hence the slack).
    plan = verify.Plan(doc)
    try:
        visits, _ = verify.draw_targets(pool, plan, verify.History(b"credit_code,item_code,date,officers\n"),
                                        bytes(32))
    except verify.Difference:  # count larger than the eligible targets
        visits = []
    date = plan.inspection_date.isoformat()
    items = {r[0]: r for r in pool.records["items"]}
    need = 0
    # The demand on each department: its visits × team size over the
    # officers holding its first item's field.
    for d in plan.departments:
        own = [c for c in doc["items"] if items[c][2] == d]
        if not own:
            continue
        field = items[own[0]][3]
        qualified = sum(1 for o in pool.records["inspectors"]
                        if o[2] == d and o[5] >= date and field in o[3].split(";"))
        demand = sum(1 for _, codes in visits if d == department or any(items[c][2] == d for c in codes))
        need = max(need, demand * doc["team_size"] / max(qualified, 1))
    # Loads stay within one of each other (§6 fairness), so a cap at or just
    # above the average demand binds; a factor below 1 may be infeasible.
    doc["workload_cap"] = max(1, math.ceil(need * rng.choice((0.9, 1.0, 1.0, 1.1, 1.5, 3))))

    lines = [
        'id = "%s"' % name,
        'name = "%s"' % doc["name"],
        'department = "%s"' % department,
    ] + (["joint = %s" % toml_list(doc["joint"]["participants"])] if joint else []) + [
        'inspection_date = "%s"' % doc["inspection_date"],
        "items = %s" % toml_list(doc["items"]),
        "",
        "[targets]",
    ] + ["%s = %s" % (k, toml_list(v)) for k, v in doc["targets"].items()] + [
        "",
        "[selection]",
    ] + selection + [
        "",
        "[teams]",
        "size = %d" % doc["team_size"],
        "workload_cap = %d" % doc["workload_cap"],
        "",
        "[recusal]",
        "declared = true",
        "same_township = %s" % str(doc["recusal"]["same_township"]).lower(),
        "previous_inspector = %s" % str(doc["recusal"]["previous_inspector"]).lower(),
        "",
    ]
    return "\n".join(lines), wants_history


# ---------------------------------------------------------------------------
# Tampering: each must make the verifier say NOT VERIFIED (exit 1)
# ---------------------------------------------------------------------------

def rewrite(path, change):
    with open(path, "rb") as f:
        data = f.read()
    new = change(data)
    if new == data:
        return False
    with open(path, "wb") as f:
        f.write(new)
    return True


def swap_team(data):
    """Swaps the first two officers of the first row's team, leader
    included (the row still looks plausible, only the draw order changes)."""
    lines = data.split(b"\r\n")
    cells = next(csv.reader([lines[1].decode("utf-8")]))
    team = cells[6].split(";")
    team[0], team[1] = team[1], team[0]
    cells[5], cells[6] = team[0], ";".join(team)
    lines[1] = ",".join(verify.csv_field(c) for c in cells).encode("utf-8")
    return b"\r\n".join(lines)


def another_seed(rng):
    """An edit of manifest.json: a random seed in place of the recorded one."""
    seed_line = b'"hex": "'

    def edit(data):
        i = data.index(seed_line) + len(seed_line)
        return data[:i] + ("%064x" % rng.getrandbits(256)).encode() + data[i + 64:]

    return edit


def bump_history(data):
    """An edit of history.csv: one earlier inspection one day later (or an added one)."""
    lines = data.split(b"\n")
    if len(lines) > 2 and lines[1]:
        cells = lines[1].split(b",")
        cells[2] = cells[2][:-1] + (b"1" if cells[2][-1:] != b"1" else b"2")
        lines[1] = b",".join(cells)
        return b"\n".join(lines)
    return data + b"91520281MA8N30D4G6,X-1,2020-01-01,A;B\n"


def tamper_checks(tally, rng, bundle, pool_dir, pool, work):
    """Copies `bundle` and damages it (or its pool) in several ways."""
    other_seed = another_seed(rng)

    cases = [
        ("edited assignments row (team order)", "assignments.csv", swap_team, False),
        ("edited public assignments row (team order)", "public/assignments.csv", swap_team, False),
        ("changed seed in manifest", "manifest.json", other_seed, False),
        ("edited history.csv", "history.csv", bump_history, False),
        ("edited assignments row (team order), checked without conflicts.csv", "assignments.csv", swap_team, True),
    ]
    for what, relpath, change, no_conflicts in cases:
        copy = os.path.join(work, "tampered-%d" % rng.getrandbits(32))
        shutil.copytree(bundle, copy)
        if not rewrite(os.path.join(copy, relpath), change):
            continue
        code, out = run_verify(copy, pool_dir, pool=pool, no_conflicts=no_conflicts)
        tally.check(code == 1 and "NOT VERIFIED" in out, "%s must be NOT VERIFIED: %s" % (what, bundle), out)
        shutil.rmtree(copy)

    # A changed pool file: one target's name, one officer's township.
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
        if rewrite(os.path.join(changed, name), lambda d: d.replace(old.encode(), new.encode(), 1)):
            code, out = run_verify(bundle, changed)
            tally.check(code == 1 and name in last_line(out), "changed %s must be NOT VERIFIED naming it" % name, out)
        shutil.rmtree(changed)


def substitution_checks(tally, rng, binary, bundle, pool_dir, pool):
    """§12: a few substitutions made by the binary on random visits must be
    replayed by verify.py; a refusal (nobody qualifies) must change nothing."""
    with open(os.path.join(bundle, "assignments.csv"), encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))[1:]
    if not rows:
        return
    made = 0
    for _ in range(rng.randint(1, 4)):
        row = rng.choice(rows)
        log_path = os.path.join(bundle, "substitutions.json")
        team = row[6].split(";")
        if os.path.exists(log_path):
            # The current team: earlier substitutions may have changed it.
            for entry in verify.read_substitutions(bundle)["substitutions"]:
                if entry["credit_code"] == row[1]:
                    team[team.index(entry["out"])] = entry["in"]
        reason = rng.choice(verify.SUBSTITUTION_REASONS)
        run = subprocess.run([binary, "substitute", bundle, "--data", pool_dir, "--target", row[1],
                              "--officer", rng.choice(team), "--reason", reason, "--note", "crosscheck"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if run.returncode == 0:
            made += 1
        else:
            tally.check(run.returncode == 2 and "no officer can replace" in run.stderr,
                        "substitute in %s" % bundle, run.stderr)
    if made:
        code, out = run_verify(bundle, pool_dir, pool=pool)
        tally.check(code == 0 and "substitutions re-drawn" in out and last_line(out).startswith("verified"),
                    "verify %s after %d substitutions" % (bundle, made), out)


def reencode_pool(src, dst, rng):
    """Rewrites a pool folder without changing its values (DATA.md): GB18030
    bytes, CRLF, rows shuffled, columns rotated, values padded with white
    space, an extra ignored column, English headers."""
    os.makedirs(dst)
    for kind in verify.KINDS:
        english = {chinese: field for field, chinese in verify.COLUMNS[kind]}
        with open(os.path.join(src, kind + ".csv"), encoding="utf-8-sig", newline="") as f:
            rows = list(csv.reader(f))
        header, body = rows[0], rows[1:]
        rng.shuffle(body)
        turn = rng.randrange(len(header))
        rotate = lambda r: r[turn:] + r[:turn]  # noqa: E731
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(rotate([english.get(h, h) for h in header]) + ["备注"])
        for row in body:
            writer.writerow(rotate([rng.choice(("", " ", "\u3000", "\t")) + v + rng.choice(("", " ")) for v in row])
                            + ["(ignored)"])
        with open(os.path.join(dst, kind + ".csv"), "wb") as f:
            f.write(out.getvalue().encode("gb18030"))


def reencoded_checks(tally, rng, bundle, pool_dir, work):
    """The same draw verifies against a re-encoded copy of its pool."""
    copy = os.path.join(work, "pool-reencoded")
    shutil.rmtree(copy, ignore_errors=True)
    reencode_pool(pool_dir, copy, rng)
    for encoding in ("detect", "gbk"):
        out = io.StringIO()
        code = verify.verify(bundle, copy, encoding=encoding, out=out)
        tally.check(code == 0 and last_line(out.getvalue()).startswith("verified"),
                    "verify %s against its pool re-encoded as GB18030 (--encoding %s)" % (bundle, encoding),
                    out.getvalue())
    shutil.rmtree(copy)


# ---------------------------------------------------------------------------

def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shuangsui", required=True, help="path to the shuangsui binary")
    parser.add_argument("--seeds", type=int, default=300, help="number of draws (default 300)")
    parser.add_argument("--rng", type=int, default=2026, help="seed of this script's own choices")
    parser.add_argument("--keep", metavar="DIR", help="work in DIR and keep it (default: a temporary folder)")
    args = parser.parse_args(argv)

    binary = os.path.abspath(args.shuangsui)
    rng = random.Random(args.rng)
    work = os.path.abspath(args.keep) if args.keep else tempfile.mkdtemp(prefix="shuangsui-crosscheck-")
    os.makedirs(work, exist_ok=True)
    tally = Tally()
    started = time.time()
    try:
        pools = []
        for gen_seed, targets, inspectors, items, conflicts in POOLS:
            pool_dir = os.path.join(work, "pool-%d" % gen_seed)
            if not os.path.isdir(pool_dir):
                subprocess.run([binary, "gen-data", "--out", pool_dir, "--seed", str(gen_seed),
                                "--targets", str(targets), "--inspectors", str(inspectors),
                                "--items", str(items), "--conflicts", str(conflicts)],
                               check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            # Loaded once per pool, and handed to verify() for every bundle.
            pools.append((pool_dir, verify.load_pool(pool_dir)))

        bundles = collections.defaultdict(list)  # pool dir -> bundle dirs
        tampered = set()
        for n in range(args.seeds):
            pool_dir, pool = pools[n % len(pools)]
            name = "XC-%03d" % n
            text, wants_history = random_plan(rng, pool, name)
            plan_path = os.path.join(work, name + ".toml")
            with open(plan_path, "w", encoding="utf-8") as f:
                f.write(text)
            if rng.random() < 0.5:
                seed = "%064x" % rng.getrandbits(256)
                seed = seed.upper() if rng.random() < 0.2 else seed
            else:
                seed = "ceremony:" + random_ceremony(rng)
            command = [binary, "draw", "--plan", plan_path, "--seed", seed, "--data", pool_dir,
                       "--out", os.path.join(work, "bundles")]
            if wants_history and bundles[pool_dir]:
                # One or two earlier bundles, whose inspection dates differ
                # (and may even be later than this plan's).
                earlier = bundles[pool_dir]
                for bundle in rng.sample(earlier, min(len(earlier), rng.randint(1, 2))):
                    command += ["--history", bundle]
            run = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            if run.returncode != 0:
                if run.returncode == 2 and any(s in run.stderr for s in INFEASIBLE):
                    tally.skipped += 1
                else:
                    tally.check(False, "draw %s failed (exit %d)" % (name, run.returncode), run.stderr)
                continue
            bundle = run.stdout.strip().splitlines()[-1]
            tally.draws += 1
            bundles[pool_dir].append(bundle)

            code, out = run_verify(bundle, pool_dir, pool=pool)
            tally.check(code == 0 and last_line(out).startswith("verified"), "verify %s" % bundle, out)
            public = os.path.join(bundle, "public")
            code, out = run_verify(public, pool_dir, pool=pool)
            tally.check(code == 0 and last_line(out).startswith("verified"), "verify %s" % public, out)
            if n % 10 == 0:
                code, out = run_verify(public, pool_dir, no_conflicts=True)
                tally.check(code == 0 and last_line(out).startswith("partially verified"),
                            "verify %s without conflicts.csv" % public, out)
            if n % 3 == 1:
                substitution_checks(tally, rng, binary, bundle, pool_dir, pool)
            if pool_dir not in tampered and code == 0:
                tampered.add(pool_dir)
                tamper_checks(tally, rng, bundle, pool_dir, pool, work)
                reencoded_checks(tally, rng, bundle, pool_dir, work)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    print("%d draws verified, %d skipped as infeasible (the binary refused them), %.0f s"
          % (tally.draws, tally.skipped, time.time() - started))
    if tally.skipped > args.seeds // 2:
        print("warning: more than half of the plans were infeasible; the cross-check covers little")
    print("%d passed, %d failed" % (tally.passed, tally.failed))
    return 1 if tally.failed else 0


if __name__ == "__main__":
    sys.exit(main())
