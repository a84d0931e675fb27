#!/usr/bin/env python3
"""Independent verifier for shuangsui draws (双随机、一公开), algorithm version 1.

Written from the public specification only -- docs/ALGORITHM.md and
docs/DATA.md -- not from the Rust code, so that a member of the public can
check a published draw with a second, unrelated implementation.  Section
numbers (§1 ... §8, §13 joint plans, §14 merged visits) in the comments
refer to docs/ALGORITHM.md.

Usage:
    python3 tools/verify.py BUNDLE_DIR --data POOL_DIR [--encoding utf-8|gbk|detect]
                            [--no-conflicts]

BUNDLE_DIR is a confidential bundle (its public/ copy is checked too) or a
public/ copy on its own.  POOL_DIR holds the five pool files; without
conflicts.csv (or with --no-conflicts) everything that does not depend on the
confidential recusal list is checked and the verdict is "partially verified".

Exit codes, as for `shuangsui verify`:
    0  verified (or partially verified)
    1  NOT VERIFIED: the first difference is printed
    2  the inputs could not be read (missing or malformed files, bad data)

Python 3.9+ standard library only: SHA-256 from hashlib, ChaCha20 in pure
Python from RFC 8439.
"""

import argparse
import codecs
import collections
import csv
import datetime
import hashlib
import heapq
import io
import json
import os
import re
import struct
import sys

ALGORITHM_VERSION = 1
BUNDLE_FORMAT = "shuangsui-bundle/1"


class InputError(Exception):
    """The inputs could not be read or are invalid (exit 2)."""


class Difference(Exception):
    """The bundle does not match the recomputation (exit 1)."""


# ---------------------------------------------------------------------------
# §0 Conventions
# ---------------------------------------------------------------------------

