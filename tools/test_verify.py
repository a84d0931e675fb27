#!/usr/bin/env python3
"""Tests for tools/verify.py: RFC 8439 ChaCha20 vectors, the stream
primitives of tests/vectors/streams.json, and the golden draw vectors in
tests/vectors/*/ (hashes and assignments.csv bytes), plus end-to-end runs of
verify() on a bundle assembled from the tiny vector.

Run from the repository root:  python3 -m unittest tools/test_verify.py -v
"""

import hashlib
import io
import json
import os
import shutil
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import verify as v  # noqa: E402

VECTORS = os.path.join(HERE, "..", "tests", "vectors")
TINY = os.path.join(VECTORS, "tiny")


def draw_cases():
    """Every golden draw folder (one holding plan.json and expected.json)."""
    for name in sorted(os.listdir(VECTORS)):
        case = os.path.join(VECTORS, name)
        if os.path.isfile(os.path.join(case, "expected.json")):
            yield name, case


def read(path, mode="rb"):
    with open(path, mode) as f:
        return f.read()


def seed_of(case):
    """seed.txt holds the `--seed` argument: hex, or ceremony:TEXT."""
    text = read(os.path.join(case, "seed.txt"), "r").strip()
    if text.startswith("ceremony:"):
        return v.ceremony_seed(v.ceremony_digits(text[len("ceremony:"):]))
    return bytes.fromhex(text)


def redraw(case):
    """Recomputes a golden case: (pool, plan, history, seed, rows, strata,
    merged); merged holds the case's merge.csv records when the plan merges."""
    pool = v.load_pool(os.path.join(case, "pool"))
    plan = v.Plan(json.loads(read(os.path.join(case, "plan.json"))))
    history = v.History(read(os.path.join(case, "history.csv")))
    merged = None
    if plan.merge_with is not None:
        merged = v.read_merge(read(os.path.join(case, "merge.csv")), plan)
    seed = seed_of(case)
    visits, strata = v.draw_targets(pool, plan, history, seed)
    teams, ranks = v.draw_teams(pool, plan, history, seed, visits, merged)
    certs = [o[0] for o in pool.records["inspectors"]]
    rows = v.result_rows(pool, visits, [";".join(certs[i] for i in t) for t in teams], plan, ranks)
    return pool, plan, history, seed, rows, strata, merged


class ChaCha20Rfc8439(unittest.TestCase):
    def test_section_2_3_2(self):
        block = v.chacha20_block(bytes(range(32)), 1, bytes.fromhex("000000090000004a00000000"))
        self.assertEqual(block.hex(),
                         "10f1e7e4d13b5915500fdd1fa32071c4c7d1f4c733c068030422aa9ac3d46c4e"
                         "d2826446079faa0914c2d705d98b02a2b5129cd1de164eb9cbd083e8a2503c4e")

    def test_appendix_a1(self):
        zero = bytes(32)
        one = bytes(31) + b"\x01"
        cases = [
            (zero, 0, bytes(12),
             "76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7"
             "da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586"),
            (zero, 1, bytes(12),
             "9f07e7be5551387a98ba977c732d080dcb0f29a048e3656912c6533e32ee7aed"
             "29b721769ce64e43d57133b074d839d531ed1f28510afb45ace10a1f4b794d6f"),
            (one, 1, bytes(12),
             "3aeb5224ecf849929b9d828db1ced4dd832025e8018b8160b82284f3c949aa5a"
             "8eca00bbb4a73bdad192b5c42f73f2fd4e273644c8b36125a64addeb006c13a0"),
            (b"\x00\xff" + bytes(30), 2, bytes(12),
             "72d54dfbf12ec44b362692df94137f328fea8da73990265ec1bbbea1ae9af0ca"
             "13b25aa26cb4a648cb9b9d1be65b2c0924a66c54d545ec1b7374f4872e99f096"),
            (zero, 0, bytes(11) + b"\x02",
             "c2c64d378cd536374ae204b9ef933fcd1a8b2288b3dfa49672ab765b54ee27c7"
             "8a970e0e955c14f3a88e741b97c286f75f8fc299e8148362fa198a39531bed6d"),
        ]
        for n, (key, counter, nonce, expected) in enumerate(cases, 1):
            with self.subTest(vector=n):
                self.assertEqual(v.chacha20_block(key, counter, nonce).hex(), expected)

    def test_stream_is_the_zero_nonce_keystream(self):
        key = hashlib.sha256(b"shuangsui/v1/stream" + bytes(32) + b"\x00\x00\x00\x06visits").digest()
        keystream = v.chacha20_block(key, 0) + v.chacha20_block(key, 1)
        stream = v.Stream(bytes(32), ["visits"])
        words = [stream.next() for _ in range(16)]
        self.assertEqual(words, [int.from_bytes(keystream[i:i + 8], "little") for i in range(0, 128, 8)])


