#!/usr/bin/env python3
"""Checks that a shuangsui ledger extends a signed checkpoint saved earlier.

An independent implementation of docs/LEDGER.md, standard library only:

    python3 tools/checkpoint.py --checkpoint saved.checkpoint \
        --key 'shuangsui/…+1a2b3c4d+AU…' --entries entries.json

`entries.json` is the ledger's entries as `GET /api/v1/ledger?after=N&limit=M`
lists them (one JSON array; join the pages). The note's Ed25519 signature is
checked under the key, every entry's hash and the chain are recomputed, and
the RFC 6962 Merkle root of the first SIZE entries must be the checkpoint's.
Exit 0: the ledger extends the checkpoint; 1: it does not (truncated,
rewritten, or the signature does not verify); 2: an input cannot be read.
"""

import argparse
import base64
import hashlib
import json
import struct
import sys

# --- Ed25519 verification, after the reference code of RFC 8032 §6 --------

_P = 2**255 - 19
_Q = 2**252 + 27742317777372353535851937790883648493
_D = -121665 * pow(121666, _P - 2, _P) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)


def _add(a, b):
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    aa = (y1 - x1) * (y2 - x2) % _P
    bb = (y1 + x1) * (y2 + x2) % _P
    cc = 2 * t1 * t2 * _D % _P
    dd = 2 * z1 * z2 % _P
    e, f, g, h = bb - aa, dd - cc, dd + cc, bb + aa
    return (e * f, g * h, f * g, e * h)


def _mul(s, point):
    result = (0, 1, 1, 0)
    while s > 0:
        if s & 1:
            result = _add(result, point)
        point = _add(point, point)
        s >>= 1
    return result


def _equal(a, b):
    return (a[0] * b[2] - b[0] * a[2]) % _P == 0 and (a[1] * b[2] - b[1] * a[2]) % _P == 0


def _recover_x(y, sign):
    if y >= _P:
        return None
    x2 = (y * y - 1) * pow(_D * y * y + 1, _P - 2, _P)
    if x2 % _P == 0:
        return None if sign else 0
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P != 0:
        x = x * _SQRT_M1 % _P
    if (x * x - x2) % _P != 0:
        return None
    if (x & 1) != sign:
        x = _P - x
    return x


_GY = 4 * pow(5, _P - 2, _P) % _P
_GX = _recover_x(_GY, 0)
_G = (_GX, _GY, 1, _GX * _GY % _P)