# The characters with the Unicode White_Space property (PropList.txt).  Not
# str.strip()/str.isspace(): Python also treats U+001C..U+001F as space, the
# Unicode property does not.
WHITE_SPACE = (
    "\u0009\u000a\u000b\u000c\u000d\u0020\u0085\u00a0\u1680"
    "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)


def trim(text):
    """Removes leading and trailing White_Space characters (§0 "Trimmed")."""
    return text.strip(WHITE_SPACE)


def u32be(n):
    return struct.pack(">I", n)


def u64be(n):
    return struct.pack(">Q", n)


def H(data):
    return hashlib.sha256(data).digest()


def record_hash(fields):
    """§1 record hash: H(u32be(len f1) ‖ f1 ‖ u32be(len f2) ‖ f2 ‖ …)."""
    parts = []
    for field in fields:
        raw = field.encode("utf-8")
        parts.append(u32be(len(raw)))
        parts.append(raw)
    return H(b"".join(parts))


def list_hash(tag, record_hashes):
    """§1 list(tag, R1…Rn) = H(tag ‖ 0x0A ‖ u64be(n) ‖ R1 ‖ … ‖ Rn), as hex."""
    h = hashlib.sha256()
    h.update(tag.encode("ascii") + b"\n" + u64be(len(record_hashes)))
    for r in record_hashes:
        h.update(r)
    return h.hexdigest()


def sort_key(text):
    """§0 "Sorted": bytewise UTF-8 order.  UTF-8 preserves code point order,
    so Python's own str ordering is exactly that; this names the intent."""
    return text


# ---------------------------------------------------------------------------
# §3 Random streams: ChaCha20 (RFC 8439 §2.3) and the derived operations
# ---------------------------------------------------------------------------

_SIGMA = (0x61707865, 0x3320646E, 0x79622D32, 0x6B206574)  # "expand 32-byte k"


def chacha20_blocks(states):
    """RFC 8439 §2.3: the ChaCha20 block function applied to a list of
    16-word input states; returns the 16 output words of each.

    Pure-Python ChaCha20 is the slow part of a verification, so the states
    are processed side by side ("SIMD within a register"): word j of every
    state is packed into one Python int, state k in bits 64k..64k+31, with 32
    zero guard bits above each lane.  Additions carry at most into the guard
    bits and every addition and rotation is masked back to the lanes, so the
    lanes never mix; one pass over 64 states costs little more than over one.
    The quarter rounds (RFC 8439 §2.1) are written out on local variables.
    """
    n = len(states)
    fmt = "<%dQ" % n
    init = [int.from_bytes(struct.pack(fmt, *[st[j] for st in states]), "little") for j in range(16)]
    M = int.from_bytes(b"\xff\xff\xff\xff\x00\x00\x00\x00" * n, "little")  # the lanes' low 32 bits
    x0, x1, x2, x3, x4, x5, x6, x7, x8, x9, x10, x11, x12, x13, x14, x15 = init
    for _ in range(10):
        # Column round: QR(0,4,8,12) QR(1,5,9,13) QR(2,6,10,14) QR(3,7,11,15)
        x0 = (x0 + x4) & M; x12 ^= x0; x12 = ((x12 << 16) | (x12 >> 16)) & M
        x8 = (x8 + x12) & M; x4 ^= x8; x4 = ((x4 << 12) | (x4 >> 20)) & M
        x0 = (x0 + x4) & M; x12 ^= x0; x12 = ((x12 << 8) | (x12 >> 24)) & M
        x8 = (x8 + x12) & M; x4 ^= x8; x4 = ((x4 << 7) | (x4 >> 25)) & M
        x1 = (x1 + x5) & M; x13 ^= x1; x13 = ((x13 << 16) | (x13 >> 16)) & M
        x9 = (x9 + x13) & M; x5 ^= x9; x5 = ((x5 << 12) | (x5 >> 20)) & M
        x1 = (x1 + x5) & M; x13 ^= x1; x13 = ((x13 << 8) | (x13 >> 24)) & M
        x9 = (x9 + x13) & M; x5 ^= x9; x5 = ((x5 << 7) | (x5 >> 25)) & M
        x2 = (x2 + x6) & M; x14 ^= x2; x14 = ((x14 << 16) | (x14 >> 16)) & M
        x10 = (x10 + x14) & M; x6 ^= x10; x6 = ((x6 << 12) | (x6 >> 20)) & M
        x2 = (x2 + x6) & M; x14 ^= x2; x14 = ((x14 << 8) | (x14 >> 24)) & M
        x10 = (x10 + x14) & M; x6 ^= x10; x6 = ((x6 << 7) | (x6 >> 25)) & M
        x3 = (x3 + x7) & M; x15 ^= x3; x15 = ((x15 << 16) | (x15 >> 16)) & M
        x11 = (x11 + x15) & M; x7 ^= x11; x7 = ((x7 << 12) | (x7 >> 20)) & M
        x3 = (x3 + x7) & M; x15 ^= x3; x15 = ((x15 << 8) | (x15 >> 24)) & M
        x11 = (x11 + x15) & M; x7 ^= x11; x7 = ((x7 << 7) | (x7 >> 25)) & M
        # Diagonal round: QR(0,5,10,15) QR(1,6,11,12) QR(2,7,8,13) QR(3,4,9,14)
        x0 = (x0 + x5) & M; x15 ^= x0; x15 = ((x15 << 16) | (x15 >> 16)) & M
        x10 = (x10 + x15) & M; x5 ^= x10; x5 = ((x5 << 12) | (x5 >> 20)) & M
        x0 = (x0 + x5) & M; x15 ^= x0; x15 = ((x15 << 8) | (x15 >> 24)) & M
        x10 = (x10 + x15) & M; x5 ^= x10; x5 = ((x5 << 7) | (x5 >> 25)) & M
        x1 = (x1 + x6) & M; x12 ^= x1; x12 = ((x12 << 16) | (x12 >> 16)) & M
        x11 = (x11 + x12) & M; x6 ^= x11; x6 = ((x6 << 12) | (x6 >> 20)) & M
        x1 = (x1 + x6) & M; x12 ^= x1; x12 = ((x12 << 8) | (x12 >> 24)) & M
        x11 = (x11 + x12) & M; x6 ^= x11; x6 = ((x6 << 7) | (x6 >> 25)) & M
        x2 = (x2 + x7) & M; x13 ^= x2; x13 = ((x13 << 16) | (x13 >> 16)) & M
        x8 = (x8 + x13) & M; x7 ^= x8; x7 = ((x7 << 12) | (x7 >> 20)) & M
        x2 = (x2 + x7) & M; x13 ^= x2; x13 = ((x13 << 8) | (x13 >> 24)) & M
        x8 = (x8 + x13) & M; x7 ^= x8; x7 = ((x7 << 7) | (x7 >> 25)) & M
        x3 = (x3 + x4) & M; x14 ^= x3; x14 = ((x14 << 16) | (x14 >> 16)) & M
        x9 = (x9 + x14) & M; x4 ^= x9; x4 = ((x4 << 12) | (x4 >> 20)) & M
        x3 = (x3 + x4) & M; x14 ^= x3; x14 = ((x14 << 8) | (x14 >> 24)) & M
        x9 = (x9 + x14) & M; x4 ^= x9; x4 = ((x4 << 7) | (x4 >> 25)) & M
    mixed = (x0, x1, x2, x3, x4, x5, x6, x7, x8, x9, x10, x11, x12, x13, x14, x15)
    # Add the input state (RFC 8439 §2.3 step 3) and unpack the lanes.
    columns = [struct.unpack(fmt, ((a + b) & M).to_bytes(8 * n, "little")) for a, b in zip(mixed, init)]
    return [list(words) for words in zip(*columns)]


def chacha20_state(key, counter, nonce=b"\x00" * 12):
    """RFC 8439 §2.3 input state: constants, key, 32-bit counter, nonce."""
    return list(_SIGMA) + list(struct.unpack("<8I", key)) + [counter] + list(struct.unpack("<3I", nonce))


def chacha20_block(key, counter, nonce=b"\x00" * 12):
    """RFC 8439 §2.3: the serialized 64-byte block."""
    return struct.pack("<16I", *chacha20_blocks([chacha20_state(key, counter, nonce)])[0])


def stream_key(seed, labels):
    """§3: K = H("shuangsui/v1/stream" ‖ seed ‖ u32be(len l1) ‖ l1 ‖ … )."""
    parts = [b"shuangsui/v1/stream", seed]
    for label in labels:
        raw = label.encode("utf-8")
        parts.append(u32be(len(raw)))
        parts.append(raw)
    return H(b"".join(parts))


def block_words(block):
    """A block's eight little-endian u64 words (§3 next()): the low half of
    each comes first in the keystream."""
    return [block[i] | (block[i + 1] << 32) for i in range(0, 16, 2)]


class Stream:
    """§3: a named random stream; the keystream is ChaCha20 with key K, a
    zero nonce and block counter 0, 1, …

    Blocks are computed only as words are consumed, in batches that double
    from 1 to 64: streams that use one word cost one block, long ones (a
    stratum pick, the visit shuffle) get the speed of the batched function.
    """

    __slots__ = ("_key", "_counter", "_batch", "_words", "_pos")

    def __init__(self, seed, labels):
        self._key = stream_key(seed, labels)
        self._counter = 0
        self._batch = 1
        self._words = ()
        self._pos = 0

    def _refill(self):
        counters = range(self._counter, self._counter + self._batch)
        blocks = chacha20_blocks([chacha20_state(self._key, c) for c in counters])
        self._words = [w for block in blocks for w in block_words(block)]
        self._pos = 0
        self._counter += self._batch
        self._batch = min(2 * self._batch, 64)

    def next(self):
        """The next 8 keystream bytes as a little-endian unsigned 64-bit int."""
        if self._pos == len(self._words):
            self._refill()
        word = self._words[self._pos]
        self._pos += 1
        return word

    def below(self, n):
        """Uniform integer in [0, n) by rejection: t = 2^64 mod n; draw words
        until x >= t; return x mod n.  Always consumes at least one word."""
        t = (1 << 64) % n
        while True:
            x = self.next()
            if x >= t:
                return x % n

    def pick(self, items, k):
        """Moves a uniform k-subset to the front of `items`, in draw order (the
        first k steps of a forward Fisher–Yates shuffle)."""
        n = len(items)
        for i in range(k):
            j = i + self.below(n - i)
            items[i], items[j] = items[j], items[i]


def first_words(seed, label_lists):
    """The first word (next()) of each of several streams, computed in one
    batch: §6 tickets are first words of many short streams."""
    blocks = chacha20_blocks([chacha20_state(stream_key(seed, labels), 0) for labels in label_lists])
    return [block[0] | (block[1] << 32) for block in blocks]


# ---------------------------------------------------------------------------
# §2 Seeds
# ---------------------------------------------------------------------------

_CEREMONY_SEPARATORS = set(",-/:，－／：、")
_HEX64 = re.compile(r"[0-9a-fA-F]{64}\Z")


def ceremony_digits(text):
    """§2: keep ASCII digits, map full-width digits to ASCII, drop white
    space and the listed separators; anything else is an error."""
    digits = []
    for ch in text:
        if "0" <= ch <= "9":
            digits.append(ch)
        elif "０" <= ch <= "９":
            digits.append(chr(ord(ch) - ord("０") + ord("0")))
        elif ch in WHITE_SPACE or ch in _CEREMONY_SEPARATORS:
            continue
        else:
            raise InputError("ceremony text %r: character %r is not a digit or separator" % (text, ch))
    if len(digits) < 20:
        raise InputError("ceremony text %r has %d digits, at least 20 are needed" % (text, len(digits)))
    return "".join(digits)


def ceremony_seed(digits):
    """§2: seed = H("shuangsui/v1/seed/ceremony" ‖ u32be(len d) ‖ d)."""
    raw = digits.encode("ascii")
    return H(b"shuangsui/v1/seed/ceremony" + u32be(len(raw)) + raw)


# ---------------------------------------------------------------------------
# §1 and DATA.md: reading the pool files
# ---------------------------------------------------------------------------

# (field, English header, Chinese header) per file, in §1 field order.
COLUMNS = {
    "departments": [("name", "部门名称")],
    "items": [
        ("code", "事项编号"),
        ("name", "事项名称"),
        ("department", "抽查主体"),
        ("field", "执法领域"),
        ("legal_basis", "抽查依据"),
        ("category", "事项类别"),
        ("method", "抽查方式"),
        ("entity_types", "抽查对象类型"),
        ("industries", "行业范围"),
        ("ratio_a", "A类比例"),
        ("ratio_b", "B类比例"),
        ("ratio_c", "C类比例"),
        ("ratio_d", "D类比例"),
    ],
    "inspectors": [
        ("cert_no", "执法证号"),
        ("name", "姓名"),
        ("department", "所属部门"),
        ("areas", "执法领域"),
        ("township", "居住乡镇"),
        ("valid_until", "证件有效期至"),
    ],
    "targets": [
        ("credit_code", "统一社会信用代码"),
        ("name", "名称"),
        ("entity_type", "主体类型"),
        ("industry", "行业"),
        ("township", "所属区域"),
        ("risk_class", "信用风险分类"),
    ],
    "conflicts": [
        ("cert_no", "执法证号"),
        ("credit_code", "统一社会信用代码"),
        ("relation", "回避关系"),
    ],
}
KINDS = ("departments", "items", "inspectors", "targets", "conflicts")
LIST_FIELDS = {"entity_types", "industries", "areas"}
# Fields that may be empty: lists other than areas ("empty = every …").
MAY_BE_EMPTY = {"entity_types", "industries"}

_ID_RE = re.compile(r"[A-Za-z0-9._-]{1,32}\Z")
# A ratio: digits, optionally "." and up to two decimals, optionally a per
# cent sign (ASCII % or full-width ％, as Chinese spreadsheets write it),
# with white space allowed before the sign.  See the report on ALGORITHM.md:
# the spec shows examples only, this is the grammar proposed for it.
_RATIO_RE = re.compile(r"([0-9]+)(?:\.([0-9]{0,2}))?(?:[%s]*[%%％])?\Z" % WHITE_SPACE)
# A date: year-month-day with - or / (the same both times); month and day may
# have one digit (2030/1/5, as spreadsheets export dates).
_DATE_RE = re.compile(r"([0-9]{4})([-/])([0-9]{1,2})\2([0-9]{1,2})\Z")
_CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
CATEGORIES = {"一般": "一般", "重点": "重点", "general": "一般", "key": "重点"}
CLASSES = ("A", "B", "C", "D")


# GB18030 is decoded as the WHATWG Encoding Standard's gb18030 decoder does
# (see the report on DATA.md: "GB18030" alone does not pin the tables).
# Python's codec follows the GB 18030-2005 tables; the Encoding Standard
# follows GB 18030-2022 for 18 two-byte codes (vertical forms and CJK
# ideographs that left the Private Use Area), swaps A8BC / 0x8135F437, maps
# A3A0 to U+3000 and the single byte 0x80 to U+20AC.  Python's decoder is
# one-to-one, so the differences are fixed after decoding by code point.
_GB18030_2005_TO_WHATWG = str.maketrans({
    # Python's GB18030-2005 result -> the Encoding Standard's, for the bytes
    "\ue78d": "\ufe10",  # A6D9
    "\ue78e": "\ufe12",  # A6DA
    "\ue78f": "\ufe11",  # A6DB
    "\ue790": "\ufe13",  # A6DC
    "\ue791": "\ufe14",  # A6DD
    "\ue792": "\ufe15",  # A6DE
    "\ue793": "\ufe16",  # A6DF
    "\ue794": "\ufe17",  # A6EC
    "\ue795": "\ufe18",  # A6ED
    "\ue796": "\ufe19",  # A6F3
    "\ue81e": "\u9fb4",  # FE59
    "\ue826": "\u9fb5",  # FE61
    "\ue82b": "\u9fb6",  # FE66
    "\ue82c": "\u9fb7",  # FE67
    "\ue832": "\u9fb8",  # FE6D
    "\ue843": "\u9fb9",  # FE7E
    "\ue854": "\u9fba",  # FE90
    "\ue864": "\u9fbb",  # FEA0
    "\ue7c7": "\u1e3f",  # A8BC
    "\u1e3f": "\ue7c7",  # 81 35 F4 37
    "\ue5e5": "\u3000",  # A3A0
})


def _gb18030_euro(error):
    """The single byte 0x80 is U+20AC (Encoding Standard); anything else
    that does not decode stays an error."""
    if error.object[error.start] == 0x80:
        return "\u20ac", error.start + 1
    raise error


codecs.register_error("shuangsui-gb18030", _gb18030_euro)


def decode_gb18030(raw):
    return raw.decode("gb18030", "shuangsui-gb18030").translate(_GB18030_2005_TO_WHATWG)


def decode_bytes(raw, encoding, name):
    """DATA.md: UTF-8 (BOM allowed) or GB18030; detect = valid UTF-8, else
    GB18030.  Invalid bytes are an error, never replaced."""
    try:
        if encoding == "utf-8":
            text = raw.decode("utf-8")
        elif encoding == "gbk":
            text = decode_gb18030(raw)
        else:
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = decode_gb18030(raw)
    except UnicodeDecodeError as e:
        raise InputError("%s: bytes %d..%d are not valid %s" % (
            name, e.start, e.end, "UTF-8" if encoding == "utf-8" else "UTF-8 or GB18030"))
    if text.startswith("\ufeff"):
        text = text[1:]
    # §1: U+FEFF may only be the file's first character.  Anywhere else it
    # is what joining BOM-carrying files leaves, and is refused.
    stray = text.find("\ufeff")
    if stray >= 0:
        raise InputError("%s:%d: holds U+FEFF (a byte-order mark), which only a file's first character may be"
                         % (name, text.count("\n", 0, stray) + 1))
    return text


def read_csv_rows(text, name):
    """Yields (line_number, fields) for every non-blank row; the header first."""
    # strict=False: like common CSV readers, text after a closing quote is
    # kept ("ab"c reads as abc) rather than refused.
    reader = csv.reader(io.StringIO(text, newline=""), strict=False)
    try:
        for row in reader:
            # Blank lines are skipped: empty, only white space, or "".
            if len(row) > 1 or (row and trim(row[0])):
                yield reader.line_num, row
    except csv.Error as e:
        raise InputError("%s:%d: %s" % (name, reader.line_num, e))


def read_table(path, kind, encoding):
    try:
        return _read_table(path, kind, encoding)
    except InputError as e:
        if encoding == "gbk" and "missing column" in str(e):
            # UTF-8 bytes often decode as (wrong) GB18030 text without error.
            raise InputError("%s (the file was read as GB18030 because of --encoding gbk; "
                             "is it UTF-8?)" % e)
        raise


def _read_table(path, kind, encoding):
    """Reads one pool file into a list of (line, [trimmed values in §1 field
    order]); columns are found by English or Chinese header name."""
    name = os.path.basename(path)
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise InputError("cannot read %s: %s" % (path, e.strerror or e))
    rows = read_csv_rows(decode_bytes(raw, encoding, name), name)
    try:
        _, header = next(rows)
    except StopIteration:
        raise InputError("%s: the file is empty (no header row)" % name)
    # Header names are trimmed; English names match in any ASCII case.
    header = [trim(h) for h in header]
    folded = [h.lower() if h.isascii() else h for h in header]
    positions = []
    for field, chinese in COLUMNS[kind]:
        found = [i for i, h in enumerate(folded) if h in (field, chinese)]
        if not found:
            if field == "risk_class":
                raise InputError("%s: missing column risk_class (信用风险分类); the credit-risk classes are "
                                 "confidential but the draw and the targets snapshot depend on them, so a "
                                 "re-check needs targets.csv as the department used it (docs/VERIFY.md)" % name)
            raise InputError("%s: missing column %s (%s)" % (name, field, chinese))
        if len(found) > 1:
            raise InputError("%s: column %s (%s) appears more than once" % (name, field, chinese))
        positions.append(found[0])
    records = []
    for line, row in rows:
        if len(row) != len(header):
            raise InputError("%s:%d: %d fields, the header has %d" % (name, line, len(row), len(header)))
        records.append((line, [trim(row[i]) for i in positions]))
    return records


def canonical_list(value):
    """§1 list field: split on ; and ；, trim, drop empty, sort, de-duplicate."""
    parts = {trim(p) for p in value.replace("；", ";").split(";")}
    parts.discard("")
    return ";".join(sorted(parts, key=sort_key))


def canonical_ratio(value):
    """§1 ratio: percent with at most two decimals, 0–100 -> basis points."""
    m = _RATIO_RE.match(value)
    if not m:
        raise ValueError("not a percentage with at most two decimals")
    bp = int(m.group(1)) * 100 + int((m.group(2) or "0").ljust(2, "0"))
    if bp > 10000:
        raise ValueError("more than 100%")
    return str(bp)


def canonical_date(value):
    """YYYY-MM-DD, inputs may use /; must be a real calendar date."""
    m = _DATE_RE.match(value)
    if not m:
        raise ValueError("not a date YYYY-MM-DD")
    # date() raises on 2025-02-30; isoformat() pads month and day.
    return datetime.date(int(m.group(1)), int(m.group(3)), int(m.group(4))).isoformat()


def valid_credit_code(code):
    """GB 32100-2015: 18 characters, the 18th is the check character."""
    if len(code) != 18 or any(c not in _CREDIT_ALPHABET for c in code):
        return False
    total = sum(_CREDIT_ALPHABET.index(c) * w for c, w in zip(code, _CREDIT_WEIGHTS))
    return _CREDIT_ALPHABET[(31 - total % 31) % 31] == code[17]


def canonical_record(kind, values):
    """Applies the §1 / DATA.md rules to one record's trimmed values and
    returns its field texts; raises ValueError(field, reason)."""
    fields = [f for f, _ in COLUMNS[kind]]
    out = []
    for field, value in zip(fields, values):
        if field in LIST_FIELDS:
            value = canonical_list(value)
        if value == "" and field not in MAY_BE_EMPTY:
            raise ValueError(field, "empty")
        try:
            if field in ("code", "cert_no") and not _ID_RE.match(value):
                raise ValueError("must be 1-32 of A-Z a-z 0-9 - _ .")
            if field == "credit_code" and not valid_credit_code(value):
                raise ValueError("not a valid unified social credit code (GB 32100-2015)")
            if field == "category":
                if value not in CATEGORIES:
                    raise ValueError("must be 一般 or 重点 (general or key)")
                value = CATEGORIES[value]
            if field.startswith("ratio_"):
                value = canonical_ratio(value)
            if field == "valid_until":
                value = canonical_date(value)
            if field == "risk_class":
                # Lower-case a-d are accepted as A-D (see the report).
                if value not in ("a", "b", "c", "d") and value not in CLASSES:
                    raise ValueError("must be A, B, C or D")
                value = value.upper()
        except ValueError as e:
            raise ValueError(field, "%r: %s" % (value, e.args[0]))
        out.append(value)
    return out


class Pool:
    """The five pool files as canonical records in §1 record order, with the
    snapshot hashes.  `conflicts` is None when the recusal list is absent."""

    def __init__(self):
        self.records = {}      # kind -> list of field-text lists, in record order
        self.snapshot = {}     # kind -> hex snapshot hash (absent: not checkable)
        self.conflicts = None  # set of (cert_no, credit_code), or None


def snapshot_hash(kind, records):
    """§1 S_K = H("shuangsui/v1/snapshot/" ‖ K ‖ 0x0A ‖ u64be(n) ‖ R1 ‖ … ‖ Rn)."""
    return list_hash("shuangsui/v1/snapshot/" + kind, [record_hash(r) for r in records])


def combined_snapshot(snapshot):
    h = hashlib.sha256(b"shuangsui/v1/snapshot\n" + u64be(5))
    for kind in KINDS:
        h.update(bytes.fromhex(snapshot[kind]))
    return h.hexdigest()


def load_pool(directory, encoding="detect", use_conflicts=True):
    """Reads and validates a pool folder (DATA.md) and computes §1 snapshots."""
    pool = Pool()
    kinds = list(KINDS)
    conflicts_path = os.path.join(directory, "conflicts.csv")
    if not use_conflicts or not os.path.exists(conflicts_path):
        kinds.remove("conflicts")
    for kind in kinds:
        name = kind + ".csv"
        path = os.path.join(directory, name)
        if not os.path.isfile(path):
            raise InputError("%s: %s is missing" % (directory, name))
        rows = []
        for line, values in read_table(path, kind, encoding):
            try:
                rows.append((canonical_record(kind, values), line))
            except ValueError as e:
                raise InputError("%s:%d: %s: %s" % (name, line, e.args[0], e.args[1]))
        # §1 record order; duplicate ids are an input error.
        id_len = 2 if kind == "conflicts" else 1
        rows.sort(key=lambda r: r[0][:id_len])
        for (a, line_a), (b, line_b) in zip(rows, rows[1:]):
            if a[:id_len] == b[:id_len]:
                raise InputError("%s:%d and line %d: duplicate id %s" % (name, line_a, line_b, ",".join(a[:id_len])))
        pool.records[kind] = [r for r, _ in rows]
        pool.snapshot[kind] = snapshot_hash(kind, pool.records[kind])
    _check_references(pool)
    if "conflicts" in pool.records:
        pool.conflicts = {(c[0], c[1]) for c in pool.records["conflicts"]}
    return pool


def _check_references(pool):
    """DATA.md cross-file rules: departments exist; conflicts name real
    officers and targets."""
    departments = {d[0] for d in pool.records["departments"]}
    for kind in ("items", "inspectors"):
        for r in pool.records[kind]:
            if r[2] not in departments:
                raise InputError("%s.csv: %s: unknown department %s" % (kind, r[0], r[2]))
    if "conflicts" in pool.records:
        certs = {o[0] for o in pool.records["inspectors"]}
        codes = {t[0] for t in pool.records["targets"]}
        for cert, code, _ in pool.records["conflicts"]:
            if cert not in certs:
                raise InputError("conflicts.csv: unknown officer %s" % cert)
            if code not in codes:
                raise InputError("conflicts.csv: unknown target %s" % code)


# ---------------------------------------------------------------------------
# §4 The plan, §7 the history
# ---------------------------------------------------------------------------

PLAN_KEYS = {"id", "name", "department", "inspection_date", "items", "targets", "quota",
             "exclude_inspected_within_days", "team_size", "workload_cap", "recusal"}
# Present only when used: joint plans (§13) and plans that merge (§14).
OPTIONAL_PLAN_KEYS = {"joint", "merge_with"}


class Plan:
    """plan.json as drawn (§4, §13, §14)."""

    def __init__(self, doc):
        if not isinstance(doc, dict):
            raise InputError("plan.json is not a JSON object")
        unknown = set(doc) - PLAN_KEYS - OPTIONAL_PLAN_KEYS
        if unknown:
            # §4: an extension this verifier does not implement is refused,
            # never verified as if the plan were a plain one.
            raise InputError("plan.json has keys this verifier does not implement: %s"
                             % ", ".join(sorted(unknown)))
        try:
            self.id = doc["id"]
            self.name = doc["name"]
            self.department = doc["department"]
            self.inspection_date = _parse_iso_date(doc["inspection_date"])
            # §4: as written, so a plan.json that no reader could have
            # produced is refused, as shuangsui refuses it.
            for key in ("id", "name", "department"):
                if not isinstance(doc[key], str) or not doc[key] or trim(doc[key]) != doc[key]:
                    raise ValueError("%s must be a non-empty, trimmed string" % key)
            if not _ID_RE.match(self.id):
                raise ValueError("id %r is not a plan number" % self.id)
            self.items = list(doc["items"])
            if not self.items or self.items != sorted(set(self.items), key=sort_key):
                raise ValueError("items must be a non-empty, sorted list without repeats")
            filters = doc["targets"]
            for key in ("townships", "entity_types", "industries"):
                values = filters[key]
                if (values != sorted(set(values), key=sort_key)
                        or not all(isinstance(x, str) and x and trim(x) == x for x in values)):
                    raise ValueError("targets.%s must be trimmed, non-empty values, sorted, without repeats" % key)
            self.townships = set(filters["townships"])
            self.entity_types = set(filters["entity_types"])
            self.industries = set(filters["industries"])
            quota = doc["quota"]
            self.count = None
            self.ratios_bp = None  # None: each item's own ratios
            if quota == "item_ratios":
                pass
            elif isinstance(quota, dict) and set(quota) == {"ratios_bp"}:
                self.ratios_bp = [int(r) for r in quota["ratios_bp"]]
                if len(self.ratios_bp) != 4 or not all(0 <= r <= 10000 for r in self.ratios_bp):
                    raise ValueError("quota.ratios_bp must be four integers 0..10000")
            elif isinstance(quota, dict) and set(quota) == {"count"}:
                self.count = int(quota["count"])
                if self.count < 1:
                    raise ValueError("quota.count must be at least 1")
            else:
                raise ValueError("unknown quota %r" % (quota,))
            self.exclude_days = _u32(doc, "exclude_inspected_within_days")
            self.team_size = _u32(doc, "team_size")
            self.workload_cap = _u32(doc, "workload_cap")
            recusal = doc["recusal"]
            self.same_township = bool(recusal["same_township"])
            self.previous_inspector = bool(recusal["previous_inspector"])
            declared = recusal.get("declared", True)
            # §13: participants, sorted, distinct, never the initiator.
            self.participants = None
            if "joint" in doc:
                joint = doc["joint"]
                if not isinstance(joint, dict) or set(joint) != {"participants"}:
                    raise ValueError("joint must be {\"participants\": [...]}")
                self.participants = list(joint["participants"])
                if (not self.participants or self.participants != sorted(set(self.participants), key=sort_key)
                        or self.department in self.participants):
                    raise ValueError("joint.participants must be sorted, distinct, non-empty and "
                                     "not name the initiating department")
                if self.count is None and self.ratios_bp is None:
                    raise ValueError("a joint plan needs quota ratios_bp or count, not item_ratios")
            # §14: earlier plans of the period, in the order that decides.
            self.merge_with = None
            if "merge_with" in doc:
                self.merge_with = list(doc["merge_with"])
                if (not self.merge_with or len(set(self.merge_with)) != len(self.merge_with)
                        or self.id in self.merge_with
                        or not all(isinstance(m, str) and _ID_RE.match(m) for m in self.merge_with)):
                    raise ValueError("merge_with must be distinct plan ids other than the plan's own")
        except (KeyError, TypeError, ValueError) as e:
            raise InputError("plan.json: %s" % (e if not isinstance(e, KeyError) else "missing key %s" % e))
        if declared is not True:
            raise InputError("plan.json: recusal.declared must be true (declared recusal always applies)")
        if self.exclude_days < 0 or self.team_size < 2 or self.workload_cap < 1:
            raise InputError("plan.json: exclude_inspected_within_days >= 0, team_size >= 2, workload_cap >= 1")
        # The departments whose officers serve: the initiator first (§13.2).
        self.departments = [self.department] + (self.participants or [])


def _u32(doc, key):
    """A plan number field: a JSON integer 0 .. 2^32 - 1, as shuangsui reads it."""
    value = doc[key]
    if type(value) is not int or not 0 <= value < 1 << 32:
        raise ValueError("%s must be an integer from 0 to 4294967295" % key)
    return value


def _parse_iso_date(text):
    if not re.match(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z", text or ""):
        raise ValueError("date %r is not YYYY-MM-DD" % (text,))
    return datetime.date.fromisoformat(text)


class History:
    """The bundle's history.csv (§7): earlier inspections."""

    def __init__(self, raw):
        text = decode_bytes(raw, "utf-8", "history.csv")
        rows = read_csv_rows(text, "history.csv")
        columns = ("credit_code", "item_code", "date", "officers")
        try:
            _, header = next(rows)
        except StopIteration:
            raise InputError("history.csv is empty (no header row)")
        header = [trim(h) for h in header]
        if any(c not in header for c in columns):
            raise InputError("history.csv: the header must hold %s" % ",".join(columns))
        where = [header.index(c) for c in columns]
        records = set()
        for line, row in rows:
            if len(row) != len(header):
                raise InputError("history.csv:%d: %d fields, the header has %d" % (line, len(row), len(header)))
            code, item, date, officers = (trim(row[i]) for i in where)
            try:
                date = _parse_iso_date(date).isoformat()
            except ValueError as e:
                raise InputError("history.csv:%d: %s" % (line, e))
            # Officers keep their order (leader first); only the spacing of
            # the ;-separated list is normalised.
            officers = ";".join(o for o in (trim(o) for o in officers.split(";")) if o)
            records.add((code, item, date, officers))
        self.records = sorted(records)

    def sha256(self):
        """§7 history hash over the sorted, de-duplicated records."""
        return list_hash("shuangsui/v1/history", [record_hash(r) for r in self.records])


# ---------------------------------------------------------------------------
# §5 Drawing targets
# ---------------------------------------------------------------------------

class Stratum:
    def __init__(self, item, cls, eligible, drawn):
        self.item, self.cls, self.eligible, self.drawn = item, cls, eligible, drawn


def draw_targets(pool, plan, history, seed):
    """§5.  Returns (visits, strata): visits is a list of (target index,
    [item codes]) in credit-code order; strata lists every stratum drawn."""
    items = {r[0]: r for r in pool.records["items"]}
    departments = {d[0] for d in pool.records["departments"]}
    for department in plan.departments:
        if department not in departments:
            raise InputError("plan department %s is not in departments.csv" % department)
    for code in plan.items:
        if code not in items:
            raise InputError("plan item %s is not in items.csv" % code)
        if items[code][2] not in plan.departments:
            raise InputError("plan item %s belongs to %s, not %s" % (
                code, items[code][2], "、".join(plan.departments)))

    targets = pool.records["targets"]  # credit-code order
    # (credit code, item code) pairs inspected within the exclusion window.
    recent = set()
    if plan.exclude_days > 0:
        # d + N > inspection date, written so that no date overflows.
        for code, item, date, _ in history.records:
            if (plan.inspection_date - datetime.date.fromisoformat(date)).days < plan.exclude_days:
                recent.add((code, item))

    # The scope tests look only at (entity type, industry, township): decide
    # them once per distinct triple instead of once per target and item.
    profiles = {}
    profile_of = [profiles.setdefault((t[2], t[3], t[4]), len(profiles)) for t in targets]

    def in_scope(entity_type, industry, township, entity_types, industries):
        return ((not entity_types or entity_type in entity_types)
                and (not industries or industry in industries)
                and (not plan.entity_types or entity_type in plan.entity_types)
                and (not plan.industries or industry in plan.industries)
                and (not plan.townships or township in plan.townships))

    if plan.participants is not None:
        return draw_joint_targets(plan, seed, targets, profiles, profile_of, recent, items, in_scope)

    drawn_items = {}  # target index -> item codes, in item-code order
    strata = []
    for code in plan.items:
        item = items[code]
        entity_types = set(item[7].split(";")) if item[7] else set()
        industries = set(item[8].split(";")) if item[8] else set()
        ok = {p for key, p in profiles.items() if in_scope(*key, entity_types, industries)}
        eligible = [i for i, p in enumerate(profile_of) if p in ok]
        if recent:
            eligible = [i for i in eligible if (targets[i][0], code) not in recent]

        if plan.count is not None:
            if plan.count > len(eligible):
                raise Difference("item %s: count %d is more than its %d eligible targets, "
                                 "the draw is infeasible" % (code, plan.count, len(eligible)))
            groups = [("*", eligible, plan.count)]
        else:
            ratios = plan.ratios_bp or [int(r) for r in item[9:13]]
            by_class = {cls: [] for cls in CLASSES}
            for i in eligible:  # each stratum stays in credit-code order
                by_class[targets[i][5]].append(i)
            groups = [(cls, by_class[cls], (len(by_class[cls]) * r + 9999) // 10000)
                      for cls, r in zip(CLASSES, ratios)]

        for cls, stratum, k in groups:
            if k:
                Stream(seed, ("targets", code, cls)).pick(stratum, k)
            for index in stratum[:k]:
                drawn_items.setdefault(index, []).append(code)
            strata.append(Stratum(code, cls, len(stratum), k))

    visits = [(index, drawn_items[index]) for index in sorted(drawn_items)]
    return visits, strata


def draw_joint_targets(plan, seed, targets, profiles, profile_of, recent, items, in_scope):
    """§13.1: one draw over the union of the items' scopes.  A target's
    applicable items are those whose scope admits it and that the history
    does not exclude; targets with at least one are eligible."""
    scopes = []
    for code in plan.items:
        item = items[code]
        entity_types = set(item[7].split(";")) if item[7] else set()
        industries = set(item[8].split(";")) if item[8] else set()
        scopes.append((code, {p for key, p in profiles.items() if in_scope(*key, entity_types, industries)}))
    applicable = {}
    for i, p in enumerate(profile_of):
        codes = [code for code, ok in scopes if p in ok and (targets[i][0], code) not in recent]
        if codes:
            applicable[i] = codes
    eligible = sorted(applicable)
    if plan.count is not None:
        if plan.count > len(eligible):
            raise Difference("the joint plan's count %d is more than its %d eligible targets, "
                             "the draw is infeasible" % (plan.count, len(eligible)))
        groups = [("*", eligible, plan.count)]
    else:
        by_class = {cls: [] for cls in CLASSES}
        for i in eligible:
            by_class[targets[i][5]].append(i)
        groups = [(cls, by_class[cls], (len(by_class[cls]) * r + 9999) // 10000)
                  for cls, r in zip(CLASSES, plan.ratios_bp)]
    drawn = []
    strata = []
    for cls, stratum, k in groups:
        if k:
            Stream(seed, ("joint-targets", cls)).pick(stratum, k)
        drawn.extend(stratum[:k])
        # "*" is not an item code: it stands for the union of the items.
        strata.append(Stratum("*", cls, len(stratum), k))
    visits = [(index, applicable[index]) for index in sorted(drawn)]
    return visits, strata


# ---------------------------------------------------------------------------
# §6 Visits and teams (§13 joint plans, §14 merged visits)
# ---------------------------------------------------------------------------

class Shortage(Exception):
    pass


def visit_departments(plan, items, codes):
    """§13.2: the initiator, then each participant owning one of the
    visit's items, in plan order.  A plain plan has just its department."""
    owners = {items[c][2] for c in codes}
    return [d for k, d in enumerate(plan.departments) if k == 0 or d in owners]


def eligible_officers(pool, plan, history, visits, conflicts):
    """§6 rules 1–6 (§13.3 for joint plans): for each visit, a list of
    (department, eligible officer indices) in §13.2 order; indices are into
    the inspectors records, which are in cert_no order.  `conflicts` is the
    set of declared (cert_no, credit_code) pairs (empty when not known)."""
    officers = pool.records["inspectors"]
    targets = pool.records["targets"]
    items = {r[0]: r for r in pool.records["items"]}
    date = plan.inspection_date.isoformat()
    # Rules 1 and 2 do not depend on the visit.
    base = {d: [i for i, o in enumerate(officers) if o[2] == d and o[5] >= date] for d in plan.departments}
    areas = [set(o[3].split(";")) for o in officers]

    declared = {}
    for cert, code in conflicts:
        declared.setdefault(code, set()).add(cert)
    latest = {}  # credit code -> (date, set of officers of that date)
    if plan.previous_inspector:
        for code, _, day, team in history.records:
            seen = latest.get(code)
            if seen is None or day > seen[0]:
                latest[code] = (day, set(team.split(";")) if team else set())
            elif day == seen[0] and team:
                seen[1].update(team.split(";"))

    # Many visits share a field set and township: cache the rule 1–3 (and 5)
    # lists so only conflicts and the previous team are filtered per visit.
    cache = {}
    result = []
    for index, codes in visits:
        code, township = targets[index][0], targets[index][4]
        excluded = set(declared.get(code, ()))
        if plan.previous_inspector and code in latest:
            excluded |= latest[code][1]
        per_department = []
        for department in visit_departments(plan, items, codes):
            # The initiator with no item of its own on the visit requires no
            # field (§13.3).
            fields = frozenset(items[c][3] for c in codes if items[c][2] == department)
            key = (department, fields, township if plan.same_township else None)
            shared = cache.get(key)
            if shared is None:
                shared = [i for i in base[department] if fields <= areas[i]
                          and not (plan.same_township and officers[i][4] == township)]
                cache[key] = shared
            if excluded:
                shared = [i for i in shared if officers[i][0] not in excluded]
            per_department.append((department, shared))
        result.append(per_department)
    return result


def earlier_visits(plan, merged):
    """§14: credit code -> (rank in merge_with, officers) of the earlier
    visit a target joins: that of the first named plan visiting it."""
    order = {pid: k for k, pid in enumerate(plan.merge_with or ())}
    earlier = {}
    for pid, _, code, _, officers in merged or ():
        rank = order[pid]
        if code not in earlier or rank < earlier[code][0]:
            earlier[code] = (rank, [c for c in officers.split(";") if c])
    return earlier


def merge_ranks(pool, plan, visits, merged):
    """Per visit, the rank of the earlier plan it joins, or None."""
    earlier = earlier_visits(plan, merged)
    targets = pool.records["targets"]
    return [earlier.get(targets[t][0], (None,))[0] for t, _ in visits]


def merge_visits(pool, plan, visits, eligible, merged):
    """§14: for each visit, the rank (in merge_with) of the earlier visit it
    joins or None; which visits the earlier team serves; and the eligible
    lists with rule 7 applied to the others.  `merged` holds the merge.csv
    records (plan_id, date, credit_code, item_codes, officers)."""
    ranks = [None] * len(visits)
    served = {}
    if not merged:
        return ranks, served, eligible
    earlier = earlier_visits(plan, merged)
    index = {o[0]: i for i, o in enumerate(pool.records["inspectors"])}
    targets = pool.records["targets"]
    size = plan.team_size
    eligible = list(eligible)
    for p, (t, _) in enumerate(visits):
        found = earlier.get(targets[t][0])
        if found is None:
            continue
        ranks[p], team = found
        per_department = eligible[p]
        may_serve = len(team) == size * len(per_department) and all(
            index.get(cert) in set(allowed)
            for k, (_, allowed) in enumerate(per_department)
            for cert in team[k * size:(k + 1) * size])
        if may_serve:
            served[p] = [index[c] for c in team]
        else:
            # Rule 7: the earlier team stays off this visit's own team.
            gone = set(team)
            officers = pool.records["inspectors"]
            eligible[p] = [(d, [i for i in allowed if officers[i][0] not in gone]) for d, allowed in per_department]
    return ranks, served, eligible


class Tickets:
    """§6 tickets: officer i's ticket for load L is the first word of the
    stream ["ticket", cert_no, L in decimal ASCII].  Loads rise together
    (least-loaded first), so when a ticket is missing the officer's next
    tickets are computed in one batch; a few past the final load are wasted."""

    BATCH = 64

    def __init__(self, seed, officers, cap):
        self.seed, self.officers, self.cap = seed, officers, cap
        self.cache = {}  # officer index -> {load: ticket}

    def first(self, indices):
        """Tickets for load 0 of many officers, in one batch."""
        todo = [i for i in indices if i not in self.cache]
        words = first_words(self.seed, [("ticket", self.officers[i][0], "0") for i in todo])
        for i, w in zip(todo, words):
            self.cache[i] = {0: w}

    def get(self, i, load):
        mine = self.cache.setdefault(i, {})
        if load not in mine:
            loads = range(load, min(load + self.BATCH, self.cap))
            words = first_words(self.seed, [("ticket", self.officers[i][0], str(L)) for L in loads])
            mine.update(zip(loads, words))
        return mine[load]


def assign_teams(pool, plan, seed, visits, eligible, served=None):
    """§6 (§13.4–13.5) processing order and assignment.  Returns one team
    (officer indices, leader first) per visit, in visit order; raises
    Shortage.  Visits in `served` (§14) keep the earlier team given there."""
    served = served or {}
    targets = pool.records["targets"]
    order = list(range(len(visits)))
    Stream(seed, ("visits",)).pick(order, len(order))
    # Stable: hardest visits first, by the department with the fewest.
    order.sort(key=lambda p: min(len(allowed) for _, allowed in eligible[p]))

    # An officer's key (load, ticket, cert_no) is kept as one integer so that
    # heapq compares plain ints: load above the 64-bit ticket, then the
    # officer's index, which is cert_no order (records are sorted by cert_no).
    # An officer at the workload cap gets at_cap, larger than any real key.
    officers = pool.records["inspectors"]
    n = len(officers)
    cap, size = plan.workload_cap, plan.team_size
    at_cap = (cap << 64) * n

    tickets = Tickets(seed, officers, cap)

    def key(i, load):
        if load >= cap:
            return at_cap
        return ((load << 64) | tickets.get(i, load)) * n + i

    # Keys of the officers eligible for some visit (the others never count).
    load = [0] * n
    keys = [None] * n
    candidates = sorted({i for per_department in eligible for _, allowed in per_department for i in allowed})
    tickets.first(candidates)
    for i in candidates:
        keys[i] = key(i, 0)

    teams = [served.get(p) for p in range(len(visits))]
    shortages = []
    for p in order:
        if p in served:
            continue
        team = []
        short = False
        for department, allowed in eligible[p]:
            smallest = heapq.nsmallest(size, map(keys.__getitem__, allowed))
            if len(smallest) < size or smallest[-1] >= at_cap:
                available = sum(1 for i in allowed if load[i] < cap)
                shortages.append((targets[visits[p][0]][0], department, available))
                short = True
                continue
            team.extend(k % n for k in smallest)  # ascending key order: leader first
        if short:
            continue
        for i in team:
            load[i] += 1
            keys[i] = key(i, load[i])  # the ticket for the new load
        teams[p] = team
    if shortages:
        listed = ", ".join("%s %s (%d available)" % s for s in shortages[:5])
        raise Shortage("%d visit(s) cannot get a full team of %d: %s%s" % (
            len(shortages), size, listed, " …" if len(shortages) > 5 else ""))
    return teams


def draw_teams(pool, plan, history, seed, visits, merged=None):
    """§6, §13 and §14 together: (teams, merge ranks) for the visits."""
    eligible = eligible_officers(pool, plan, history, visits, pool.conflicts or set())
    ranks, served, eligible = merge_visits(pool, plan, visits, eligible, merged)
    return assign_teams(pool, plan, seed, visits, eligible, served), ranks


def check_public_team_rules(pool, plan, history, visits, team_texts, label, merged=None):
    """Without conflicts.csv the teams cannot be re-drawn (§6 processing
    order depends on it), but each listed team can still be checked against
    the rules that do not: §6 rules 1–3, 5, 6 (§13.3), each department's
    block of the team (§13.5), the team size, the cap and, for merged visits,
    §14: the earlier team unchanged, or a team without any of its officers."""
    index = {o[0]: i for i, o in enumerate(pool.records["inspectors"])}
    eligible = eligible_officers(pool, plan, history, visits, set())
    targets = pool.records["targets"]
    earlier = {code: ";".join(team) for code, (_, team) in earlier_visits(plan, merged).items()}
    size = plan.team_size
    load = collections.Counter()
    for (t, _), team_text, per_department in zip(visits, team_texts, eligible):
        team = team_text.split(";")
        code = targets[t][0]
        if len(team) != size * len(per_department) or len(set(team)) != len(team):
            raise Difference("%sassignments.csv: %s has team %s, not %d different officers from each of %s"
                             % (label, code, team_text, size, "、".join(d for d, _ in per_department)))
        for k, (department, allowed) in enumerate(per_department):
            allowed = set(allowed)
            for cert in team[k * size:(k + 1) * size]:
                if index.get(cert) not in allowed:
                    raise Difference("%sassignments.csv: officer %s may not inspect %s for %s (§6 rules 1–3, 5, 6)"
                                     % (label, cert, code, department))
        if code in earlier:
            if team_text == earlier[code]:
                continue  # the earlier team serves: no load in this plan
            if set(team) & set(earlier[code].split(";")):
                raise Difference("%sassignments.csv: %s's team shares officers with the earlier team %s (§14 rule 7)"
                                 % (label, code, earlier[code]))
        for cert in team:
            load[cert] += 1
    for cert, n in load.items():
        if n > plan.workload_cap:
            raise Difference("%sassignments.csv: officer %s has %d visits, the cap is %d"
                             % (label, cert, n, plan.workload_cap))


# ---------------------------------------------------------------------------
# §7 The result hashes, §8 assignments.csv
# ---------------------------------------------------------------------------

def selection_sha256(rows):
    return list_hash("shuangsui/v1/selection", [record_hash((r.code, r.items)) for r in rows])


def result_sha256(rows):
    return list_hash("shuangsui/v1/result", [record_hash((r.code, r.items, r.team)) for r in rows])


class Row:
    """One visit as published: credit code, item codes, team (all texts),
    and for joint or merging plans the departments and the earlier plan."""

    def __init__(self, code, name, items, item_names, team, risk_class, departments="", merged=""):
        self.code, self.name, self.items, self.item_names = code, name, items, item_names
        self.team, self.risk_class = team, risk_class
        self.departments, self.merged = departments, merged


def result_rows(pool, visits, teams, plan=None, ranks=None):
    """The visits as §7/§8 texts; `teams` holds team texts (cert numbers
    joined with ;), or None where the team is not known.  With `plan`, the
    §13 departments column is derived from the team and `ranks` (§14) names
    the earlier plans."""
    targets = pool.records["targets"]
    names = {r[0]: r[1] for r in pool.records["items"]}
    department_of = {o[0]: o[2] for o in pool.records["inspectors"]}
    rows = []
    for p, ((index, codes), team) in enumerate(zip(visits, teams)):
        t = targets[index]
        departments = merged = ""
        if plan is not None and plan.participants is not None and team:
            members = team.split(";")
            departments = ";".join(department_of.get(c, "") for c in members[::plan.team_size])
        if plan is not None and plan.merge_with is not None and ranks and ranks[p] is not None:
            merged = plan.merge_with[ranks[p]]
        rows.append(Row(t[0], t[1], ";".join(codes), "；".join(names[c] for c in codes), team, t[5],
                        departments, merged))
    return rows


ASSIGNMENTS_HEADER = ["序号", "统一社会信用代码", "名称", "抽查事项", "抽查事项名称", "组长", "检查人员"]


def assignments_header(plan, confidential):
    """§8: the public columns, then 检查部门 (joint plans, §13), 合并至
    (plans that merge, §14) and, in the confidential copy, 信用风险分类."""
    header = list(ASSIGNMENTS_HEADER)
    if plan is not None and plan.participants is not None:
        header.append("检查部门")
    if plan is not None and plan.merge_with is not None:
        header.append("合并至")
    if confidential:
        header.append("信用风险分类")
    return header


def csv_field(value):
    """RFC 4180, quoting only fields that hold , " CR or LF (§8)."""
    if any(c in value for c in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


def assignments_lines(rows, confidential, plan=None):
    """§8 assignments.csv as a list of lines (without the CRLF ends)."""
    lines = [",".join(assignments_header(plan, confidential))]
    joint = plan is not None and plan.participants is not None
    merging = plan is not None and plan.merge_with is not None
    for n, r in enumerate(rows, 1):
        leader = r.team.split(";")[0]
        values = [str(n), r.code, r.name, r.items, r.item_names, leader, r.team]
        if joint:
            values.append(r.departments)
        if merging:
            values.append(r.merged)
        if confidential:
            values.append(r.risk_class)
        lines.append(",".join(csv_field(v) for v in values))
    return lines


def assignments_csv(rows, confidential, plan=None):
    """§8 assignments.csv bytes: UTF-8 with BOM, CRLF line ends."""
    return ("\ufeff" + "".join(line + "\r\n" for line in assignments_lines(rows, confidential, plan))).encode("utf-8")


def bundle_teams(raw, confidential, plan=None):
    """The team column of a bundle's assignments.csv, for checks that cannot
    redraw the teams; also checks leader = first member."""
    text = decode_bytes(raw, "utf-8", "assignments.csv")
    rows = list(read_csv_rows(text, "assignments.csv"))[1:]
    width = len(assignments_header(plan, confidential))
    teams = []
    for line, row in rows:
        if len(row) != width:
            raise Difference("assignments.csv line %d has %d columns" % (line, len(row)))
        if row[5] != row[6].split(";")[0]:
            raise Difference("assignments.csv line %d: leader %s is not the first team member" % (line, row[5]))
        teams.append(row[6])
    return teams


def read_merge(raw, plan):
    """§14 merge.csv: the records (plan_id, date, credit_code, item_codes,
    officers), sorted and de-duplicated, each of a named plan and of this
    plan's inspection date."""
    text = decode_bytes(raw, "utf-8", "merge.csv")
    rows = read_csv_rows(text, "merge.csv")
    columns = ["plan_id", "date", "credit_code", "item_codes", "officers"]
    try:
        _, header = next(rows)
    except StopIteration:
        raise InputError("merge.csv is empty (no header row)")
    if [trim(h) for h in header] != columns:
        raise InputError("merge.csv: the header must be %s" % ",".join(columns))
    records = set()
    for line, row in rows:
        if len(row) != len(columns):
            raise InputError("merge.csv:%d: %d fields, the header has %d" % (line, len(row), len(columns)))
        record = tuple(row)
        if record[0] not in plan.merge_with:
            raise Difference("merge.csv:%d: plan %s is not named in merge_with" % (line, record[0]))
        if record[1] != plan.inspection_date.isoformat():
            raise Difference("merge.csv:%d: plan %s inspects on %s, this plan on %s: not one period"
                             % (line, record[0], record[1], plan.inspection_date.isoformat()))
        records.add(record)
    return sorted(records)


def merge_sha256(records):
    """§14: list("shuangsui/v1/merge", R…) over the sorted records."""
    return list_hash("shuangsui/v1/merge", [record_hash(r) for r in records])


# ---------------------------------------------------------------------------
# §12 Substitutions
# ---------------------------------------------------------------------------

SUBSTITUTIONS_FORMAT = "shuangsui-substitutions/1"
# The public copy's list: every reason is the neutral "adjustment" (§12).
PUBLIC_SUBSTITUTIONS_FORMAT = "shuangsui-substitutions/2"
SUBSTITUTION_REASONS = ("leave", "transfer", "conflict", "other")
PUBLIC_REASONS = ("adjustment",)


def read_substitutions(directory):
    """The folder's substitutions.json, or None when it has none."""
    path = os.path.join(directory, "substitutions.json")
    if not os.path.exists(path):
        return None
    try:
        log = json.loads(_read(path).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise InputError("%s is not valid UTF-8 JSON: %s" % (path, e))
    formats = (SUBSTITUTIONS_FORMAT, PUBLIC_SUBSTITUTIONS_FORMAT)
    if not isinstance(log, dict) or log.get("format") not in formats:
        raise InputError("%s: format is not %s or %s" % (path, SUBSTITUTIONS_FORMAT, PUBLIC_SUBSTITUTIONS_FORMAT))
    return log


def public_substitutions(log, public_format):
    """The public copy a confidential list must have beside it (§12): of
    format /2, without notes and with every reason "adjustment"; a copy of
    format /1, written before, is the list without its notes."""
    if log is None:
        return None
    public = dict(log)
    entries = []
    for entry in log["substitutions"]:
        entry = {k: v for k, v in entry.items() if k not in ("note", "relation")}
        if public_format != SUBSTITUTIONS_FORMAT:
            entry["reason"] = "adjustment"
        entries.append(entry)
    public["substitutions"] = entries
    if public_format != SUBSTITUTIONS_FORMAT:
        public["format"] = PUBLIC_SUBSTITUTIONS_FORMAT
    return public


def replay_substitutions(pool, plan, history, seed, visits, team_texts, log, manifest, label, report, merged=None):
    """§12: replays the list on the draw's teams.  With conflicts.csv each
    substitute is re-drawn; without it each substitute is checked against
    the rules that do not need the recusal list.  Returns the team texts
    after the last substitution.  For a plan that merges (§14), `merged`
    holds the earlier visits: a visit an earlier team serves cannot be
    changed and carries no load, and an earlier team's officers are not
    candidates for a visit that joined it with a team of its own."""
    name = label + "substitutions.json"
    _same(name + " plan_id", log.get("plan_id"), manifest["plan"]["id"])
    # Only the public copy withholds the reasons (§12).
    if manifest.get("visibility") == "confidential" and log.get("format") != SUBSTITUTIONS_FORMAT:
        raise Difference("%s withholds the reasons: the confidential copy keeps them (format %s)"
                         % (name, SUBSTITUTIONS_FORMAT))
    _same(name + " draw_result_sha256", log.get("draw_result_sha256"), manifest["result_sha256"])
    officers = pool.records["inspectors"]
    by_cert = {o[0]: o for o in officers}
    items = {r[0]: r for r in pool.records["items"]}
    targets = pool.records["targets"]
    date = plan.inspection_date.isoformat()
    full = pool.conflicts is not None
    declared = set(pool.conflicts or ())
    teams = [t.split(";") for t in team_texts]
    earlier = {code: team for code, (_, team) in earlier_visits(plan, merged).items()} if merged else {}
    served = {n for n, (index, _) in enumerate(visits) if earlier.get(targets[index][0]) == teams[n]}
    loads = collections.Counter(c for n, team in enumerate(teams) if n not in served for c in team)
    visit_of = {targets[index][0]: n for n, (index, _) in enumerate(visits)}
    removed = collections.defaultdict(set)
    entries = log.get("substitutions")
    if not isinstance(entries, list):
        raise InputError(name + ": substitutions must be a list")
    for seq, entry in enumerate(entries, 1):
        what = "%s entry %d" % (name, seq)
        if entry.get("seq") != seq:
            raise Difference("%s is numbered %r" % (what, entry.get("seq")))
        code, out, reason = entry.get("credit_code"), entry.get("out"), entry.get("reason")
        reasons = PUBLIC_REASONS if log.get("format") == PUBLIC_SUBSTITUTIONS_FORMAT else SUBSTITUTION_REASONS
        if reason not in reasons:
            raise Difference("%s: reason %r is not one of %s" % (what, reason, ", ".join(reasons)))
        v = visit_of.get(code)
        if v is None:
            raise Difference("%s: %s was not drawn" % (what, code))
        team = teams[v]
        if out not in team:
            raise Difference("%s: officer %s is not on the team for %s" % (what, out, code))
        if v in served:
            raise Difference("%s: the visit to %s is made by an earlier plan's team (§14) and cannot be "
                             "changed in this bundle" % (what, code))
        on_earlier = set(earlier.get(code, ()))
        # Step 1: the officer leaves.
        removed[v].add(out)
        loads[out] -= 1
        if reason == "conflict":
            declared.add((out, code))
        # Step 2: the candidates, in cert_no order.
        department = by_cert[out][2]
        fields = {items[c][3] for c in visits[v][1] if items[c][2] == department}
        township = targets[visits[v][0]][4]
        previous = set()
        if plan.previous_inspector:
            of_target = [r for r in history.records if r[0] == code]
            if of_target:
                latest = max(r[2] for r in of_target)
                previous = {c for r in of_target if r[2] == latest for c in r[3].split(";") if c}
        candidates = [
            o[0] for o in officers
            if o[2] == department and o[5] >= date and fields <= set(o[3].split(";"))
            and (o[0], code) not in declared
            and not (plan.same_township and o[4] == township)
            and o[0] not in previous
            and o[0] not in team and o[0] not in removed[v] and o[0] not in on_earlier
            and loads[o[0]] < plan.workload_cap
        ]
        incoming = entry.get("in")
        if full:
            # Step 4: the smallest (load, ticket, cert_no).
            if not candidates:
                raise Difference("%s: no officer can replace %s, yet the list names %s" % (what, out, incoming))
            tickets = first_words(seed, [("substitute", str(seq), c) for c in candidates])
            chosen = min(zip(candidates, tickets), key=lambda ct: (loads[ct[0]], ct[1], ct[0].encode()))[0]
            if chosen != incoming:
                raise Difference("%s (%s out of %s): the list names %s, the replay draws %s"
                                 % (what, out, code, incoming, chosen))
        elif incoming not in candidates:
            raise Difference("%s: substitute %s may not inspect %s (§12 step 2 without the recusal list)"
                             % (what, incoming, code))
        # Step 5: the substitute takes the place.
        team[team.index(out)] = incoming
        loads[incoming] += 1
    current = [";".join(t) for t in teams]
    _same(name + " result_sha256", log.get("result_sha256"), result_sha256(result_rows(pool, visits, current)))
    if full:
        report.ok("%s: all %d substitutions re-drawn; current result %s" % (name, len(entries), log["result_sha256"]))
    else:
        report.ok("%s: all %d substitutes obey every rule that does not need conflicts.csv; current result %s"
                  % (name, len(entries), log["result_sha256"]))
        report.skip("substitutes NOT RE-DRAWN: the choice depends on the confidential recusal list")
    return current


# ---------------------------------------------------------------------------
# §8 Verification
# ---------------------------------------------------------------------------

class Report:
    """Collects the printed lines; `out` may be any text stream."""

    def __init__(self, out):
        self.out = out
        self.skipped = []

    def say(self, text):
        self.out.write(text + "\n")

    def ok(self, text):
        self.say("ok  " + text)

    def skip(self, text):
        self.skipped.append(text)
        self.say("--  " + text)


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise InputError("cannot read %s: %s" % (path, e.strerror or e))


def _manifest(directory):
    raw = _read(os.path.join(directory, "manifest.json"))
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise InputError("%s: manifest.json is not valid UTF-8 JSON: %s" % (directory, e))
    if not isinstance(doc, dict):
        raise InputError("%s: manifest.json is not a JSON object" % directory)
    if doc.get("format") != BUNDLE_FORMAT:
        raise InputError("%s: unknown bundle format %r" % (directory, doc.get("format")))
    if doc.get("algorithm_version") != ALGORITHM_VERSION:
        # §9: a verifier must refuse a version it does not implement.
        raise InputError("algorithm version %r is not implemented by this verifier (it implements %d)"
                         % (doc.get("algorithm_version"), ALGORITHM_VERSION))
    if doc.get("visibility") not in ("confidential", "public"):
        raise InputError("%s: visibility must be confidential or public" % directory)
    return doc


def _get(doc, *path):
    """manifest[path…], or a Difference naming the missing key."""
    value = doc
    for key in path:
        if not isinstance(value, dict) or key not in value:
            raise Difference("manifest.json has no %s" % ".".join(path))
        value = value[key]
    return value


def _same(what, manifest_value, computed):
    if manifest_value != computed:
        raise Difference("%s: manifest says %s, recomputed %s" % (what, manifest_value, computed))


def _file_hash(manifest, name):
    for entry in _get(manifest, "files"):
        if isinstance(entry, dict) and entry.get("name") == name:
            return entry.get("sha256")
    raise Difference("manifest.json files has no entry for %s" % name)


def check_seed(manifest, report):
    """§2: the seed hex is canonical and ceremony seeds are recomputed."""
    seed_hex = _get(manifest, "seed", "hex")
    if not isinstance(seed_hex, str) or not _HEX64.match(seed_hex) or seed_hex != seed_hex.lower():
        raise Difference("seed.hex %r is not 64 lowercase hex characters" % (seed_hex,))
    source = _get(manifest, "seed", "source")
    kind = source.get("kind") if isinstance(source, dict) else None
    if kind == "ceremony":
        digits = ceremony_digits(_get(manifest, "seed", "source", "text"))
        _same("ceremony digits of %r" % source["text"], source.get("digits"), digits)
        _same("seed from ceremony digits %s" % digits, seed_hex, ceremony_seed(digits).hex())
        report.ok("seed %s = H(ceremony digits %s), recomputed from the text %r" % (seed_hex, digits, source["text"]))
    elif kind == "hex":
        report.ok("seed %s (given as hex)" % seed_hex)
    elif kind == "random":
        report.ok("seed %s (random: drawn by the computer, could not have been announced in advance)" % seed_hex)
    elif kind == "beacon":
        mix = beacon_mix(source, report)
        _same("seed from the beacon round", seed_hex, hashlib.sha256(b"shuangsui/v1/seed/beacon" + mix).hexdigest())
        report.ok("seed %s = H(beacon %s round %d)" % (seed_hex, source["chain"], source["round"]))
    elif kind == "commit_reveal":
        secret = _hex_bytes(source.get("secret"), 32, "seed.source.secret")
        _same("commitment = H(secret)", source.get("commitment"), hashlib.sha256(secret).hexdigest())
        beacon = source.get("beacon")
        mix = beacon_mix(beacon, report) if beacon is not None else b""
        _same("seed from the revealed secret", seed_hex,
              hashlib.sha256(b"shuangsui/v1/seed/commit" + secret + mix).hexdigest())
        report.ok("seed %s = H(revealed secret%s); the secret matches the published commitment %s" % (
            seed_hex, ", beacon round %d" % beacon["round"] if beacon else "", source["commitment"]))
    else:
        raise Difference("seed.source.kind %r is not hex, ceremony, random, beacon or commit_reveal" % (kind,))
    return bytes.fromhex(seed_hex)


def _hex_bytes(text, length, what):
    if not isinstance(text, str) or len(text) != 2 * length or not all(c in "0123456789abcdef" for c in text):
        raise Difference("%s is not %d lowercase hex bytes" % (what, length))
    return bytes.fromhex(text)


def beacon_mix(record, report):
    """§2: a beacon round's contribution, u64be(round) ‖ randomness, after
    checking randomness = H(signature). The BLS signature itself needs a
    BLS12-381 pairing, which the standard library lacks: say so."""
    if not isinstance(record, dict) or not isinstance(record.get("round"), int):
        raise Difference("the beacon record has no round number")
    signature = bytes.fromhex(record.get("signature", ""))
    randomness = _hex_bytes(record.get("randomness"), 32, "beacon randomness")
    _same("beacon randomness = H(signature)", randomness.hex(), hashlib.sha256(signature).hexdigest())
    report.skip("the BLS signature of %s round %d against the chain's public key (needs BLS12-381; "
                "`shuangsui verify` checks it)" % (record.get("chain"), record["round"]))
    return struct.pack(">Q", record["round"]) + randomness


def compare_lines(name, expected, actual_raw):
    """§8: compare assignments.csv line by line, naming the first difference."""
    if not actual_raw.startswith(b"\xef\xbb\xbf"):
        raise Difference("%s does not start with the UTF-8 BOM" % name)
    try:
        actual = actual_raw.decode("utf-8")[1:]
    except UnicodeDecodeError:
        raise Difference("%s is not valid UTF-8" % name)
    if not actual.endswith("\r\n"):
        raise Difference("%s does not end with CRLF" % name)
    actual = actual[:-2].split("\r\n")
    for n, (want, have) in enumerate(zip(expected, actual), 1):
        if want != have:
            raise Difference("%s line %d differs:\n    bundle:     %s\n    recomputed: %s" % (name, n, have, want))
    if len(expected) != len(actual):
        n = min(len(expected), len(actual)) + 1
        raise Difference("%s has %d lines, recomputed %d (first difference at line %d)" % (
            name, len(actual), len(expected), n))


def verify_copy(directory, label, pool, draws, report):
    """Verifies one bundle folder (confidential or public) against `pool`.
    Returns its manifest.  Raises Difference on the first difference."""
    manifest = _manifest(directory)
    confidential = manifest["visibility"] == "confidential"
    report.say("%s bundle %s" % (manifest["visibility"], directory))

    # Plan hash (plan.json bytes).
    plan_raw = _read(os.path.join(directory, "plan.json"))
    plan_sha = hashlib.sha256(plan_raw).hexdigest()
    _same(label + "plan.json sha256 (manifest plan.sha256)", _get(manifest, "plan", "sha256"), plan_sha)
    _same(label + "plan.json sha256 (manifest files)", _file_hash(manifest, "plan.json"), plan_sha)
    try:
        plan = Plan(json.loads(plan_raw.decode("utf-8")))
    except (UnicodeDecodeError, ValueError) as e:
        raise InputError("%splan.json is not valid UTF-8 JSON: %s" % (label, e))
    _same("plan id", _get(manifest, "plan", "id"), plan.id)
    _same("plan name", _get(manifest, "plan", "name"), plan.name)
    _same("plan content (manifest plan.content)", _get(manifest, "plan", "content"),
          json.loads(plan_raw.decode("utf-8")))
    report.ok("%splan.json sha256 %s matches the manifest (plan %s)" % (label, plan_sha, plan.id))

    seed = check_seed(manifest, report)

    history_raw = _read(os.path.join(directory, "history.csv"))
    _same(label + "history.csv sha256 (manifest files)", _file_hash(manifest, "history.csv"),
          hashlib.sha256(history_raw).hexdigest())
    history = History(history_raw)
    _same("history_sha256", _get(manifest, "history_sha256"), history.sha256())
    report.ok("%shistory.csv: %d earlier inspection(s), history_sha256 %s" % (
        label, len(history.records), history.sha256()))

    # §14: the earlier visits of the period a merging plan joined.
    merged = None
    if plan.merge_with is not None:
        sources = _get(manifest, "merge_sources")
        ids = [s.get("plan_id") for s in sources] if isinstance(sources, list) else None
        if ids != plan.merge_with:
            raise Difference("merge_sources are of %s, the plan names %s" % (ids, plan.merge_with))
        merge_raw = _read(os.path.join(directory, "merge.csv"))
        _same(label + "merge.csv sha256 (manifest files)", _file_hash(manifest, "merge.csv"),
              hashlib.sha256(merge_raw).hexdigest())
        merged = read_merge(merge_raw, plan)
        _same("merge_sha256", _get(manifest, "merge_sha256"), merge_sha256(merged))
        report.ok("%smerge.csv: %d earlier visit(s) of %s, merge_sha256 %s" % (
            label, len(merged), ", ".join(plan.merge_with), manifest["merge_sha256"]))
    elif any(k in manifest for k in ("merge_sources", "merge_sha256")) or \
            os.path.exists(os.path.join(directory, "merge.csv")):
        raise Difference("%sthe bundle carries merge inputs, but its plan merges with no plan" % label)

    # Snapshots, naming the file that differs.
    for kind in KINDS:
        if kind not in pool.snapshot:
            report.skip("conflicts.csv snapshot NOT CHECKED: the confidential recusal list was not given")
            continue
        if _get(manifest, "snapshot", kind) != pool.snapshot[kind]:
            raise Difference("pool file %s.csv differs from the one drawn: snapshot %s, manifest says %s"
                             % (kind, pool.snapshot[kind], manifest["snapshot"][kind]))
    if "conflicts" in pool.snapshot:
        _same("snapshot_combined", _get(manifest, "snapshot_combined"), combined_snapshot(pool.snapshot))
        report.ok("pool snapshots of all five files match; combined %s" % manifest["snapshot_combined"])
    else:
        # The combined hash needs S_conflicts: take it from the manifest, so
        # at least the combination of the four checked files is consistent.
        claimed = dict(pool.snapshot, conflicts=_get(manifest, "snapshot", "conflicts"))
        _same("snapshot_combined", _get(manifest, "snapshot_combined"), combined_snapshot(claimed))
        report.ok("pool snapshots of departments, items, inspectors, targets match")

    # §5: the target draw.
    # A confidential bundle and its public copy are the same draw: redo it once.
    key = (plan_sha, history.sha256(), manifest["seed"]["hex"], merge_sha256(merged) if merged is not None else None)
    if key not in draws:
        draws[key] = dict(zip(("visits", "strata"), draw_targets(pool, plan, history, seed)))
    draw = draws[key]
    visits, strata = draw["visits"], draw["strata"]
    partial = pool.conflicts is None
    no_teams = [None] * len(visits)
    selection = selection_sha256(result_rows(pool, visits, no_teams, plan))
    _same("selection_sha256 (the drawn targets and items)", _get(manifest, "selection_sha256"), selection)
    item_checks = sum(len(codes) for _, codes in visits)
    _same("counts.visits", _get(manifest, "counts", "visits"), len(visits))
    _same("counts.item_checks", _get(manifest, "counts", "item_checks"), item_checks)
    if confidential:
        # In count mode the one stratum's class is JSON null in the manifest
        # (its stream label is "*"); see the report on §8.
        computed = [{"item": s.item, "class": None if s.cls == "*" else s.cls,
                     "eligible": s.eligible, "drawn": s.drawn} for s in strata]
        _same("strata", _get(manifest, "strata"), computed)
    elif "strata" in manifest:
        raise Difference("the public manifest.json publishes per-class counts (strata)")
    report.ok("targets re-drawn: %d visits, %d item checks%s; selection_sha256 %s" % (
        len(visits), item_checks, ", strata counts match" if confidential else "", selection))

    # §6: the teams.
    assignments_raw = _read(os.path.join(directory, "assignments.csv"))
    if partial:
        team_texts = bundle_teams(assignments_raw, confidential, plan)
        if len(team_texts) != len(visits):
            raise Difference("%sassignments.csv has %d visits, recomputed %d" % (label, len(team_texts), len(visits)))
        check_public_team_rules(pool, plan, history, visits, team_texts, label, merged)
        # Which earlier visit each visit joins does not depend on conflicts.
        rows = result_rows(pool, visits, team_texts, plan, merge_ranks(pool, plan, visits, merged))
        report.ok("%steams obey every rule that does not need conflicts.csv: size %d, department, "
                  "certificate, qualification, %sworkload cap %d" % (
                      label, plan.team_size,
                      "".join(r for r, on in (("same-township recusal, ", plan.same_township),
                                              ("previous-inspector recusal, ", plan.previous_inspector)) if on),
                      plan.workload_cap))
        report.skip("teams (officer assignment) NOT RE-DRAWN: the draw depends on the confidential "
                    "recusal list conflicts.csv, which was not given")
    else:
        if "teams" not in draw:
            try:
                draw["teams"] = draw_teams(pool, plan, history, seed, visits, merged)
            except Shortage as e:
                raise Difference("the draw cannot be reproduced: %s" % e)
        teams, ranks = draw["teams"]
        certs = [o[0] for o in pool.records["inspectors"]]
        rows = result_rows(pool, visits, [";".join(certs[i] for i in t) for t in teams], plan, ranks)

    expected = assignments_lines(rows, confidential, plan)
    compare_lines(label + "assignments.csv", expected, assignments_raw)
    if partial:
        report.ok("%sassignments.csv: all %d rows match except the team columns (组长, 检查人员)" % (label, len(rows)))
    else:
        report.ok("%sassignments.csv: all %d rows reproduced exactly" % (label, len(rows)))
    _same(label + "assignments.csv sha256 (manifest files)", _file_hash(manifest, "assignments.csv"),
          hashlib.sha256(assignments_raw).hexdigest())

    result = result_sha256(rows)
    _same("result_sha256", _get(manifest, "result_sha256"), result)
    if partial:
        report.ok("result_sha256 %s is consistent with the teams listed in assignments.csv "
                  "(the teams themselves were not re-drawn)" % result)
    else:
        officers = len({c for r in rows for c in r.team.split(";")})
        _same("counts.officers", _get(manifest, "counts", "officers"), officers)
        report.ok("teams re-drawn: %d officers; result_sha256 %s" % (officers, result))

    log = read_substitutions(directory)
    if log is not None:
        replay_substitutions(pool, plan, history, seed, visits, [r.team for r in rows], log, manifest, label, report,
                             merged)
    return manifest


def verify(bundle, data, encoding="detect", no_conflicts=False, out=None, pool=None):
    """Verifies a bundle; prints what was checked to `out` and returns the
    exit code (0 verified or partially verified, 1 difference, 2 input
    error).  `pool` may be a Pool already loaded from `data`."""
    report = Report(out or sys.stdout)
    try:
        if pool is None:
            pool = load_pool(data, encoding, use_conflicts=not no_conflicts)
        report.say("pool %s" % data)
        draws = {}
        manifest = verify_copy(bundle, "", pool, draws, report)
        if manifest["visibility"] == "confidential":
            public = os.path.join(bundle, "public")
            if not os.path.isdir(public):
                raise InputError("%s has no public/ copy" % bundle)
            public_manifest = verify_copy(public, "public/", pool, draws, report)
            if public_manifest["visibility"] != "public":
                raise Difference("public/manifest.json says visibility %r" % public_manifest["visibility"])
            # The public copy must publish the same draw: every manifest key
            # is equal except visibility, strata and the assignments.csv hash.
            for k in manifest:
                if k in ("visibility", "strata", "files"):
                    continue
                if public_manifest.get(k) != manifest[k]:
                    raise Difference("public/manifest.json %s differs from the confidential manifest" % k)
            shared = ("plan.json", "history.csv") + (("merge.csv",) if "merge_sha256" in manifest else ())
            for name in shared:
                if _file_hash(public_manifest, name) != _file_hash(manifest, name):
                    raise Difference("public/%s differs from the confidential copy" % name)
            report.ok("the public copy publishes the same draw, without risk classes or per-class counts")
            log, public_log = read_substitutions(bundle), read_substitutions(public)
            public_format = public_log.get("format") if public_log is not None else PUBLIC_SUBSTITUTIONS_FORMAT
            if public_substitutions(log, public_format) != public_log:
                raise Difference("public/substitutions.json is not substitutions.json without its confidential "
                                 "notes and reasons")
    except InputError as e:
        report.say("ERROR: %s" % e)
        return 2
    except Difference as e:
        report.say("NOT VERIFIED: %s" % e)
        return 1
    if report.skipped:
        report.say("partially verified: everything else is reproduced exactly; NOT checked: "
                   + "; ".join(report.skipped))
    else:
        report.say("verified: %s is reproduced exactly from its seed, plan, history and pool" % bundle)
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Independently re-check a shuangsui draw (algorithm version 1) from its bundle and pool.")
    parser.add_argument("bundle", metavar="BUNDLE_DIR", help="the bundle folder, or its public/ copy")
    parser.add_argument("--data", metavar="POOL_DIR", required=True, help="the pool folder the draw used")
    parser.add_argument("--encoding", choices=("utf-8", "gbk", "detect"), default="detect",
                        help="encoding of the pool files (default: detect)")
    parser.add_argument("--no-conflicts", action="store_true",
                        help="ignore conflicts.csv and check only what does not depend on it")
    args = parser.parse_args(argv)
    return verify(args.bundle, args.data, args.encoding, args.no_conflicts)


if __name__ == "__main__":
    sys.exit(main())