class StreamVectors(unittest.TestCase):
    """tests/vectors/streams.json: §3 derivation, next(), below(), pick()."""

    doc = json.loads(read(os.path.join(VECTORS, "streams.json")))

    def test_streams(self):
        seed = bytes.fromhex(self.doc["seed"])
        for case in self.doc["streams"]:
            with self.subTest(labels=case["labels"]):
                stream = v.Stream(seed, case["labels"])
                self.assertEqual([str(stream.next()) for _ in case["first_words"]], case["first_words"])
                stream = v.Stream(seed, case["labels"])
                self.assertEqual([str(stream.below(int(n))) for n in case["below"]["n"]], case["below"]["values"])
                stream = v.Stream(seed, case["labels"])
                items = list(range(20))
                stream.pick(items, 5)
                self.assertEqual(items[:5], case["pick_5_of_0_to_19"])

    def test_ceremony(self):
        c = self.doc["ceremony"]
        self.assertEqual(v.ceremony_seed(v.ceremony_digits(c["text"])).hex(), c["seed"])


class Conventions(unittest.TestCase):
    def test_trim_is_unicode_white_space(self):
        self.assertEqual(v.trim("\u3000\u00a0 x \t\u2029"), "x")
        # U+001C..U+001F are not White_Space although str.strip() removes them.
        self.assertEqual(v.trim("\x1cx\x1f"), "\x1cx\x1f")
        self.assertEqual(v.trim("\u200bx\ufeff"), "\u200bx\ufeff")

    def test_lists_ratios_dates(self):
        self.assertEqual(v.canonical_list(" 食品安全；登记监管 ;;计量; 食品安全"), "登记监管;计量;食品安全")
        self.assertEqual(v.canonical_list("农、林、牧、渔业"), "农、林、牧、渔业")
        self.assertEqual([v.canonical_ratio(r) for r in ("3", "0.5", "30%", "0", "100", "12.34")],
                         ["300", "50", "3000", "0", "10000", "1234"])
        for bad in ("100.01", "1.234", "-1", "abc", ""):
            self.assertRaises(ValueError, v.canonical_ratio, bad)
        self.assertEqual(v.canonical_date("2030/01/01"), "2030-01-01")
        self.assertRaises(ValueError, v.canonical_date, "2025-02-30")

    def test_gb18030_is_the_encoding_standard_decoder(self):
        # Where the WHATWG Encoding Standard differs from Python's GB18030-2005
        # tables: 0x80, A3A0, the 18 codes GB 18030-2022 remapped, A8BC.
        cases = {b"\x80": "\u20ac", b"\xa3\xa0": "\u3000", b"\xa6\xd9": "\ufe10", b"\xa6\xda": "\ufe12",
                 b"\xfe\x59": "\u9fb4", b"\xfe\xa0": "\u9fbb", b"\xa8\xbc": "\u1e3f",
                 b"\x81\x35\xf4\x37": "\ue7c7", b"\xc5\xcc\xd6\xdd": "盘州", b"\x81\x80": "\u4e90"}
        for raw, text in cases.items():
            with self.subTest(raw=raw.hex()):
                self.assertEqual(v.decode_bytes(raw, "gbk", "t"), text)
        self.assertRaises(v.InputError, v.decode_bytes, b"\x81\x30", "gbk", "t")
        self.assertRaises(v.InputError, v.decode_bytes, b"\xff", "detect", "t")
        # A Private Use character in a UTF-8 file is left alone.
        self.assertEqual(v.decode_bytes("\ue78d".encode(), "detect", "t"), "\ue78d")

    def test_u_feff_is_allowed_only_as_the_first_character(self):
        self.assertEqual(v.decode_bytes("\ufeffa,b\nc,d\n".encode(), "detect", "t.csv"), "a,b\nc,d\n")
        gb = "\ufeffa,b\n盘州,d\n".encode("gb18030")
        self.assertEqual(v.decode_bytes(gb, "detect", "t.csv"), "a,b\n盘州,d\n")
        # Two exports joined together: the second BOM starts line 3.
        joined = "\ufeffa,b\nc,d\n\ufeffe,f\n".encode()
        with self.assertRaisesRegex(v.InputError, r"^t\.csv:3: .*U\+FEFF"):
            v.decode_bytes(joined, "detect", "t.csv")
        with self.assertRaisesRegex(v.InputError, r"^t\.csv:1: "):
            v.decode_bytes("\ufeff\ufeffa\n".encode(), "utf-8", "t.csv")
        with self.assertRaisesRegex(v.InputError, r"^t\.csv:2: "):
            v.decode_bytes("a\n盘\ufeff州\n".encode("gb18030"), "gbk", "t.csv")

    def test_a_plan_json_no_reader_could_write_is_refused(self):
        case = os.path.join(VECTORS, "tiny")
        doc = json.loads(read(os.path.join(case, "plan.json")))
        v.Plan(doc)
        for key, value in [("team_size", 0), ("team_size", "2"), ("team_size", 2.5), ("workload_cap", 0),
                           ("items", []), ("items", list(reversed(doc["items"]))), ("name", " "),
                           ("targets", {"townships": [""], "entity_types": [], "industries": []}),
                           ("exclude_inspected_within_days", -1), ("exclude_inspected_within_days", 1 << 32)]:
            with self.subTest(key=key, value=value):
                self.assertRaises(v.InputError, v.Plan, dict(doc, **{key: value}))

    def test_an_exclusion_window_past_the_calendar_is_no_crash(self):
        case = os.path.join(VECTORS, "tiny")
        pool, plan, history, seed, _, _, _ = redraw(case)
        plan.exclude_days = (1 << 32) - 1
        visits, _ = v.draw_targets(pool, plan, history, seed)
        self.assertTrue(visits)

    def test_ceremony_normalisation(self):
        self.assertEqual(v.ceremony_digits("２０２６-03/02：1415，9265 3589、0\u3000"), "202603021415926535890")
        self.assertRaises(v.InputError, v.ceremony_digits, "2026 0302 1415 9265 358")  # 19 digits
        self.assertRaises(v.InputError, v.ceremony_digits, "2026 0302 1415 9265 3589 x")