def _decompress(data):
    if len(data) != 32:
        return None
    y = int.from_bytes(data, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    x = _recover_x(y, sign)
    if x is None:
        return None
    return (x, y, 1, x * y % _P)


def ed25519_verify(public, message, signature):
    """RFC 8032 Ed25519 verification (cofactorless, S < q)."""
    if len(public) != 32 or len(signature) != 64:
        return False
    a = _decompress(public)
    r = _decompress(signature[:32])
    if a is None or r is None:
        return False
    s = int.from_bytes(signature[32:], "little")
    if s >= _Q:
        return False
    h = int.from_bytes(hashlib.sha512(signature[:32] + public + message).digest(), "little") % _Q
    return _equal(_mul(s, _G), _add(r, _mul(h, a)))


# --- Signed notes (Go's golang.org/x/mod/sumdb/note) -------------------------


class NotVerified(Exception):
    """The ledger does not extend the checkpoint, or the note does not verify."""


def key_hash(name, encoded_key):
    return struct.unpack(">I", hashlib.sha256(name.encode() + b"\n" + encoded_key).digest()[:4])[0]


def parse_verifier(text):
    """`NAME+HASH+BASE64(0x01 || key)` → (name, hash, 32-byte key)."""
    parts = text.strip().split("+", 2)
    if len(parts) != 3 or len(parts[1]) != 8:
        raise ValueError("a verifier key is NAME+HASH+BASE64")
    name, hash16, key64 = parts
    key = base64.b64decode(key64, validate=True)
    if int(hash16, 16) != key_hash(name, key):
        raise ValueError("the verifier key's hash does not match its name and key")
    if len(key) != 33 or key[0] != 1:
        raise ValueError("not an Ed25519 verifier key")
    return name, int(hash16, 16), key[1:]


def open_note(message, verifier):
    """The note's text, if `verifier` signed it (as note.Open)."""
    name, want_hash, public = verifier
    if any(ord(c) < 0x20 and c != "\n" for c in message):
        raise NotVerified("malformed note: a control character")
    split = message.rfind("\n\n")
    if split < 0:
        raise NotVerified("malformed note: no blank line before the signatures")
    text, sigs = message[: split + 1], message[split + 2 :]
    if not sigs.endswith("\n"):
        raise NotVerified("malformed note: no signature")
    signed = False
    for line in sigs[:-1].split("\n"):
        if not line.startswith("\u2014 "):
            raise NotVerified("malformed note: a line after the blank line is not a signature")
        who, _, b64 = line[2:].partition(" ")
        raw = base64.b64decode(b64, validate=True)
        if len(raw) < 5:
            raise NotVerified("malformed note: a short signature")
        if who != name or struct.unpack(">I", raw[:4])[0] != want_hash:
            continue
        if not ed25519_verify(public, text.encode(), raw[4:]):
            raise NotVerified(f"invalid signature for key {name}+{want_hash:08x}")
        signed = True
    if not signed:
        raise NotVerified(f"the checkpoint is not signed by {name}+{want_hash:08x}")
    return text


def parse_checkpoint(text):
    lines = text.split("\n")
    if len(lines) < 4 or not lines[0]:
        raise NotVerified("not a checkpoint")
    size_text = lines[1]
    if not size_text.isdigit() or (size_text != "0" and size_text.startswith("0")):
        raise NotVerified("not a checkpoint: the size is not a decimal number")
    root = base64.b64decode(lines[2], validate=True)
    if len(root) != 32:
        raise NotVerified("not a checkpoint: the root is not 32 bytes")
    return lines[0], int(size_text), root


# --- The ledger and its Merkle tree (docs/LEDGER.md §1, §2) -----------------


def entry_hash(seq, kind, key, payload, recorded_at, prev):
    data = b"shuangsui/v1/ledger" + struct.pack(">Q", seq)
    for field in (kind, key, payload, recorded_at):
        raw = field.encode()
        data += struct.pack(">I", len(raw)) + raw
    return hashlib.sha256(data + prev).digest()


def chain(entries):
    """The entries' hashes, each recomputed and chained to the one before."""
    prev = bytes(32)
    hashes = []
    for n, entry in enumerate(entries, start=1):
        if entry["seq"] != n:
            raise NotVerified(f"ledger entry {entry['seq']}: the sequence jumps from {n - 1}")
        if bytes.fromhex(entry["prev_hash"]) != prev:
            raise NotVerified(f"ledger entry {n}: its previous hash is not the hash of the entry before")
        fields = (entry["kind"], entry["key"], entry["payload"], entry["recorded_at"])
        computed = entry_hash(n, *fields, prev)
        if computed != bytes.fromhex(entry["hash"]):
            raise NotVerified(f"ledger entry {n}: its content does not hash to its stored hash")
        hashes.append(computed)
        prev = computed
    return hashes


def leaf_hash(data):
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def merkle_root(leaves):
    """RFC 6962 MTH of a list of leaf hashes."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return node_hash(merkle_root(leaves[:k]), merkle_root(leaves[k:]))


def check(note, verifier_text, entries):
    """(origin, size, ledger size) when the ledger extends the checkpoint."""
    verifier = parse_verifier(verifier_text)
    origin, size, root = parse_checkpoint(open_note(note, verifier))
    if origin != verifier[0]:
        raise NotVerified(f"the checkpoint is of log {origin!r}, not of {verifier[0]!r}")
    hashes = chain(entries)
    if size > len(hashes):
        raise NotVerified(
            f"the ledger was truncated: the checkpoint covers {size} entries, the ledger now holds only {len(hashes)}"
        )
    found = merkle_root([leaf_hash(h) for h in hashes[:size]])
    if found != root:
        raise NotVerified(
            f"the ledger was rewritten: the root of its first {size} entries is "
            f"{base64.b64encode(found).decode()}, the checkpoint's is {base64.b64encode(root).decode()} (base64)"
        )
    return origin, size, len(hashes)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", required=True, help="the signed checkpoint saved earlier")
    parser.add_argument("--key", required=True, help="the verifier key, NAME+HASH+BASE64")
    parser.add_argument("--entries", required=True, help="the ledger's entries as GET /api/v1/ledger lists them")
    args = parser.parse_args(argv)
    try:
        with open(args.checkpoint, encoding="utf-8") as f:
            note = f.read()
        with open(args.entries, encoding="utf-8") as f:
            entries = json.load(f)
        origin, size, held = check(note, args.key, entries)
    except NotVerified as e:
        print(f"NOT VERIFIED: {e}")
        return 1
    except (OSError, ValueError, KeyError) as e:
        print(f"ERROR: {e}")
        return 2
    print(f"checkpoint verified: the ledger extends {origin} at {size} entries and now holds {held}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