class GoldenDraws(unittest.TestCase):
    """tests/vectors/*/expected.json and assignments.csv."""

    def test_cases(self):
        cases = list(draw_cases())
        self.assertTrue(cases)
        for name, case in cases:
            with self.subTest(case=name):
                expected = json.loads(read(os.path.join(case, "expected.json")))
                pool, plan, history, seed, rows, _, merged = redraw(case)
                self.assertEqual(pool.snapshot, expected["snapshot"])
                self.assertEqual(v.combined_snapshot(pool.snapshot), expected["snapshot_combined"])
                self.assertEqual(hashlib.sha256(read(os.path.join(case, "plan.json"))).hexdigest(),
                                 expected["plan_json_sha256"])
                self.assertEqual(history.sha256(), expected["history_sha256"])
                self.assertEqual(seed.hex(), expected["seed"])
                self.assertEqual(len(rows), expected["visits"])
                self.assertEqual(v.selection_sha256(rows), expected["selection_sha256"])
                self.assertEqual(v.result_sha256(rows), expected["result_sha256"])
                self.assertEqual(v.assignments_csv(rows, confidential=True, plan=plan),
                                 read(os.path.join(case, "assignments.csv")))
                if merged is not None:
                    self.assertEqual(v.merge_sha256(merged), expected["merge_sha256"])

    def test_snapshot_ignores_encoding_order_and_line_ends(self):
        """DATA.md: the hash sees values only.  Rewrite the tiny pool as
        GB18030 with CRLF, rows reversed, columns rotated, extra spaces."""
        import csv
        with tempfile.TemporaryDirectory() as tmp:
            for kind in v.KINDS:
                text = read(os.path.join(TINY, "pool", kind + ".csv")).decode("utf-8-sig")
                rows = list(csv.reader(io.StringIO(text, newline="")))
                header, body = rows[0], rows[1:][::-1]
                rotate = lambda r: r[1:] + r[:1]  # noqa: E731
                out = io.StringIO()
                w = csv.writer(out, lineterminator="\r\n")
                w.writerow(rotate(header) + ["备注"])
                for r in body:
                    w.writerow(rotate([" " + x + "\u3000" for x in r]) + ["ignored"])
                with open(os.path.join(tmp, kind + ".csv"), "wb") as f:
                    f.write(out.getvalue().encode("gb18030"))
            expected = json.loads(read(os.path.join(TINY, "expected.json")))
            self.assertEqual(v.load_pool(tmp).snapshot, expected["snapshot"])
            self.assertEqual(v.load_pool(tmp, "gbk").snapshot, expected["snapshot"])
            self.assertRaises(v.InputError, v.load_pool, tmp, "utf-8")


def make_bundle(root, case):
    """Assembles a confidential bundle (with public/) from a golden case's
    inputs, as §8 describes it, so verify() can be run end to end without
    the binary.  The hashes are this verifier's own: conformance with the
    golden outputs is GoldenDraws' job, these tests exercise verify()."""
    pool, plan, history, seed, rows, strata, merged = redraw(case)
    plan_raw = read(os.path.join(case, "plan.json"))
    expected = {
        "plan_json_sha256": hashlib.sha256(plan_raw).hexdigest(),
        "seed": seed.hex(),
        "snapshot": pool.snapshot,
        "snapshot_combined": v.combined_snapshot(pool.snapshot),
        "history_sha256": history.sha256(),
        "selection_sha256": v.selection_sha256(rows),
        "result_sha256": v.result_sha256(rows),
    }
    seed_text = read(os.path.join(case, "seed.txt"), "r").strip()
    if seed_text.startswith("ceremony:"):
        text = seed_text[len("ceremony:"):]
        source = {"kind": "ceremony", "text": text, "digits": v.ceremony_digits(text)}
    else:
        source = {"kind": "hex"}
    bundle = os.path.join(root, "%s_%s" % (plan.id, seed.hex()[:12]))
    for visibility, folder in (("confidential", bundle), ("public", os.path.join(bundle, "public"))):
        os.makedirs(folder)
        confidential = visibility == "confidential"
        files = {
            "plan.json": plan_raw,
            "history.csv": read(os.path.join(case, "history.csv")),
            "assignments.csv": v.assignments_csv(rows, confidential, plan),
        }
        if merged is not None:
            files["merge.csv"] = read(os.path.join(case, "merge.csv"))
        for name, data in files.items():
            with open(os.path.join(folder, name), "wb") as f:
                f.write(data)
        manifest = {
            "format": "shuangsui-bundle/1",
            "algorithm_version": 1,
            "visibility": visibility,
            "plan": {"id": plan.id, "name": plan.name, "sha256": expected["plan_json_sha256"],
                     "content": json.loads(plan_raw.decode("utf-8"))},
            "seed": {"hex": expected["seed"], "source": source},
            "snapshot": expected["snapshot"],
            "snapshot_combined": expected["snapshot_combined"],
            "history_sha256": expected["history_sha256"],
            "history_sources": [],
            **({} if merged is None else {
                "merge_sources": [{"plan_id": pid, "result_sha256": "00" * 32} for pid in plan.merge_with],
                "merge_sha256": v.merge_sha256(merged)}),
            "selection_sha256": expected["selection_sha256"],
            "result_sha256": expected["result_sha256"],
            "counts": {"visits": len(rows), "item_checks": sum(len(r.items.split(";")) for r in rows),
                       "officers": len({c for r in rows for c in r.team.split(";")})},
        }
        if confidential:
            manifest["strata"] = [{"item": s.item, "class": None if s.cls == "*" else s.cls,
                                   "eligible": s.eligible, "drawn": s.drawn} for s in strata]
        manifest["files"] = [{"name": n, "sha256": hashlib.sha256(d).hexdigest()} for n, d in files.items()]
        manifest["created_at"] = "2026-03-02T14:15:00+08:00"
        manifest["generator"] = "tools/test_verify.py"
        with open(os.path.join(folder, "manifest.json"), "w", encoding="utf-8") as f:
            json.dump(manifest, f, ensure_ascii=False, indent=2)
    return bundle


class EndToEnd(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp()
        self.bundle = make_bundle(self.tmp, TINY)
        self.pool = os.path.join(TINY, "pool")

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def run_verify(self, bundle=None, data=None, **kw):
        out = io.StringIO()
        code = v.verify(bundle or self.bundle, data or self.pool, out=out, **kw)
        return code, out.getvalue()

    def edit(self, relpath, change):
        path = os.path.join(self.bundle, relpath)
        with open(path, "rb") as f:
            data = f.read()
        with open(path, "wb") as f:
            f.write(change(data))

    def test_verified(self):
        code, out = self.run_verify()
        self.assertEqual(code, 0, out)
        self.assertTrue(out.splitlines()[-1].startswith("verified"), out)
        code, out = self.run_verify(os.path.join(self.bundle, "public"))
        self.assertEqual(code, 0, out)

    def test_partially_verified_without_conflicts(self):
        code, out = self.run_verify(no_conflicts=True)
        self.assertEqual(code, 0, out)
        self.assertIn("teams (officer assignment) NOT RE-DRAWN", out)
        self.assertTrue(out.splitlines()[-1].startswith("partially verified"), out)

    def test_edited_row_is_named(self):
        self.edit("assignments.csv", lambda d: d.replace(b"52028102;52028107", b"52028107;52028102", 1))
        code, out = self.run_verify()
        self.assertEqual(code, 1, out)
        self.assertIn("NOT VERIFIED: assignments.csv line 2 differs", out)

    def test_edited_team_is_caught_even_without_conflicts(self):
        # The team cannot be re-drawn, but it must match result_sha256.
        self.edit("assignments.csv", lambda d: d.replace(b"52028102,52028102;52028107", b"52028107,52028107;52028102"))
        code, out = self.run_verify(no_conflicts=True)
        self.assertEqual(code, 1, out)

    def test_team_breaking_a_public_rule_is_caught_without_conflicts(self):
        # 52028105's certificate expired before the inspection date.
        self.edit("assignments.csv", lambda d: d.replace(b"52028102,52028102;52028107", b"52028105,52028105;52028107"))
        code, out = self.run_verify(no_conflicts=True)
        self.assertEqual(code, 1, out)
        self.assertIn("officer 52028105 may not inspect", out)

    def test_changed_seed(self):
        self.edit("manifest.json", lambda d: d.replace(b"2026 0302", b"2026 0303"))
        code, out = self.run_verify()
        self.assertEqual(code, 1, out)
        self.assertIn("ceremony", out.splitlines()[-1])

    def test_changed_pool_names_the_file(self):
        pool = os.path.join(self.tmp, "pool")
        shutil.copytree(self.pool, pool)
        path = os.path.join(pool, "inspectors.csv")
        with open(path, "rb") as f:
            data = f.read()
        with open(path, "wb") as f:
            f.write(data.replace("胜境街道".encode(), "红果街道".encode()))
        code, out = self.run_verify(data=pool)
        self.assertEqual(code, 1, out)
        self.assertIn("inspectors.csv", out.splitlines()[-1])

    def test_unknown_version_is_refused(self):
        self.edit("manifest.json", lambda d: d.replace(b'"algorithm_version": 1', b'"algorithm_version": 2'))
        code, out = self.run_verify()
        self.assertEqual(code, 2, out)

    def test_missing_pool_file_is_an_input_error(self):
        code, out = self.run_verify(data=os.path.join(self.tmp, "nowhere"))
        self.assertEqual(code, 2, out)

    def test_public_copy_must_not_reveal_risk_classes(self):
        conf = read(os.path.join(self.bundle, "assignments.csv"))
        with open(os.path.join(self.bundle, "public", "assignments.csv"), "wb") as f:
            f.write(conf)
        code, out = self.run_verify()
        self.assertEqual(code, 1, out)
        self.assertIn("NOT VERIFIED: public/assignments.csv line 1 differs", out)


class JointAndMerged(unittest.TestCase):
    """End-to-end runs of verify() on bundles of the joint (§13) and merge
    (§14) vectors, and what must be refused."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp()

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def bundle(self, name):
        case = os.path.join(VECTORS, name)
        return make_bundle(self.tmp, case), os.path.join(case, "pool")

    def run_verify(self, bundle, pool, **kw):
        out = io.StringIO()
        return v.verify(bundle, pool, out=out, **kw), out.getvalue()

    def edit(self, path, change):
        with open(path, "rb") as f:
            data = f.read()
        with open(path, "wb") as f:
            f.write(change(data))

    def test_joint_and_merged_bundles_verify(self):
        for name in ("joint", "merge"):
            with self.subTest(case=name):
                bundle, pool = self.bundle(name)
                code, out = self.run_verify(bundle, pool)
                self.assertEqual(code, 0, out)
                code, out = self.run_verify(os.path.join(bundle, "public"), pool, no_conflicts=True)
                self.assertEqual(code, 0, out)
                self.assertTrue(out.splitlines()[-1].startswith("partially verified"), out)

    def test_a_sub_team_from_the_wrong_department_is_caught_without_conflicts(self):
        bundle, pool = self.bundle("joint")
        # Swap an initiator officer with a participant's: the leader is no
        # longer of the initiating department.
        self.edit(os.path.join(bundle, "public", "assignments.csv"),
                  lambda d: d.replace(b"52028102,52028102;52028107;52028301", b"52028301,52028301;52028107;52028102"))
        code, out = self.run_verify(os.path.join(bundle, "public"), pool, no_conflicts=True)
        self.assertEqual(code, 1, out)

    def test_an_edited_merge_csv_is_not_verified(self):
        bundle, pool = self.bundle("merge")
        self.edit(os.path.join(bundle, "merge.csv"), lambda d: d.replace(b"52028104;52028101", b"52028101;52028104", 1))
        code, out = self.run_verify(bundle, pool)
        self.assertEqual(code, 1, out)
        self.assertIn("merge.csv", out.splitlines()[-1])

    def test_an_unknown_plan_key_is_refused(self):
        # A plan extension this verifier does not implement (§4): exit 2,
        # never a verdict on a plan read as if it were plain.
        bundle, pool = self.bundle("joint")
        for folder in (bundle, os.path.join(bundle, "public")):
            # As a later version would write it: hashes consistent.
            plan_path = os.path.join(folder, "plan.json")
            self.edit(plan_path, lambda d: d.replace(b'"joint"', b'"jointly"'))
            plan_raw = read(plan_path)
            manifest_path = os.path.join(folder, "manifest.json")
            manifest = json.loads(read(manifest_path))
            manifest["plan"]["sha256"] = hashlib.sha256(plan_raw).hexdigest()
            manifest["plan"]["content"] = json.loads(plan_raw)
            for entry in manifest["files"]:
                if entry["name"] == "plan.json":
                    entry["sha256"] = manifest["plan"]["sha256"]
            with open(manifest_path, "w", encoding="utf-8") as f:
                json.dump(manifest, f, ensure_ascii=False, indent=2)
        code, out = self.run_verify(bundle, pool)
        self.assertEqual(code, 2, out)
        self.assertIn("jointly", out)

class Substitutions(unittest.TestCase):
    """§12: the tiny vector's substitutions.json, replayed in a bundle."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp()
        self.bundle = make_bundle(self.tmp, TINY)
        self.pool = os.path.join(TINY, "pool")
        self.log = json.loads(read(os.path.join(TINY, "substitutions.json")).decode("utf-8"))
        self.write(self.log)

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def write(self, log):
        public = json.loads(json.dumps(log))
        for entry in public["substitutions"]:
            entry.pop("note", None)
            entry.pop("relation", None)
        for folder, doc in ((self.bundle, log), (os.path.join(self.bundle, "public"), public)):
            with open(os.path.join(folder, "substitutions.json"), "w", encoding="utf-8") as f:
                json.dump(doc, f, ensure_ascii=False, indent=2)

    def run_verify(self, **kw):
        out = io.StringIO()
        return v.verify(self.bundle, self.pool, out=out, **kw), out.getvalue()

    def test_golden_list_replays(self):
        code, out = self.run_verify()
        self.assertEqual(code, 0, out)
        self.assertIn("all 4 substitutions re-drawn", out)
        code, out = self.run_verify(no_conflicts=True)
        self.assertEqual(code, 0, out)
        self.assertIn("substitutes NOT RE-DRAWN", out)

    def test_another_substitute_is_caught(self):
        self.log["substitutions"][1]["in"] = "52028102"
        self.write(self.log)
        code, out = self.run_verify()
        self.assertEqual(code, 1, out)
        self.assertIn("entry 2", out.splitlines()[-1])

    def test_expired_substitute_is_caught_without_conflicts(self):
        self.log["substitutions"][0]["in"] = "52028105"
        self.write(self.log)
        code, out = self.run_verify(no_conflicts=True)
        self.assertEqual(code, 1, out)
        self.assertIn("may not inspect", out.splitlines()[-1])

    def test_joint_and_merge_lists_replay(self):
        """§12 with §13 (the substitute from the leaving officer's
        department) and §14 (not an officer of the earlier team)."""
        for name in ("joint", "merge"):
            with self.subTest(case=name):
                case = os.path.join(VECTORS, name)
                self.bundle = make_bundle(os.path.join(self.tmp, name), case)
                self.pool = os.path.join(case, "pool")
                log = json.loads(read(os.path.join(case, "substitutions.json")).decode("utf-8"))
                self.write(log)
                code, out = self.run_verify()
                self.assertEqual(code, 0, out)
                self.assertIn("substitutions re-drawn", out)
                log["substitutions"][-1]["in"] = "52028107"
                self.write(log)
                code, out = self.run_verify()
                self.assertEqual(code, 1, out)

    def test_notes_must_not_reach_the_public_copy(self):
        path = os.path.join(self.bundle, "public", "substitutions.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(self.log, f, ensure_ascii=False, indent=2)
        code, out = self.run_verify()
        self.assertEqual(code, 1, out)
        self.assertIn("confidential notes", out.splitlines()[-1])

    def write_withheld(self, reason="adjustment"):
        public = v.public_substitutions(self.log, v.PUBLIC_SUBSTITUTIONS_FORMAT)
        for entry in public["substitutions"]:
            entry["reason"] = reason
        with open(os.path.join(self.bundle, "public", "substitutions.json"), "w", encoding="utf-8") as f:
            json.dump(public, f, ensure_ascii=False, indent=2)

    def test_a_public_copy_of_format_2_withholds_every_reason(self):
        self.write_withheld()
        code, out = self.run_verify()
        self.assertEqual(code, 0, out)
        # The public copy alone replays the same substitutes.
        code, out = self.run_verify_public()
        self.assertEqual(code, 0, out)
        self.assertIn("substitutions", out)
        self.write_withheld("conflict")
        code, out = self.run_verify()
        self.assertEqual(code, 1, out)
        self.assertIn("public/substitutions.json", out.splitlines()[-1])

    def test_the_confidential_copy_keeps_the_reasons(self):
        withheld = v.public_substitutions(self.log, v.PUBLIC_SUBSTITUTIONS_FORMAT)
        for folder in (self.bundle, os.path.join(self.bundle, "public")):
            with open(os.path.join(folder, "substitutions.json"), "w", encoding="utf-8") as f:
                json.dump(withheld, f, ensure_ascii=False, indent=2)
        code, out = self.run_verify()
        self.assertEqual(code, 1, out)
        self.assertIn("withholds the reasons", out.splitlines()[-1])

    def run_verify_public(self):
        out = io.StringIO()
        return v.verify(os.path.join(self.bundle, "public"), self.pool, out=out), out.getvalue()


if __name__ == "__main__":
    unittest.main()
