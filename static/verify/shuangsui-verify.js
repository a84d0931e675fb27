// shuangsui-verify.js — an independent verifier of shuangsui draws, written
// from docs/ALGORITHM.md (algorithm version 1) and docs/DATA.md.
//
// One plain script, no dependencies, no build step, no network: it takes the
// bytes of a bundle's files and of the pool files and reports each check.
// The same file runs in a browser (it defines `ShuangsuiVerify`, used by
// page.js on the public draw pages) and under node (`require`, used by
// tools/jsverify.js and the cross-check tools/crosscheck_js.py).
//
// Verdicts and exit codes are those of `shuangsui verify`: `verified` (0),
// `partially verified` (0, with what was NOT checked), `NOT VERIFIED` (1),
// `ERROR` (2, the inputs could not be read or are of a version or format this
// verifier does not implement).
(function (root, factory) {
  'use strict';
  if (typeof module === 'object' && module.exports) module.exports = factory();
  else root.ShuangsuiVerify = factory();
})(typeof globalThis !== 'undefined' ? globalThis : this, function () {
  'use strict';

  const ALGORITHM_VERSION = 1;
  const BUNDLE_FORMAT = 'shuangsui-bundle/1';
  const SUBSTITUTIONS_FORMAT = 'shuangsui-substitutions/1';
  // The public copy's list: every reason is the neutral 'adjustment' (§12).
  const PUBLIC_SUBSTITUTIONS_FORMAT = 'shuangsui-substitutions/2';
  const SUBSTITUTION_REASONS = ['leave', 'transfer', 'conflict', 'other'];
  const PUBLIC_REASONS = ['adjustment'];
  const KINDS = ['departments', 'items', 'inspectors', 'targets', 'conflicts'];
  const CLASSES = ['A', 'B', 'C', 'D'];

  /** The inputs could not be read or are invalid (exit 2). */
  class InputError extends Error {}
  /** The bundle does not match the recomputation (exit 1). */
  class Difference extends Error {}

  // -------------------------------------------------------------------------
  // §0 Conventions: bytes, hashes, order, trimming
  // -------------------------------------------------------------------------

  const encoder = new TextEncoder();
  const utf8 = (text) => encoder.encode(text);

  function concat(parts) {
    let length = 0;
    for (const p of parts) length += p.length;
    const out = new Uint8Array(length);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }

  function u32be(n) {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, n);
    return b;
  }

  function u64be(n) {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt(n));
    return b;
  }

  function toHex(bytes) {
    let s = '';
    for (const b of bytes) s += b.toString(16).padStart(2, '0');
    return s;
  }

  function fromHex(text) {
    const out = new Uint8Array(text.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(text.substr(2 * i, 2), 16);
    return out;
  }

  // SHA-256 (FIPS 180-4) in plain JavaScript: used where SubtleCrypto is
  // missing, which browsers do on plain http from any host but localhost.
  const SHA_K = new Uint32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
  ]);

  function sha256js(data) {
    const h = new Uint32Array([
      0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
    ]);
    const blocks = Math.ceil((data.length + 9) / 64);
    const padded = new Uint8Array(blocks * 64);
    padded.set(data);
    padded[data.length] = 0x80;
    const view = new DataView(padded.buffer);
    view.setUint32(padded.length - 8, Math.floor(data.length / 0x20000000));
    view.setUint32(padded.length - 4, (data.length << 3) >>> 0);
    const w = new Uint32Array(64);
    const rotr = (x, n) => (x >>> n) | (x << (32 - n));
    for (let off = 0; off < padded.length; off += 64) {
      for (let i = 0; i < 16; i++) w[i] = view.getUint32(off + 4 * i);
      for (let i = 16; i < 64; i++) {
        const s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >>> 3);
        const s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >>> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
      }
      let [a, b, c, d, e, f, g, k] = h;
      for (let i = 0; i < 64; i++) {
        const t1 = k + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + SHA_K[i] + w[i];
        const t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        k = g;
        g = f;
        f = e;
        e = (d + t1) | 0;
        d = c;
        c = b;
        b = a;
        a = (t1 + t2) | 0;
      }
      h[0] += a; h[1] += b; h[2] += c; h[3] += d;
      h[4] += e; h[5] += f; h[6] += g; h[7] += k;
    }
    const out = new Uint8Array(32);
    const ov = new DataView(out.buffer);
    for (let i = 0; i < 8; i++) ov.setUint32(4 * i, h[i]);
    return out;
  }

  // SubtleCrypto when the page may use it (https, localhost, node);
  // `useSubtle(false)` forces the plain-JavaScript fallback (tests).
  let subtle = (typeof crypto !== 'undefined' && crypto.subtle) || null;
  function useSubtle(on) {
    subtle = on ? (typeof crypto !== 'undefined' && crypto.subtle) || null : null;
    return subtle !== null;
  }

  /** H(x): SHA-256 of x, 32 bytes. */
  async function H(data) {
    if (subtle) return new Uint8Array(await subtle.digest('SHA-256', data));
    return sha256js(data);
  }

  async function hexHash(data) {
    return toHex(await H(data));
  }

  /** §1 record hash R = H(u32be(len f1) ‖ f1 ‖ …) over the field texts. */
  function recordBytes(fields) {
    let size = 0;
    for (const f of fields) size += 4 + 3 * f.length;
    const out = new Uint8Array(size);
    let at = 0;
    for (const f of fields) {
      const { written } = encoder.encodeInto(f, out.subarray(at + 4));
      out[at] = written >>> 24;
      out[at + 1] = (written >>> 16) & 255;
      out[at + 2] = (written >>> 8) & 255;
      out[at + 3] = written & 255;
      at += 4 + written;
    }
    return out.subarray(0, at);
  }

  function recordHashes(records) {
    return Promise.all(records.map((r) => H(recordBytes(r))));
  }

  /** §1 list(tag, R1…Rn) = H(tag ‖ 0x0A ‖ u64be(n) ‖ R1 ‖ … ‖ Rn), as hex. */
  async function listHash(tag, records) {
    const hashes = await recordHashes(records);
    return hexHash(concat([utf8(tag + '\n'), u64be(hashes.length), ...hashes]));
  }

  /** §0 "Sorted": bytewise UTF-8 order, which is code point order. JS
   * strings compare by UTF-16 units, which puts U+E000..U+FFFF after the
   * surrogates: fix that at the first unit that differs. */
  function cmp(a, b) {
    const n = Math.min(a.length, b.length);
    for (let i = 0; i < n; i++) {
      let x = a.charCodeAt(i);
      let y = b.charCodeAt(i);
      if (x !== y) {
        if (x >= 0xd800 && y >= 0xd800) {
          x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
          y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
        }
        return x < y ? -1 : 1;
      }
    }
    return a.length - b.length;
  }

  function cmpTuple(a, b) {
    for (let i = 0; i < Math.min(a.length, b.length); i++) {
      const c = cmp(a[i], b[i]);
      if (c) return c;
    }
    return a.length - b.length;
  }

  const sortedUnique = (values) => {
    const out = [...new Set(values)].sort(cmp);
    return out;
  };
  const sameList = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

  // The characters with the Unicode White_Space property (§0 "Trimmed"); not
  // JavaScript's \s, which also holds U+FEFF.
  const WS = '\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
  const TRIM = new RegExp('^[' + WS + ']+|[' + WS + ']+$', 'g');
  const IS_WS = new RegExp('^[' + WS + ']$');
  const trim = (text) => text.replace(TRIM, '');

  function deepEqual(a, b) {
    if (a === b) return true;
    if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
    if (Array.isArray(a) !== Array.isArray(b)) return false;
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    if (ka.length !== kb.length) return false;
    return ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && deepEqual(a[k], b[k]));
  }

  // -------------------------------------------------------------------------
  // §3 Random streams: ChaCha20 (RFC 8439 §2.3), next, below, pick
  // -------------------------------------------------------------------------

  /** The ChaCha20 block function: 64 bytes for a 32-byte key, a 32-bit
   * block counter and a 12-byte nonce (RFC 8439 §2.3). */
  function chacha20Block(key, counter, nonce) {
    const kv = new DataView(key.buffer, key.byteOffset, 32);
    const nv = nonce ? new DataView(nonce.buffer, nonce.byteOffset, 12) : null;
    const s = new Uint32Array(16);
    s[0] = 0x61707865; s[1] = 0x3320646e; s[2] = 0x79622d32; s[3] = 0x6b206574;
    for (let i = 0; i < 8; i++) s[4 + i] = kv.getUint32(4 * i, true);
    s[12] = counter;
    for (let i = 0; i < 3; i++) s[13 + i] = nv ? nv.getUint32(4 * i, true) : 0;
    const x = Uint32Array.from(s);
    const qr = (a, b, c, d) => {
      x[a] += x[b]; x[d] ^= x[a]; x[d] = (x[d] << 16) | (x[d] >>> 16);
      x[c] += x[d]; x[b] ^= x[c]; x[b] = (x[b] << 12) | (x[b] >>> 20);
      x[a] += x[b]; x[d] ^= x[a]; x[d] = (x[d] << 8) | (x[d] >>> 24);
      x[c] += x[d]; x[b] ^= x[c]; x[b] = (x[b] << 7) | (x[b] >>> 25);
    };
    for (let round = 0; round < 10; round++) {
      qr(0, 4, 8, 12); qr(1, 5, 9, 13); qr(2, 6, 10, 14); qr(3, 7, 11, 15);
      qr(0, 5, 10, 15); qr(1, 6, 11, 12); qr(2, 7, 8, 13); qr(3, 4, 9, 14);
    }
    const out = new Uint8Array(64);
    const ov = new DataView(out.buffer);
    for (let i = 0; i < 16; i++) ov.setUint32(4 * i, (x[i] + s[i]) >>> 0, true);
    return out;
  }

  /** §3 K = H("shuangsui/v1/stream" ‖ seed ‖ u32be(len l1) ‖ l1 ‖ …). */
  function streamKey(seed, labels) {
    const parts = [utf8('shuangsui/v1/stream'), seed];
    for (const label of labels) {
      const raw = utf8(label);
      parts.push(u32be(raw.length), raw);
    }
    return H(concat(parts));
  }

  const TWO64 = 1n << 64n;

  /** §3: a named stream: ChaCha20 keystream with key K, zero nonce, block
   * counter from 0; next() reads 8 bytes little-endian. */
  class Stream {
    constructor(key) {
      this.key = key;
      this.counter = 0;
      this.block = null;
      this.pos = 64;
    }
    static async open(seed, labels) {
      return new Stream(await streamKey(seed, labels));
    }
    next() {
      if (this.pos === 64) {
        this.block = new DataView(chacha20Block(this.key, this.counter++).buffer);
        this.pos = 0;
      }
      const word = this.block.getBigUint64(this.pos, true);
      this.pos += 8;
      return word;
    }
    /** Uniform in [0, n): t = 2^64 mod n; repeat x = next() until x ≥ t. */
    below(n) {
      const big = BigInt(n);
      const t = TWO64 % big;
      for (;;) {
        const x = this.next();
        // A number for list positions; a BigInt n (the test vectors' large
        // bounds) gets a BigInt, exact beyond 2^53.
        if (x >= t) return typeof n === 'bigint' ? x % big : Number(x % big);
      }
    }
    /** The first k steps of a forward Fisher–Yates shuffle. */
    pick(list, k) {
      for (let i = 0; i < k; i++) {
        const j = i + this.below(list.length - i);
        const tmp = list[i];
        list[i] = list[j];
        list[j] = tmp;
      }
    }
  }

  async function firstWord(seed, labels) {
    return (await Stream.open(seed, labels)).next();
  }

  // -------------------------------------------------------------------------
  // §2 Seeds
  // -------------------------------------------------------------------------

  const CEREMONY_SEPARATORS = new Set(',-/:，－／：、');

  function ceremonyDigits(text) {
    let digits = '';
    for (const ch of String(text)) {
      if (ch >= '0' && ch <= '9') digits += ch;
      else if (ch >= '０' && ch <= '９') digits += String.fromCharCode(ch.charCodeAt(0) - 0xff10 + 0x30);
      else if (!IS_WS.test(ch) && !CEREMONY_SEPARATORS.has(ch)) {
        throw new InputError(`ceremony text ${JSON.stringify(text)}: character ${JSON.stringify(ch)} is not a digit or separator`);
      }
    }
    if (digits.length < 20) {
      throw new InputError(`ceremony text ${JSON.stringify(text)} has ${digits.length} digits, at least 20 are needed`);
    }
    return digits;
  }

  async function ceremonySeed(digits) {
    const raw = utf8(digits);
    return hexHash(concat([utf8('shuangsui/v1/seed/ceremony'), u32be(raw.length), raw]));
  }

  const HEX = (n) => new RegExp('^[0-9a-f]{' + 2 * n + '}$');

  function hexBytes(text, n, what) {
    if (typeof text !== 'string' || !HEX(n).test(text)) throw new Difference(`${what} is not ${n} lowercase hex bytes`);
    return fromHex(text);
  }

  /** A beacon round's part of a seed: u64be(round) ‖ randomness, once
   * randomness = H(signature). The BLS signature needs BLS12-381 pairings,
   * which this verifier does not implement: it says so. */
  async function beaconMix(record, report) {
    if (!record || typeof record !== 'object' || !Number.isInteger(record.round)) {
      throw new Difference('the beacon record has no round number');
    }
    if (typeof record.signature !== 'string' || !/^([0-9a-f]{2})*$/.test(record.signature)) {
      throw new Difference('the beacon signature is not hex');
    }
    const randomness = hexBytes(record.randomness, 32, 'beacon randomness');
    same('beacon randomness = H(signature)', toHex(randomness), await hexHash(fromHex(record.signature)));
    report.skip(`the BLS signature of ${record.chain} round ${record.round} against the chain's public key ` +
      '(needs BLS12-381; `shuangsui verify` checks it)');
    return concat([u64be(record.round), randomness]);
  }

  async function checkSeed(manifest, report) {
    const seedHex = get(manifest, 'seed', 'hex');
    if (typeof seedHex !== 'string' || !HEX(32).test(seedHex)) {
      throw new Difference(`seed.hex ${JSON.stringify(seedHex)} is not 64 lowercase hex characters`);
    }
    const source = get(manifest, 'seed', 'source');
    const kind = source && typeof source === 'object' ? source.kind : undefined;
    if (kind === 'ceremony') {
      const digits = ceremonyDigits(get(manifest, 'seed', 'source', 'text'));
      same(`ceremony digits of ${JSON.stringify(source.text)}`, source.digits, digits);
      same(`seed from ceremony digits ${digits}`, seedHex, await ceremonySeed(digits));
      report.ok(`seed ${seedHex} = H(ceremony digits ${digits}), recomputed from the text ${JSON.stringify(source.text)}`);
    } else if (kind === 'hex') {
      report.ok(`seed ${seedHex} (given as hex)`);
    } else if (kind === 'random') {
      report.ok(`seed ${seedHex} (random: drawn by the computer, could not have been announced in advance)`);
    } else if (kind === 'beacon') {
      const mix = await beaconMix(source, report);
      same('seed from the beacon round', seedHex, await hexHash(concat([utf8('shuangsui/v1/seed/beacon'), mix])));
      report.ok(`seed ${seedHex} = H(beacon ${source.chain} round ${source.round})`);
    } else if (kind === 'commit_reveal') {
      const secret = hexBytes(source.secret, 32, 'seed.source.secret');
      same('commitment = H(secret)', source.commitment, await hexHash(secret));
      const beacon = source.beacon;
      const mix = beacon !== undefined && beacon !== null ? await beaconMix(beacon, report) : new Uint8Array(0);
      same('seed from the revealed secret', seedHex,
        await hexHash(concat([utf8('shuangsui/v1/seed/commit'), secret, mix])));
      report.ok(`seed ${seedHex} = H(revealed secret${beacon ? ', beacon round ' + beacon.round : ''}); ` +
        `the secret matches the published commitment ${source.commitment}`);
    } else {
      throw new Difference(`seed.source.kind ${JSON.stringify(kind)} is not hex, ceremony, random, beacon or commit_reveal`);
    }
    return fromHex(seedHex);
  }

  // -------------------------------------------------------------------------
  // §1 and DATA.md: decoding and reading the pool files
  // -------------------------------------------------------------------------

  const MIB = 1 << 20;

  function validUtf8(raw, stream) {
    try {
      new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(raw, { stream });
      return true;
    } catch (e) {
      return false;
    }
  }

  /** §1 Decoding: a UTF-8 BOM means UTF-8; otherwise UTF-8 if the first
   * MiB is (a character cut at the mark allowed), else GB18030 with the
   * Encoding Standard's decoder, which browsers and node both carry.
   * Invalid bytes are an error; U+FEFF only as the first character. */
  function decodeBytes(raw, encoding, name) {
    let label = 'utf-8';
    const bom = raw.length >= 3 && raw[0] === 0xef && raw[1] === 0xbb && raw[2] === 0xbf;
    if (!bom && encoding === 'gbk') label = 'gb18030';
    else if (!bom && encoding !== 'utf-8' && !validUtf8(raw.subarray(0, MIB), raw.length > MIB)) label = 'gb18030';
    let text;
    try {
      text = new TextDecoder(label, { fatal: true, ignoreBOM: true }).decode(raw);
    } catch (e) {
      throw new InputError(`${name}: the bytes are not valid ${label === 'utf-8' ? 'UTF-8' : 'GB18030'}`);
    }
    if (text.startsWith('\ufeff')) text = text.slice(1);
    const stray = text.indexOf('\ufeff');
    if (stray >= 0) {
      const line = text.slice(0, stray).split('\n').length;
      throw new InputError(`${name}:${line}: holds U+FEFF (a byte-order mark), which only a file's first character may be`);
    }
    return text;
  }

  /** §1 CSV: RFC 4180, `,`, LF or CRLF, `""` inside quotes, text after a
   * closing quote appended. Returns [line, fields] for every record that
   * is not blank (empty, or one field empty after trimming). */
  function csvRecords(text, name) {
    const out = [];
    let fields = [];
    let field = '';
    let quoted = false;
    let fieldStart = true;
    let line = 1;
    let recordLine = 1;
    const endRecord = () => {
      fields.push(field);
      if (fields.length > 1 || trim(fields[0]) !== '') out.push([recordLine, fields]);
      fields = [];
      field = '';
      fieldStart = true;
      recordLine = line;
    };
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      if (quoted) {
        if (c === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i++;
          } else quoted = false;
        } else {
          if (c === '\n') line++;
          field += c;
        }
        continue;
      }
      if (c === '"' && fieldStart) {
        quoted = true;
        fieldStart = false;
      } else if (c === ',') {
        fields.push(field);
        field = '';
        fieldStart = true;
      } else if (c === '\n' || (c === '\r' && text[i + 1] === '\n')) {
        if (c === '\r') i++;
        line++;
        endRecord();
      } else {
        field += c;
        fieldStart = false;
      }
    }
    if (quoted) throw new InputError(`${name}:${recordLine}: a quoted field is not closed`);
    if (field !== '' || fields.length) endRecord();
    return out;
  }

  // (field, Chinese header) per file, in §1 field order (DATA.md).
  const COLUMNS = {
    departments: [['name', '部门名称']],
    items: [
      ['code', '事项编号'], ['name', '事项名称'], ['department', '抽查主体'], ['field', '执法领域'],
      ['legal_basis', '抽查依据'], ['category', '事项类别'], ['method', '抽查方式'],
      ['entity_types', '抽查对象类型'], ['industries', '行业范围'], ['ratio_a', 'A类比例'],
      ['ratio_b', 'B类比例'], ['ratio_c', 'C类比例'], ['ratio_d', 'D类比例'],
    ],
    inspectors: [
      ['cert_no', '执法证号'], ['name', '姓名'], ['department', '所属部门'], ['areas', '执法领域'],
      ['township', '居住乡镇'], ['valid_until', '证件有效期至'],
    ],
    targets: [
      ['credit_code', '统一社会信用代码'], ['name', '名称'], ['entity_type', '主体类型'],
      ['industry', '行业'], ['township', '所属区域'], ['risk_class', '信用风险分类'],
    ],
    conflicts: [['cert_no', '执法证号'], ['credit_code', '统一社会信用代码'], ['relation', '回避关系']],
  };
  const LIST_FIELDS = new Set(['entity_types', 'industries', 'areas']);
  const MAY_BE_EMPTY = new Set(['entity_types', 'industries']);
  const ID_RE = /^[A-Za-z0-9._-]{1,32}$/;
  const RATIO_RE = new RegExp('^([0-9]{1,3})(?:\\.([0-9]{0,2}))?(?:[' + WS + ']*[%％])?$');
  const DATE_RE = /^([0-9]{4})([-/])([0-9]{1,2})\2([0-9]{1,2})$/;
  const CREDIT_ALPHABET = '0123456789ABCDEFGHJKLMNPQRTUWXY';
  const CREDIT_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];
  const CATEGORIES = { 一般: '一般', 重点: '重点', general: '一般', key: '重点' };

  function realDate(y, m, d) {
    const t = new Date(Date.UTC(y, m - 1, d));
    t.setUTCFullYear(y);
    if (y < 1 || t.getUTCMonth() !== m - 1 || t.getUTCDate() !== d) return null;
    return `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
  }

  /** Days since 1970-01-01 of a YYYY-MM-DD text. */
  function dayNumber(text) {
    const t = new Date(Date.UTC(0, 0, 1));
    t.setUTCFullYear(+text.slice(0, 4), +text.slice(5, 7) - 1, +text.slice(8, 10));
    return Math.round(t.getTime() / 86400000);
  }

  function canonicalList(value) {
    return sortedUnique(value.split(/[;；]/).map(trim).filter((p) => p !== '')).join(';');
  }

  function canonicalRatio(value) {
    const m = RATIO_RE.exec(value);
    if (!m) throw new Error('not a percentage with at most two decimals');
    const bp = Number(m[1]) * 100 + Number((m[2] || '').padEnd(2, '0'));
    if (bp > 10000) throw new Error('more than 100%');
    return String(bp);
  }

  function canonicalDate(value) {
    const m = DATE_RE.exec(value);
    const date = m && realDate(+m[1], +m[3], +m[4]);
    if (!date) throw new Error('not a date YYYY-MM-DD');
    return date;
  }

  function validCreditCode(code) {
    if (code.length !== 18 || [...code].some((c) => !CREDIT_ALPHABET.includes(c))) return false;
    let total = 0;
    for (let i = 0; i < 17; i++) total += CREDIT_ALPHABET.indexOf(code[i]) * CREDIT_WEIGHTS[i];
    return CREDIT_ALPHABET[(31 - (total % 31)) % 31] === code[17];
  }

  /** §1 field texts of one record, from its trimmed values. */
  function canonicalRecord(kind, values, where) {
    return COLUMNS[kind].map(([field], k) => {
      let value = values[k];
      if (LIST_FIELDS.has(field)) value = canonicalList(value);
      if (value === '' && !MAY_BE_EMPTY.has(field)) throw new InputError(`${where}: ${field}: empty`);
      try {
        if ((field === 'code' || field === 'cert_no') && !ID_RE.test(value)) {
          throw new Error('must be 1-32 of A-Z a-z 0-9 - _ .');
        }
        if (field === 'credit_code' && !validCreditCode(value)) {
          throw new Error('not a valid unified social credit code (GB 32100-2015)');
        }
        if (field === 'category') {
          if (!Object.prototype.hasOwnProperty.call(CATEGORIES, value)) throw new Error('must be 一般 or 重点 (general or key)');
          value = CATEGORIES[value];
        }
        if (field.startsWith('ratio_')) value = canonicalRatio(value);
        if (field === 'valid_until') value = canonicalDate(value);
        if (field === 'risk_class') {
          if (!/^[A-Da-d]$/.test(value)) throw new Error('must be A, B, C or D');
          value = value.toUpperCase();
        }
      } catch (e) {
        throw new InputError(`${where}: ${field}: ${JSON.stringify(value)}: ${e.message}`);
      }
      return value;
    });
  }

  /** One pool file as §1 records in record order; duplicate ids refused. */
  function readTable(raw, kind, encoding) {
    const name = kind + '.csv';
    const rows = csvRecords(decodeBytes(raw, encoding, name), name);
    if (!rows.length) throw new InputError(`${name}: the file is empty (no header row)`);
    const header = rows[0][1].map(trim);
    const folded = header.map((h) => (/^[\x00-\x7f]*$/.test(h) ? h.toLowerCase() : h));
    const positions = COLUMNS[kind].map(([field, chinese]) => {
      const found = [];
      folded.forEach((h, i) => { if (h === field || h === chinese) found.push(i); });
      if (!found.length) {
        if (field === 'risk_class') {
          throw new InputError(`${name}: missing column risk_class (信用风险分类); the credit-risk classes are ` +
            'confidential but the draw and the targets snapshot depend on them, so a re-check needs ' +
            'targets.csv as the department used it (docs/VERIFY.md)');
        }
        throw new InputError(`${name}: missing column ${field} (${chinese})`);
      }
      if (found.length > 1) throw new InputError(`${name}: column ${field} (${chinese}) appears more than once`);
      return found[0];
    });
    const records = [];
    for (const [line, row] of rows.slice(1)) {
      // A record with fewer fields than the header is an input error.
      if (row.length < header.length) {
        throw new InputError(`${name}:${line}: ${row.length} fields, the header has ${header.length}`);
      }
      records.push([canonicalRecord(kind, positions.map((i) => trim(row[i])), `${name}:${line}`), line]);
    }
    const idLength = kind === 'conflicts' ? 2 : 1;
    const byId = (a, b) => cmp(a[0][0], b[0][0]) || (idLength === 2 ? cmp(a[0][1], b[0][1]) : 0);
    records.sort(byId);
    for (let i = 1; i < records.length; i++) {
      if (byId(records[i - 1], records[i]) === 0) {
        throw new InputError(`${name}:${records[i - 1][1]} and line ${records[i][1]}: duplicate id ` +
          records[i][0].slice(0, idLength).join(','));
      }
    }
    return records.map((r) => r[0]);
  }

  const snapshotHash = (kind, records) => listHash('shuangsui/v1/snapshot/' + kind, records);

  async function combinedSnapshot(snapshot) {
    return hexHash(concat([utf8('shuangsui/v1/snapshot\n'), u64be(5), ...KINDS.map((k) => fromHex(snapshot[k]))]));
  }

  /** The pool files given, read and hashed. `files` maps a kind to bytes;
   * a pool that lacks one of the first four files cannot be redrawn. */
  async function loadPool(files, encoding, useConflicts) {
    const pool = { records: {}, snapshot: {}, conflicts: null, complete: false };
    for (const kind of KINDS) {
      if (!files[kind] || (kind === 'conflicts' && !useConflicts)) continue;
      pool.records[kind] = readTable(files[kind], kind, encoding);
      pool.snapshot[kind] = await snapshotHash(kind, pool.records[kind]);
    }
    pool.complete = KINDS.slice(0, 4).every((k) => pool.records[k]);
    if (pool.complete) checkReferences(pool);
    if (pool.complete && pool.records.conflicts) {
      pool.conflicts = new Set(pool.records.conflicts.map((c) => c[0] + '\u0000' + c[1]));
    }
    return pool;
  }

  /** DATA.md cross-file rules. */
  function checkReferences(pool) {
    const departments = new Set(pool.records.departments.map((d) => d[0]));
    for (const kind of ['items', 'inspectors']) {
      for (const r of pool.records[kind]) {
        if (!departments.has(r[2])) throw new InputError(`${kind}.csv: ${r[0]}: unknown department ${r[2]}`);
      }
    }
    if (pool.records.conflicts) {
      const certs = new Set(pool.records.inspectors.map((o) => o[0]));
      const codes = new Set(pool.records.targets.map((t) => t[0]));
      for (const [cert, code] of pool.records.conflicts) {
        if (!certs.has(cert)) throw new InputError(`conflicts.csv: unknown officer ${cert}`);
        if (!codes.has(code)) throw new InputError(`conflicts.csv: unknown target ${code}`);
      }
    }
  }

  // -------------------------------------------------------------------------
  // §4 The plan, §7 the history, §14 merge.csv
  // -------------------------------------------------------------------------

  const PLAN_KEYS = new Set(['id', 'name', 'department', 'inspection_date', 'items', 'targets', 'quota',
    'exclude_inspected_within_days', 'team_size', 'workload_cap', 'recusal', 'joint', 'merge_with']);

  function isoDate(text) {
    const m = /^([0-9]{4})-([0-9]{2})-([0-9]{2})$/.exec(typeof text === 'string' ? text : '');
    if (!m || !realDate(+m[1], +m[2], +m[3])) throw new Error(`date ${JSON.stringify(text)} is not YYYY-MM-DD`);
    return text;
  }

  const isTrimmedText = (x) => typeof x === 'string' && x !== '' && trim(x) === x;
  const isSortedSet = (values) => Array.isArray(values) && sameList(values, sortedUnique(values));

  function u32(doc, key) {
    const v = doc[key];
    if (!Number.isInteger(v) || v < 0 || v >= 2 ** 32) throw new Error(`${key} must be an integer from 0 to 4294967295`);
    return v;
  }

  /** §4 plan.json, refused (exit 2) when no plan written in TOML could be it. */
  function parsePlan(doc) {
    if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new InputError('plan.json is not a JSON object');
    const unknown = Object.keys(doc).filter((k) => !PLAN_KEYS.has(k)).sort();
    if (unknown.length) {
      // An extension this verifier does not implement is refused, never
      // verified as if the plan were a plain one.
      throw new InputError('plan.json has keys this verifier does not implement: ' + unknown.join(', '));
    }
    try {
      for (const key of ['id', 'name', 'department', 'inspection_date', 'items', 'targets', 'quota',
        'exclude_inspected_within_days', 'team_size', 'workload_cap', 'recusal']) {
        if (!(key in doc)) throw new Error('missing key ' + key);
      }
      for (const key of ['id', 'name', 'department']) {
        if (!isTrimmedText(doc[key])) throw new Error(`${key} must be a non-empty, trimmed string`);
      }
      if (!ID_RE.test(doc.id)) throw new Error(`id ${JSON.stringify(doc.id)} is not a plan number`);
      const plan = { id: doc.id, name: doc.name, department: doc.department };
      plan.inspectionDate = isoDate(doc.inspection_date);
      if (!isSortedSet(doc.items) || !doc.items.length || !doc.items.every((x) => typeof x === 'string')) {
        throw new Error('items must be a non-empty, sorted list without repeats');
      }
      plan.items = doc.items;
      for (const key of ['townships', 'entity_types', 'industries']) {
        const values = doc.targets && doc.targets[key];
        if (!isSortedSet(values) || !values.every(isTrimmedText)) {
          throw new Error(`targets.${key} must be trimmed, non-empty values, sorted, without repeats`);
        }
      }
      plan.townships = new Set(doc.targets.townships);
      plan.entityTypes = new Set(doc.targets.entity_types);
      plan.industries = new Set(doc.targets.industries);
      const quota = doc.quota;
      plan.count = null;
      plan.ratiosBp = null; // null: each item's own ratios
      if (quota === 'item_ratios') {
        // nothing more
      } else if (quota && typeof quota === 'object' && sameList(Object.keys(quota), ['ratios_bp'])) {
        const r = quota.ratios_bp;
        if (!Array.isArray(r) || r.length !== 4 || !r.every((x) => Number.isInteger(x) && x >= 0 && x <= 10000)) {
          throw new Error('quota.ratios_bp must be four integers 0..10000');
        }
        plan.ratiosBp = r;
      } else if (quota && typeof quota === 'object' && sameList(Object.keys(quota), ['count'])) {
        if (!Number.isInteger(quota.count) || quota.count < 1 || quota.count >= 2 ** 32) {
          throw new Error('quota.count must be at least 1');
        }
        plan.count = quota.count;
      } else {
        throw new Error('unknown quota ' + JSON.stringify(quota));
      }
      plan.excludeDays = u32(doc, 'exclude_inspected_within_days');
      plan.teamSize = u32(doc, 'team_size');
      plan.workloadCap = u32(doc, 'workload_cap');
      const recusal = doc.recusal;
      if (!recusal || typeof recusal !== 'object') throw new Error('recusal must be an object');
      for (const key of ['same_township', 'previous_inspector']) {
        if (typeof recusal[key] !== 'boolean') throw new Error(`recusal.${key} must be true or false`);
      }
      if ('declared' in recusal && recusal.declared !== true) {
        throw new Error('recusal.declared must be true (declared recusal always applies)');
      }
      plan.sameTownship = recusal.same_township;
      plan.previousInspector = recusal.previous_inspector;
      plan.participants = null;
      if ('joint' in doc) {
        const joint = doc.joint;
        if (!joint || typeof joint !== 'object' || !sameList(Object.keys(joint), ['participants'])) {
          throw new Error('joint must be {"participants": [...]}');
        }
        const p = joint.participants;
        if (!isSortedSet(p) || !p.length || !p.every(isTrimmedText) || p.includes(plan.department)) {
          throw new Error('joint.participants must be sorted, distinct, non-empty and not name the initiating department');
        }
        if (plan.count === null && plan.ratiosBp === null) {
          throw new Error('a joint plan needs quota ratios_bp or count, not item_ratios');
        }
        plan.participants = p;
      }
      plan.mergeWith = null;
      if ('merge_with' in doc) {
        const m = doc.merge_with;
        if (!Array.isArray(m) || !m.length || new Set(m).size !== m.length || m.includes(plan.id) ||
          !m.every((x) => typeof x === 'string' && ID_RE.test(x))) {
          throw new Error("merge_with must be distinct plan ids other than the plan's own");
        }
        plan.mergeWith = m;
      }
      if (plan.teamSize < 2 || plan.workloadCap < 1) throw new Error('team_size >= 2, workload_cap >= 1');
      // The departments whose officers serve: the initiator first (§13.2).
      plan.departments = [plan.department].concat(plan.participants || []);
      return plan;
    } catch (e) {
      if (e instanceof InputError) throw e;
      throw new InputError('plan.json: ' + e.message);
    }
  }

  /** §7 history.csv: the records, sorted and de-duplicated. */
  function readHistory(raw) {
    const rows = csvRecords(decodeBytes(raw, 'utf-8', 'history.csv'), 'history.csv');
    const columns = ['credit_code', 'item_code', 'date', 'officers'];
    if (!rows.length) throw new InputError('history.csv is empty (no header row)');
    const header = rows[0][1].map(trim);
    if (columns.some((c) => !header.includes(c))) throw new InputError('history.csv: the header must hold ' + columns.join(','));
    const where = columns.map((c) => header.indexOf(c));
    const seen = new Map();
    for (const [line, row] of rows.slice(1)) {
      if (row.length !== header.length) throw new InputError(`history.csv:${line}: ${row.length} fields, the header has ${header.length}`);
      const [code, item, date, officers] = where.map((i) => trim(row[i]));
      try {
        isoDate(date);
      } catch (e) {
        throw new InputError(`history.csv:${line}: ${e.message}`);
      }
      const team = officers.split(';').map(trim).filter((o) => o !== '').join(';');
      const record = [code, item, date, team];
      seen.set(record.join('\u0000'), record);
    }
    return [...seen.values()].sort(cmpTuple);
  }

  /** §14 merge.csv: records (plan_id, date, credit_code, item_codes,
   * officers), each of a named plan and of this plan's inspection date. */
  function readMerge(raw, plan) {
    const rows = csvRecords(decodeBytes(raw, 'utf-8', 'merge.csv'), 'merge.csv');
    const columns = ['plan_id', 'date', 'credit_code', 'item_codes', 'officers'];
    if (!rows.length) throw new InputError('merge.csv is empty (no header row)');
    if (!sameList(rows[0][1].map(trim), columns)) throw new InputError('merge.csv: the header must be ' + columns.join(','));
    const seen = new Map();
    for (const [line, row] of rows.slice(1)) {
      if (row.length !== columns.length) throw new InputError(`merge.csv:${line}: ${row.length} fields, the header has ${columns.length}`);
      if (!plan.mergeWith.includes(row[0])) throw new Difference(`merge.csv:${line}: plan ${row[0]} is not named in merge_with`);
      if (row[1] !== plan.inspectionDate) {
        throw new Difference(`merge.csv:${line}: plan ${row[0]} inspects on ${row[1]}, this plan on ${plan.inspectionDate}: not one period`);
      }
      seen.set(row.join('\u0000'), row);
    }
    return [...seen.values()].sort(cmpTuple);
  }

  /** §14: credit code -> [rank in merge_with, officers] of the earlier visit
   * a target joins: that of the first named plan visiting it. */
  function earlierVisits(plan, merged) {
    const earlier = new Map();
    if (!merged) return earlier;
    for (const [pid, , code, , officers] of merged) {
      const rank = plan.mergeWith.indexOf(pid);
      const known = earlier.get(code);
      if (!known || rank < known[0]) earlier.set(code, [rank, officers.split(';').filter((c) => c)]);
    }
    return earlier;
  }

  // -------------------------------------------------------------------------
  // §5 Drawing targets (§13.1 for joint plans)
  // -------------------------------------------------------------------------

  const listSet = (text) => new Set(text ? text.split(';') : []);

  /** Returns {visits: [[target index, [item codes]]…] in credit-code
   * order, strata: [{item, class, eligible, drawn}…] in draw order}. */
  async function drawTargets(pool, plan, history, seed) {
    const items = new Map(pool.records.items.map((r) => [r[0], r]));
    const departments = new Set(pool.records.departments.map((d) => d[0]));
    for (const d of plan.departments) {
      if (!departments.has(d)) throw new InputError(`plan department ${d} is not in departments.csv`);
    }
    for (const code of plan.items) {
      if (!items.has(code)) throw new InputError(`plan item ${code} is not in items.csv`);
      if (!plan.departments.includes(items.get(code)[2])) {
        throw new InputError(`plan item ${code} belongs to ${items.get(code)[2]}, not ${plan.departments.join('、')}`);
      }
    }
    const targets = pool.records.targets;
    // (credit code, item) pairs inspected within the window: d + N > date.
    const recent = new Set();
    if (plan.excludeDays > 0) {
      const day = dayNumber(plan.inspectionDate);
      for (const [code, item, date] of history) {
        if (dayNumber(date) + plan.excludeDays > day) recent.add(code + '\u0000' + item);
      }
    }
    // The scope depends only on (entity type, industry, township): decide it
    // once per such profile and item.
    const profiles = new Map();
    const profileOf = targets.map((t) => {
      const key = t[2] + '\u0000' + t[3] + '\u0000' + t[4];
      if (!profiles.has(key)) profiles.set(key, { t, ok: new Map() });
      return profiles.get(key);
    });
    const inScope = (t, item) => {
      const et = listSet(item[7]);
      const ind = listSet(item[8]);
      return (!et.size || et.has(t[2])) && (!ind.size || ind.has(t[3])) &&
        (!plan.entityTypes.size || plan.entityTypes.has(t[2])) &&
        (!plan.industries.size || plan.industries.has(t[3])) &&
        (!plan.townships.size || plan.townships.has(t[4]));
    };
    const admits = (i, code) => {
      const profile = profileOf[i];
      let ok = profile.ok.get(code);
      if (ok === undefined) profile.ok.set(code, (ok = inScope(profile.t, items.get(code))));
      return ok && (recent.size === 0 || !recent.has(targets[i][0] + '\u0000' + code));
    };
    const strataOf = (eligible, ratios) => {
      if (plan.count !== null) {
        if (plan.count > eligible.length) {
          throw new Difference(`count ${plan.count} is more than the ${eligible.length} eligible targets, the draw is infeasible`);
        }
        return [['*', eligible, plan.count]];
      }
      return CLASSES.map((cls, k) => {
        const stratum = eligible.filter((i) => targets[i][5] === cls);
        return [cls, stratum, Math.floor((stratum.length * ratios[k] + 9999) / 10000)];
      });
    };
    const strata = [];
    if (plan.participants !== null) {
      const applicable = new Map();
      targets.forEach((t, i) => {
        const codes = plan.items.filter((code) => admits(i, code));
        if (codes.length) applicable.set(i, codes);
      });
      const drawn = [];
      for (const [cls, stratum, k] of strataOf([...applicable.keys()], plan.ratiosBp)) {
        if (k) (await Stream.open(seed, ['joint-targets', cls])).pick(stratum, k);
        drawn.push(...stratum.slice(0, k));
        strata.push({ item: '*', class: cls, eligible: stratum.length, drawn: k });
      }
      return { visits: drawn.sort((a, b) => a - b).map((i) => [i, applicable.get(i)]), strata };
    }
    const drawnItems = new Map();
    for (const code of plan.items) {
      const item = items.get(code);
      const eligible = [];
      for (let i = 0; i < targets.length; i++) if (admits(i, code)) eligible.push(i);
      const ratios = plan.ratiosBp || item.slice(9, 13).map(Number);
      for (const [cls, stratum, k] of strataOf(eligible, ratios)) {
        if (k) (await Stream.open(seed, ['targets', code, cls])).pick(stratum, k);
        for (const i of stratum.slice(0, k)) {
          if (!drawnItems.has(i)) drawnItems.set(i, []);
          drawnItems.get(i).push(code);
        }
        strata.push({ item: code, class: cls, eligible: stratum.length, drawn: k });
      }
    }
    const visits = [...drawnItems.keys()].sort((a, b) => a - b).map((i) => [i, drawnItems.get(i)]);
    return { visits, strata };
  }

  // -------------------------------------------------------------------------
  // §6 Visits and teams (§13 joint plans, §14 merged visits)
  // -------------------------------------------------------------------------

  /** §13.2: the initiator, then each participant owning one of the items. */
  function visitDepartments(plan, items, codes) {
    const owners = new Set(codes.map((c) => items.get(c)[2]));
    return plan.departments.filter((d, k) => k === 0 || owners.has(d));
  }

  /** §7: the officers of each target's latest inspection in the history. */
  function latestTeams(history) {
    const latest = new Map();
    for (const [code, , day, team] of history) {
      const seen = latest.get(code);
      const members = team ? team.split(';') : [];
      if (!seen || day > seen[0]) latest.set(code, [day, new Set(members)]);
      else if (day === seen[0]) members.forEach((m) => seen[1].add(m));
    }
    return latest;
  }

  /** §6 rules 1–6 (§13.3): per visit, [[department, eligible officer
   * indices in cert_no order]…] in §13.2 order. `declared` is a Set of
   * "cert\0code" pairs (empty when the recusal list is not known). */
  function eligibleOfficers(pool, plan, history, visits, declared) {
    const officers = pool.records.inspectors;
    const targets = pool.records.targets;
    const items = new Map(pool.records.items.map((r) => [r[0], r]));
    const areas = officers.map((o) => listSet(o[3]));
    const latest = plan.previousInspector ? latestTeams(history) : new Map();
    const cache = new Map();
    const declaredOf = new Map();
    for (const pair of declared) {
      const [cert, code] = pair.split('\u0000');
      if (!declaredOf.has(code)) declaredOf.set(code, new Set());
      declaredOf.get(code).add(cert);
    }
    return visits.map(([index, codes]) => {
      const code = targets[index][0];
      const township = targets[index][4];
      const excluded = new Set(declaredOf.get(code) || []);
      if (latest.has(code)) latest.get(code)[1].forEach((c) => excluded.add(c));
      return visitDepartments(plan, items, codes).map((department) => {
        // An initiator owning none of the visit's items requires no field.
        const fields = [...new Set(codes.filter((c) => items.get(c)[2] === department).map((c) => items.get(c)[3]))];
        const key = [department, ...fields.sort(cmp), plan.sameTownship ? township : ''].join('\u0000');
        let shared = cache.get(key);
        if (!shared) {
          shared = [];
          officers.forEach((o, i) => {
            if (o[2] === department && o[5] >= plan.inspectionDate && fields.every((f) => areas[i].has(f)) &&
              !(plan.sameTownship && o[4] === township)) shared.push(i);
          });
          cache.set(key, shared);
        }
        return [department, excluded.size ? shared.filter((i) => !excluded.has(officers[i][0])) : shared];
      });
    });
  }

  /** §14: which visits an earlier team serves (position -> team indices),
   * with rule 7 applied to the eligible lists of the others. */
  function mergeVisits(pool, plan, visits, eligible, merged) {
    const served = new Map();
    if (!merged) return { served, eligible };
    const earlier = earlierVisits(plan, merged);
    const officers = pool.records.inspectors;
    const index = new Map(officers.map((o, i) => [o[0], i]));
    const targets = pool.records.targets;
    const size = plan.teamSize;
    eligible = eligible.slice();
    visits.forEach(([t], p) => {
      const found = earlier.get(targets[t][0]);
      if (!found) return;
      const team = found[1];
      const perDepartment = eligible[p];
      const mayServe = team.length === size * perDepartment.length && perDepartment.every(([, allowed], k) =>
        team.slice(k * size, (k + 1) * size).every((cert) => allowed.includes(index.get(cert))));
      if (mayServe) served.set(p, team.map((c) => index.get(c)));
      else {
        const gone = new Set(team);
        eligible[p] = perDepartment.map(([d, allowed]) => [d, allowed.filter((i) => !gone.has(officers[i][0]))]);
      }
    });
    return { served, eligible };
  }

  /** §6 (§13.4–13.5): processing order and assignment; one team (officer
   * indices, leader first) per visit. */
  async function assignTeams(pool, plan, seed, visits, eligible, served) {
    const officers = pool.records.inspectors;
    const targets = pool.records.targets;
    const order = visits.map((_, p) => p);
    (await Stream.open(seed, ['visits'])).pick(order, order.length);
    const hardness = eligible.map((perDepartment) => Math.min(...perDepartment.map(([, a]) => a.length)));
    order.sort((a, b) => hardness[a] - hardness[b]); // stable (ES2019)
    const n = BigInt(officers.length);
    const cap = plan.workloadCap;
    const size = plan.teamSize;
    // The key (load, ticket, cert_no) as one integer: load above the 64-bit
    // ticket, then the officer's index, which is cert_no order.
    const atCap = (BigInt(cap) << 64n) * n;
    const load = new Array(officers.length).fill(0);
    const keys = new Array(officers.length).fill(null);
    const keyOf = async (i) => {
      if (load[i] >= cap) return atCap;
      const ticket = await firstWord(seed, ['ticket', officers[i][0], String(load[i])]);
      return ((BigInt(load[i]) << 64n) | ticket) * n + BigInt(i);
    };
    const candidates = new Set();
    eligible.forEach((perDepartment) => perDepartment.forEach(([, allowed]) => allowed.forEach((i) => candidates.add(i))));
    await Promise.all([...candidates].map(async (i) => { keys[i] = await keyOf(i); }));
    const teams = visits.map((_, p) => (served.has(p) ? served.get(p) : null));
    const shortages = [];
    for (const p of order) {
      if (served.has(p)) continue;
      const team = [];
      let short = false;
      for (const [department, allowed] of eligible[p]) {
        const smallest = allowed.map((i) => keys[i]).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).slice(0, size);
        if (smallest.length < size || smallest[size - 1] >= atCap) {
          const available = allowed.filter((i) => load[i] < cap).length;
          shortages.push(`${targets[visits[p][0]][0]} ${department} (${available} available)`);
          short = true;
          continue;
        }
        team.push(...smallest.map((k) => Number(k % n)));
      }
      if (short) continue;
      for (const i of team) {
        load[i] += 1;
        keys[i] = await keyOf(i);
      }
      teams[p] = team;
    }
    if (shortages.length) {
      throw new Difference(`the draw cannot be reproduced: ${shortages.length} visit(s) cannot get a full team of ${size}: ` +
        shortages.slice(0, 5).join(', ') + (shortages.length > 5 ? ' …' : ''));
    }
    return teams;
  }

  /** Without conflicts.csv the teams cannot be redrawn, but each listed
   * team is held to the rules that do not need it: §6 rules 1–3, 5, 6
   * (§13.3), the department blocks, the size, the cap and §14. */
  function checkPublicTeamRules(pool, plan, history, visits, teamTexts, label, merged) {
    const index = new Map(pool.records.inspectors.map((o, i) => [o[0], i]));
    const eligible = eligibleOfficers(pool, plan, history, visits, new Set());
    const targets = pool.records.targets;
    const earlier = earlierVisits(plan, merged);
    const size = plan.teamSize;
    const load = new Map();
    visits.forEach(([t], p) => {
      const team = teamTexts[p].split(';');
      const code = targets[t][0];
      const perDepartment = eligible[p];
      if (team.length !== size * perDepartment.length || new Set(team).size !== team.length) {
        throw new Difference(`${label}assignments.csv: ${code} has team ${teamTexts[p]}, not ${size} different officers ` +
          'from each of ' + perDepartment.map(([d]) => d).join('、'));
      }
      perDepartment.forEach(([department, allowed], k) => {
        const ok = new Set(allowed);
        for (const cert of team.slice(k * size, (k + 1) * size)) {
          if (!ok.has(index.get(cert))) {
            throw new Difference(`${label}assignments.csv: officer ${cert} may not inspect ${code} for ${department} (§6 rules 1–3, 5, 6)`);
          }
        }
      });
      const before = earlier.get(code);
      if (before) {
        if (teamTexts[p] === before[1].join(';')) return; // the earlier team serves: no load here
        if (team.some((c) => before[1].includes(c))) {
          throw new Difference(`${label}assignments.csv: ${code}'s team shares officers with the earlier team ${before[1].join(';')} (§14 rule 7)`);
        }
      }
      team.forEach((c) => load.set(c, (load.get(c) || 0) + 1));
    });
    for (const [cert, count] of load) {
      if (count > plan.workloadCap) {
        throw new Difference(`${label}assignments.csv: officer ${cert} has ${count} visits, the cap is ${plan.workloadCap}`);
      }
    }
  }

  // -------------------------------------------------------------------------
  // §7 result hashes, §8 assignments.csv
  // -------------------------------------------------------------------------

  const selectionSha256 = (rows) => listHash('shuangsui/v1/selection', rows.map((r) => [r.code, r.items]));
  const resultSha256 = (rows) => listHash('shuangsui/v1/result', rows.map((r) => [r.code, r.items, r.team]));

  /** The visits as §7/§8 texts; `teams` holds team texts or null. */
  function resultRows(pool, plan, visits, teams, merged) {
    const targets = pool.records.targets;
    const names = new Map(pool.records.items.map((r) => [r[0], r[1]]));
    const departmentOf = new Map(pool.records.inspectors.map((o) => [o[0], o[2]]));
    const earlier = earlierVisits(plan, merged);
    return visits.map(([index, codes], p) => {
      const t = targets[index];
      const team = teams[p];
      let departments = '';
      if (plan.participants !== null && team) {
        departments = team.split(';').filter((_, k) => k % plan.teamSize === 0).map((c) => departmentOf.get(c) || '').join(';');
      }
      const before = earlier.get(t[0]);
      return {
        code: t[0], name: t[1], items: codes.join(';'), itemNames: codes.map((c) => names.get(c)).join('；'),
        team, risk: t[5], departments, merged: before ? plan.mergeWith[before[0]] : '',
      };
    });
  }

  function assignmentsHeader(plan, confidential) {
    const header = ['序号', '统一社会信用代码', '名称', '抽查事项', '抽查事项名称', '组长', '检查人员'];
    if (plan.participants !== null) header.push('检查部门');
    if (plan.mergeWith !== null) header.push('合并至');
    if (confidential) header.push('信用风险分类');
    return header;
  }

  const csvField = (v) => (/[,"\r\n]/.test(v) ? '"' + v.replace(/"/g, '""') + '"' : v);

  function assignmentsLines(rows, confidential, plan) {
    const lines = [assignmentsHeader(plan, confidential).join(',')];
    rows.forEach((r, k) => {
      const values = [String(k + 1), r.code, r.name, r.items, r.itemNames, r.team.split(';')[0], r.team];
      if (plan.participants !== null) values.push(r.departments);
      if (plan.mergeWith !== null) values.push(r.merged);
      if (confidential) values.push(r.risk);
      lines.push(values.map(csvField).join(','));
    });
    return lines;
  }

  /** The stored assignments.csv as lines: UTF-8 with BOM, CRLF ends. */
  function storedLines(name, raw) {
    if (!(raw.length >= 3 && raw[0] === 0xef && raw[1] === 0xbb && raw[2] === 0xbf)) {
      throw new Difference(`${name} does not start with the UTF-8 BOM`);
    }
    let text;
    try {
      text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(raw.subarray(3));
    } catch (e) {
      throw new Difference(`${name} is not valid UTF-8`);
    }
    if (!text.endsWith('\r\n')) throw new Difference(`${name} does not end with CRLF`);
    return text.slice(0, -2).split('\r\n');
  }

  /** §8: compare line by line, naming the first that differs. */
  function compareLines(name, expected, raw) {
    const actual = storedLines(name, raw);
    for (let n = 0; n < Math.min(expected.length, actual.length); n++) {
      if (expected[n] !== actual[n]) {
        throw new Difference(`${name} line ${n + 1} differs:\n    bundle:     ${actual[n]}\n    recomputed: ${expected[n]}`);
      }
    }
    if (expected.length !== actual.length) {
      throw new Difference(`${name} has ${actual.length} lines, recomputed ${expected.length} ` +
        `(first difference at line ${Math.min(expected.length, actual.length) + 1})`);
    }
  }

  /** The rows of a stored assignments.csv, as the columns of §8. */
  function storedRows(name, raw, confidential, plan) {
    const header = assignmentsHeader(plan, confidential);
    const lines = storedLines(name, raw);
    const rows = csvRecords(lines.join('\n'), name);
    if (!rows.length || !sameList(rows[0][1], header)) throw new Difference(`${name}: the header is not ${header.join(',')}`);
    return rows.slice(1).map(([line, cells]) => {
      if (cells.length !== header.length) throw new Difference(`${name} line ${line} has ${cells.length} columns`);
      if (cells[5] !== cells[6].split(';')[0]) throw new Difference(`${name} line ${line}: leader ${cells[5]} is not the first team member`);
      const at = (h) => cells[header.indexOf(h)];
      return {
        line, number: cells[0], code: cells[1], name: cells[2], items: cells[3], itemNames: cells[4], team: cells[6],
        departments: plan.participants !== null ? at('检查部门') : '', merged: plan.mergeWith !== null ? at('合并至') : '',
        risk: confidential ? at('信用风险分类') : '',
      };
    });
  }

  // -------------------------------------------------------------------------
  // §12 Substitutions
  // -------------------------------------------------------------------------

  function readSubstitutions(raw, name) {
    if (!raw) return null;
    let log;
    try {
      log = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(raw));
    } catch (e) {
      throw new InputError(`${name} is not valid UTF-8 JSON: ${e.message}`);
    }
    if (!log || typeof log !== 'object' || ![SUBSTITUTIONS_FORMAT, PUBLIC_SUBSTITUTIONS_FORMAT].includes(log.format)) {
      throw new InputError(`${name}: format is not ${SUBSTITUTIONS_FORMAT} or ${PUBLIC_SUBSTITUTIONS_FORMAT}`);
    }
    if (!Array.isArray(log.substitutions)) throw new InputError(name + ': substitutions must be a list');
    return log;
  }

  /** §12: replays the list on the teams. With the pool and its recusal
   * list each substitute is redrawn; with the pool alone each is held to
   * the rules that do not need the list; with no pool only the bookkeeping
   * (numbering, visit, member) and the current result are checked. */
  async function replaySubstitutions(ctx, log, teamTexts, report) {
    const { pool, plan, history, seed, visits, merged, manifest, label, codes } = ctx;
    const name = label + 'substitutions.json';
    same(name + ' plan_id', log.plan_id, manifest.plan.id);
    same(name + ' draw_result_sha256', log.draw_result_sha256, manifest.result_sha256);
    // Only the public copy withholds the reasons (§12).
    if (manifest.visibility === 'confidential' && log.format !== SUBSTITUTIONS_FORMAT) {
      throw new Difference(`${name} withholds the reasons: the confidential copy keeps them (format ${SUBSTITUTIONS_FORMAT})`);
    }
    const full = pool && pool.conflicts !== null;
    const teams = teamTexts.map((t) => t.split(';'));
    const earlier = new Map([...earlierVisits(plan, merged)].map(([code, [, team]]) => [code, team]));
    const served = new Set();
    codes.forEach((code, n) => { if (earlier.has(code) && sameList(earlier.get(code), teams[n])) served.add(n); });
    const loads = new Map();
    teams.forEach((team, n) => { if (!served.has(n)) team.forEach((c) => loads.set(c, (loads.get(c) || 0) + 1)); });
    const visitOf = new Map(codes.map((code, n) => [code, n]));
    const removed = new Map();
    const declared = new Set(full ? pool.conflicts : []);
    let officers = null;
    let byCert = null;
    let items = null;
    let latest = null;
    if (pool) {
      officers = pool.records.inspectors;
      byCert = new Map(officers.map((o) => [o[0], o]));
      items = new Map(pool.records.items.map((r) => [r[0], r]));
      latest = plan.previousInspector ? latestTeams(history) : new Map();
    }
    let seq = 0;
    for (const entry of log.substitutions) {
      seq += 1;
      const what = `${name} entry ${seq}`;
      if (!entry || entry.seq !== seq) throw new Difference(`${what} is numbered ${JSON.stringify(entry && entry.seq)}`);
      const code = entry.credit_code;
      const out = entry.out;
      const incoming = entry.in;
      const reasons = log.format === PUBLIC_SUBSTITUTIONS_FORMAT ? PUBLIC_REASONS : SUBSTITUTION_REASONS;
      if (!reasons.includes(entry.reason)) {
        throw new Difference(`${what}: reason ${JSON.stringify(entry.reason)} is not one of ${reasons.join(', ')}`);
      }
      const v = visitOf.get(code);
      if (v === undefined) throw new Difference(`${what}: ${code} was not drawn`);
      const team = teams[v];
      if (!team.includes(out)) throw new Difference(`${what}: officer ${out} is not on the team for ${code}`);
      if (served.has(v)) {
        throw new Difference(`${what}: the visit to ${code} is made by an earlier plan's team (§14) and cannot be changed in this bundle`);
      }
      // Step 1: the officer leaves.
      if (!removed.has(v)) removed.set(v, new Set());
      removed.get(v).add(out);
      loads.set(out, (loads.get(out) || 0) - 1);
      if (entry.reason === 'conflict') declared.add(out + '\u0000' + code);
      if (pool) {
        // Step 2: the candidates, in cert_no order.
        const department = byCert.get(out)[2];
        const visit = visits[v];
        const fields = [...new Set(visit[1].filter((c) => items.get(c)[2] === department).map((c) => items.get(c)[3]))];
        const township = pool.records.targets[visit[0]][4];
        const previous = latest.has(code) ? latest.get(code)[1] : new Set();
        const onEarlier = new Set(earlier.get(code) || []);
        const candidates = officers.filter((o) => {
          const areas = listSet(o[3]);
          return o[2] === department && o[5] >= plan.inspectionDate && fields.every((f) => areas.has(f)) &&
            !declared.has(o[0] + '\u0000' + code) && !(plan.sameTownship && o[4] === township) &&
            !previous.has(o[0]) && !team.includes(o[0]) && !removed.get(v).has(o[0]) && !onEarlier.has(o[0]) &&
            (loads.get(o[0]) || 0) < plan.workloadCap;
        }).map((o) => o[0]);
        if (full) {
          // Step 4: the smallest (load, ticket, cert_no).
          if (!candidates.length) throw new Difference(`${what}: no officer can replace ${out}, yet the list names ${incoming}`);
          let best = null;
          for (const c of candidates) {
            const key = [loads.get(c) || 0, await firstWord(seed, ['substitute', String(seq), c]), c];
            if (!best || key[0] < best[0] || (key[0] === best[0] && (key[1] < best[1] ||
              (key[1] === best[1] && cmp(key[2], best[2]) < 0)))) best = key;
          }
          if (best[2] !== incoming) {
            throw new Difference(`${what} (${out} out of ${code}): the list names ${incoming}, the replay draws ${best[2]}`);
          }
        } else if (!candidates.includes(incoming)) {
          throw new Difference(`${what}: substitute ${incoming} may not inspect ${code} (§12 step 2 without the recusal list)`);
        }
      } else if (typeof incoming !== 'string' || !ID_RE.test(incoming) || team.includes(incoming) || removed.get(v).has(incoming)) {
        throw new Difference(`${what}: substitute ${incoming} is already on the team for ${code} or was taken off it`);
      }
      // Step 5: the substitute takes the place.
      team[team.indexOf(out)] = incoming;
      loads.set(incoming, (loads.get(incoming) || 0) + 1);
    }
    const current = teams.map((t) => t.join(';'));
    const rows = ctx.items.map((items, n) => ({ code: codes[n], items, team: current[n] }));
    same(name + ' result_sha256', log.result_sha256, await resultSha256(rows));
    const count = log.substitutions.length;
    if (full) {
      report.ok(`${name}: all ${count} substitutions re-drawn; current result ${log.result_sha256}`);
    } else if (pool) {
      report.ok(`${name}: all ${count} substitutes obey every rule that does not need conflicts.csv; current result ${log.result_sha256}`);
      report.skip('substitutes NOT RE-DRAWN: the choice depends on the confidential recusal list');
    } else {
      report.ok(`${name}: all ${count} substitutions replayed on the listed teams; current result ${log.result_sha256}`);
      report.skip('substitutes NOT CHECKED against the pool rules: the pool files were not given');
    }
    return current;
  }

  // -------------------------------------------------------------------------
  // §8 Verification
  // -------------------------------------------------------------------------

  function get(doc, ...path) {
    let value = doc;
    for (const key of path) {
      if (!value || typeof value !== 'object' || !(key in value)) throw new Difference('manifest.json has no ' + path.join('.'));
      value = value[key];
    }
    return value;
  }

  function same(what, manifestValue, computed) {
    if (!deepEqual(manifestValue, computed)) {
      throw new Difference(`${what}: manifest says ${JSON.stringify(manifestValue)}, recomputed ${JSON.stringify(computed)}`);
    }
  }

  function fileHash(manifest, name) {
    const files = get(manifest, 'files');
    const entry = Array.isArray(files) && files.find((f) => f && f.name === name);
    if (!entry) throw new Difference('manifest.json files has no entry for ' + name);
    return entry.sha256;
  }

  function parseJson(raw, what) {
    try {
      return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(raw));
    } catch (e) {
      throw new InputError(`${what} is not valid UTF-8 JSON: ${e.message}`);
    }
  }

  function readManifest(files, where) {
    if (!files['manifest.json']) throw new InputError(`cannot read ${where}manifest.json`);
    const doc = parseJson(files['manifest.json'], where + 'manifest.json');
    if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new InputError(`${where}manifest.json is not a JSON object`);
    if (doc.format !== BUNDLE_FORMAT) throw new InputError(`${where}manifest.json: unknown bundle format ${JSON.stringify(doc.format)}`);
    if (doc.algorithm_version !== ALGORITHM_VERSION) {
      // §9: a verifier must refuse a version it does not implement.
      throw new InputError(`algorithm version ${JSON.stringify(doc.algorithm_version)} is not implemented by this verifier ` +
        `(it implements ${ALGORITHM_VERSION})`);
    }
    if (doc.visibility !== 'confidential' && doc.visibility !== 'public') {
      throw new InputError(`${where}manifest.json: visibility must be confidential or public`);
    }
    return doc;
  }

  function need(files, name, label) {
    if (!files[name]) throw new InputError(`cannot read ${label}${name}`);
    return files[name];
  }

  /** Verifies one copy (confidential or public) of a bundle; raises a
   * Difference on the first difference. `draws` caches the redraw, which a
   * confidential bundle and its public copy share. */
  async function verifyCopy(files, label, pool, draws, report, name) {
    const manifest = readManifest(files, label);
    const confidential = manifest.visibility === 'confidential';
    report.say(`${manifest.visibility} bundle ${name}${label ? '/' + label.slice(0, -1) : ''}`);

    const planRaw = need(files, 'plan.json', label);
    const planSha = await hexHash(planRaw);
    same(label + 'plan.json sha256 (manifest plan.sha256)', get(manifest, 'plan', 'sha256'), planSha);
    same(label + 'plan.json sha256 (manifest files)', fileHash(manifest, 'plan.json'), planSha);
    const planDoc = parseJson(planRaw, label + 'plan.json');
    const plan = parsePlan(planDoc);
    same('plan id', get(manifest, 'plan', 'id'), plan.id);
    same('plan name', get(manifest, 'plan', 'name'), plan.name);
    same('plan content (manifest plan.content)', get(manifest, 'plan', 'content'), planDoc);
    report.ok(`${label}plan.json sha256 ${planSha} matches the manifest (plan ${plan.id})`);

    const seed = await checkSeed(manifest, report);

    const historyRaw = need(files, 'history.csv', label);
    same(label + 'history.csv sha256 (manifest files)', fileHash(manifest, 'history.csv'), await hexHash(historyRaw));
    const history = readHistory(historyRaw);
    const historySha = await listHash('shuangsui/v1/history', history);
    same('history_sha256', get(manifest, 'history_sha256'), historySha);
    report.ok(`${label}history.csv: ${history.length} earlier inspection(s), history_sha256 ${historySha}`);

    let merged = null;
    if (plan.mergeWith !== null) {
      const sources = get(manifest, 'merge_sources');
      const ids = Array.isArray(sources) ? sources.map((s) => s && s.plan_id) : null;
      if (!deepEqual(ids, plan.mergeWith)) {
        throw new Difference(`merge_sources are of ${JSON.stringify(ids)}, the plan names ${JSON.stringify(plan.mergeWith)}`);
      }
      const mergeRaw = need(files, 'merge.csv', label);
      same(label + 'merge.csv sha256 (manifest files)', fileHash(manifest, 'merge.csv'), await hexHash(mergeRaw));
      merged = readMerge(mergeRaw, plan);
      same('merge_sha256', get(manifest, 'merge_sha256'), await listHash('shuangsui/v1/merge', merged));
      report.ok(`${label}merge.csv: ${merged.length} earlier visit(s) of ${plan.mergeWith.join(', ')}, merge_sha256 ${manifest.merge_sha256}`);
    } else if ('merge_sources' in manifest || 'merge_sha256' in manifest || files['merge.csv']) {
      throw new Difference(`${label}the bundle carries merge inputs, but its plan merges with no plan`);
    }

    // §1 snapshots, naming the file that differs.
    const given = KINDS.filter((k) => pool.snapshot[k]);
    for (const kind of given) {
      if (get(manifest, 'snapshot', kind) !== pool.snapshot[kind]) {
        throw new Difference(`pool file ${kind}.csv differs from the one drawn: snapshot ${pool.snapshot[kind]}, ` +
          `manifest says ${manifest.snapshot[kind]}`);
      }
    }
    const claimed = {};
    KINDS.forEach((k) => { claimed[k] = pool.snapshot[k] || get(manifest, 'snapshot', k); });
    if (KINDS.some((k) => typeof claimed[k] !== 'string' || !HEX(32).test(claimed[k]))) {
      throw new Difference('manifest.json: a snapshot hash is not 64 lowercase hex characters');
    }
    same('snapshot_combined', get(manifest, 'snapshot_combined'), await combinedSnapshot(claimed));
    if (given.length === 5) {
      report.ok(`pool snapshots of all five files match; combined ${manifest.snapshot_combined}`);
    } else {
      if (given.length) report.ok(`pool snapshots of ${given.join(', ')} match`);
      if (!pool.snapshot.conflicts) report.skip('conflicts.csv snapshot NOT CHECKED: the confidential recusal list was not given');
      const missing = KINDS.slice(0, 4).filter((k) => !pool.snapshot[k]);
      if (missing.length) {
        report.skip(`pool snapshots of ${missing.join(', ')} NOT CHECKED: ${missing.map((k) => k + '.csv').join(', ')} not given`);
      }
    }

    const assignmentsRaw = need(files, 'assignments.csv', label);
    same(label + 'assignments.csv sha256 (manifest files)', fileHash(manifest, 'assignments.csv'), await hexHash(assignmentsRaw));
    if (!confidential && 'strata' in manifest) throw new Difference('the public manifest.json publishes per-class counts (strata)');
    if (!pool.complete) {
      return listedCopy({ files, label, manifest, plan, history, merged, seed, confidential, assignmentsRaw }, report);
    }

    // §5: the target draw, once for both copies.
    const key = [planSha, historySha, manifest.seed.hex, merged ? JSON.stringify(merged) : ''].join(' ');
    if (!draws.has(key)) draws.set(key, await drawTargets(pool, plan, history, seed));
    const draw = draws.get(key);
    const { visits, strata } = draw;
    const selection = await selectionSha256(resultRows(pool, plan, visits, visits.map(() => null), merged));
    same('selection_sha256 (the drawn targets and items)', get(manifest, 'selection_sha256'), selection);
    const itemChecks = visits.reduce((s, [, codes]) => s + codes.length, 0);
    same('counts.visits', get(manifest, 'counts', 'visits'), visits.length);
    same('counts.item_checks', get(manifest, 'counts', 'item_checks'), itemChecks);
    if (confidential) {
      // With a fixed count the one stratum's class is JSON null (label "*").
      same('strata', get(manifest, 'strata'), strata.map((s) => ({
        item: s.item, class: s.class === '*' ? null : s.class, eligible: s.eligible, drawn: s.drawn,
      })));
    }
    report.ok(`targets re-drawn: ${visits.length} visits, ${itemChecks} item checks${confidential ? ', strata counts match' : ''}; ` +
      `selection_sha256 ${selection}`);

    // §6: the teams.
    const partial = pool.conflicts === null;
    let rows;
    if (partial) {
      const listed = storedRows(label + 'assignments.csv', assignmentsRaw, confidential, plan);
      if (listed.length !== visits.length) {
        throw new Difference(`${label}assignments.csv has ${listed.length} visits, recomputed ${visits.length}`);
      }
      const teamTexts = listed.map((r) => r.team);
      checkPublicTeamRules(pool, plan, history, visits, teamTexts, label, merged);
      rows = resultRows(pool, plan, visits, teamTexts, merged);
      const recusals = (plan.sameTownship ? 'same-township recusal, ' : '') + (plan.previousInspector ? 'previous-inspector recusal, ' : '');
      report.ok(`${label}teams obey every rule that does not need conflicts.csv: size ${plan.teamSize}, department, ` +
        `certificate, qualification, ${recusals}workload cap ${plan.workloadCap}`);
      report.skip('teams (officer assignment) NOT RE-DRAWN: the draw depends on the confidential recusal list ' +
        'conflicts.csv, which was not given');
    } else {
      if (!draw.teams) {
        const eligible = eligibleOfficers(pool, plan, history, visits, pool.conflicts);
        const m = mergeVisits(pool, plan, visits, eligible, merged);
        draw.teams = await assignTeams(pool, plan, seed, visits, m.eligible, m.served);
      }
      const certs = pool.records.inspectors.map((o) => o[0]);
      rows = resultRows(pool, plan, visits, draw.teams.map((t) => t.map((i) => certs[i]).join(';')), merged);
    }
    compareLines(label + 'assignments.csv', assignmentsLines(rows, confidential, plan), assignmentsRaw);
    report.ok(partial
      ? `${label}assignments.csv: all ${rows.length} rows match except the team columns (组长, 检查人员)`
      : `${label}assignments.csv: all ${rows.length} rows reproduced exactly`);
    const result = await resultSha256(rows);
    same('result_sha256', get(manifest, 'result_sha256'), result);
    if (partial) {
      report.ok(`result_sha256 ${result} is consistent with the teams listed in assignments.csv (the teams themselves were not re-drawn)`);
    } else {
      const officers = new Set(rows.flatMap((r) => r.team.split(';'))).size;
      same('counts.officers', get(manifest, 'counts', 'officers'), officers);
      report.ok(`teams re-drawn: ${officers} officers; result_sha256 ${result}`);
    }
    const log = readSubstitutions(files['substitutions.json'], label + 'substitutions.json');
    if (log) {
      const codes = rows.map((r) => r.code);
      await replaySubstitutions({ pool, plan, history, seed, visits, merged, manifest, label, codes, items: rows.map((r) => r.items) },
        log, rows.map((r) => r.team), report);
    }
    return manifest;
  }

  /** A copy checked without the pool needed to redraw it: what the bundle
   * alone allows — every hash recomputed from the rows it lists, the rows
   * in order and well formed, the teams of the published size, the counts
   * and the substitutions' bookkeeping. */
  async function listedCopy(c, report) {
    const { files, label, manifest, plan, merged, confidential, assignmentsRaw } = c;
    const name = label + 'assignments.csv';
    const rows = storedRows(name, assignmentsRaw, confidential, plan);
    const earlier = earlierVisits(plan, merged);
    const planItems = new Set(plan.items);
    rows.forEach((r, k) => {
      const at = `${name} line ${r.line}`;
      if (r.number !== String(k + 1)) throw new Difference(`${at}: number ${r.number}, expected ${k + 1}`);
      if (!validCreditCode(r.code)) throw new Difference(`${at}: ${r.code} is not a unified social credit code`);
      if (k > 0 && cmp(rows[k - 1].code, r.code) >= 0) throw new Difference(`${at}: the visits are not in credit-code order`);
      const codes = r.items.split(';');
      if (!sameList(codes, sortedUnique(codes)) || !codes.every((x) => planItems.has(x))) {
        throw new Difference(`${at}: items ${r.items} are not plan items in item-code order`);
      }
      const team = r.team.split(';');
      const blocks = plan.participants !== null ? r.departments.split(';') : [plan.department];
      if (blocks[0] !== plan.department || !blocks.slice(1).every((d) => plan.participants.includes(d))) {
        throw new Difference(`${at}: the departments ${r.departments} do not start with ${plan.department} or are not participants`);
      }
      if (team.length !== plan.teamSize * blocks.length || new Set(team).size !== team.length ||
        !team.every((cert) => ID_RE.test(cert))) {
        throw new Difference(`${at}: team ${r.team} is not ${plan.teamSize} different officers from each of ${blocks.join('、')}`);
      }
      const before = earlier.get(r.code);
      const mergedInto = before ? plan.mergeWith[before[0]] : '';
      if (plan.mergeWith !== null && r.merged !== mergedInto) {
        throw new Difference(`${at}: 合并至 is ${JSON.stringify(r.merged)}, merge.csv gives ${JSON.stringify(mergedInto)}`);
      }
    });
    const selection = await selectionSha256(rows);
    same('selection_sha256 (the targets and items listed)', get(manifest, 'selection_sha256'), selection);
    const result = await resultSha256(rows);
    same('result_sha256 (the teams listed)', get(manifest, 'result_sha256'), result);
    const itemChecks = rows.reduce((s, r) => s + r.items.split(';').length, 0);
    same('counts.visits', get(manifest, 'counts', 'visits'), rows.length);
    same('counts.item_checks', get(manifest, 'counts', 'item_checks'), itemChecks);
    const officers = new Set(rows.flatMap((r) => r.team.split(';'))).size;
    same('counts.officers', get(manifest, 'counts', 'officers'), officers);
    report.ok(`${name}: ${rows.length} visits in credit-code order, ${itemChecks} item checks, ${officers} officers in teams of ` +
      `${plan.teamSize}, leader first; selection_sha256 ${selection} and result_sha256 ${result} are those of the rows listed`);
    report.skip('targets NOT RE-DRAWN: the draw needs departments.csv, items.csv, inspectors.csv and targets.csv ' +
      '(with the confidential risk classes), which were not all given');
    report.skip('teams (officer assignment) NOT RE-DRAWN: the draw needs the pool files and the confidential recusal list conflicts.csv');
    const log = readSubstitutions(files['substitutions.json'], label + 'substitutions.json');
    if (log) {
      await replaySubstitutions({ pool: null, plan, history: c.history, seed: c.seed, visits: null, merged, manifest, label,
        codes: rows.map((r) => r.code), items: rows.map((r) => r.items) }, log, rows.map((r) => r.team), report);
    }
    return manifest;
  }

  /** The lines printed, with the verdict; `onLine(kind, text)` sees each
   * as it is written (kind: say, ok, skip, verdict). */
  class Report {
    constructor(onLine) {
      this.onLine = onLine || (() => {});
      this.lines = [];
      this.skipped = [];
    }
    write(kind, text) {
      this.lines.push(text);
      this.onLine(kind, text);
    }
    say(text) { this.write('say', text); }
    ok(text) { this.write('ok', 'ok  ' + text); }
    skip(text) {
      if (!this.skipped.includes(text)) this.skipped.push(text);
      this.write('skip', '--  ' + text);
    }
  }

  /**
   * Verifies a bundle.
   *   bundle: {name: bytes} of the bundle folder (confidential or public copy)
   *   publicCopy: {name: bytes} of its public/ folder, for a confidential bundle
   *   pool: {departments, items, inspectors, targets, conflicts} bytes, any
   *     of them missing (none: what the public copy alone allows)
   *   encoding: 'detect' (default), 'utf-8' or 'gbk'; noConflicts: ignore conflicts
   * Resolves to {code, verdict, lines}: code 0 (verified or partially
   * verified), 1 (NOT VERIFIED), 2 (ERROR).
   */
  async function verify(options, onLine) {
    const { bundle, publicCopy = null, pool: poolFiles = {}, encoding = 'detect', noConflicts = false, name = 'the bundle' } = options;
    const report = new Report(onLine);
    let code = 0;
    let verdict;
    try {
      const pool = await loadPool(poolFiles || {}, encoding, !noConflicts);
      const draws = new Map();
      const manifest = await verifyCopy(bundle, '', pool, draws, report, name);
      if (manifest.visibility === 'confidential') {
        if (!publicCopy) throw new InputError(`${name} has no public/ copy`);
        const pub = await verifyCopy(publicCopy, 'public/', pool, draws, report, name);
        // The public copy publishes the same draw: every manifest key is
        // equal except visibility, strata and the assignments.csv hash.
        for (const k of Object.keys(manifest)) {
          if (['visibility', 'strata', 'files'].includes(k)) continue;
          if (!deepEqual(pub[k], manifest[k])) throw new Difference(`public/manifest.json ${k} differs from the confidential manifest`);
        }
        const shared = ['plan.json', 'history.csv'].concat('merge_sha256' in manifest ? ['merge.csv'] : []);
        for (const f of shared) {
          if (fileHash(pub, f) !== fileHash(manifest, f)) throw new Difference(`public/${f} differs from the confidential copy`);
        }
        report.ok('the public copy publishes the same draw, without risk classes or per-class counts');
        const log = readSubstitutions(bundle['substitutions.json'], 'substitutions.json');
        const publicLog = readSubstitutions(publicCopy['substitutions.json'], 'public/substitutions.json');
        // A public copy of format /2 withholds the reasons; one of /1,
        // written before, holds the list without its notes.
        const withheld = !publicLog || publicLog.format !== SUBSTITUTIONS_FORMAT;
        if (log) {
          log.substitutions.forEach((e) => {
            delete e.note;
            delete e.relation;
            if (withheld) e.reason = 'adjustment';
          });
          if (withheld) log.format = PUBLIC_SUBSTITUTIONS_FORMAT;
        }
        if (!deepEqual(log, publicLog)) {
          throw new Difference('public/substitutions.json is not substitutions.json without its confidential notes and reasons');
        }
      }
      if (report.skipped.length) {
        verdict = 'partially verified';
        report.write('verdict', 'partially verified: everything else is reproduced exactly; NOT checked: ' + report.skipped.join('; '));
      } else {
        verdict = 'verified';
        report.write('verdict', `verified: ${name} is reproduced exactly from its seed, plan, history and pool`);
      }
    } catch (e) {
      if (e instanceof Difference) {
        code = 1;
        verdict = 'NOT VERIFIED';
        report.write('verdict', 'NOT VERIFIED: ' + e.message);
      } else if (e instanceof InputError) {
        code = 2;
        verdict = 'ERROR';
        report.write('verdict', 'ERROR: ' + e.message);
      } else {
        throw e;
      }
    }
    return { code, verdict, lines: report.lines };
  }

  /** Redraws from inputs alone (no bundle), for the golden vectors of
   * tests/vectors/: the hashes and the confidential assignments.csv lines. */
  async function redraw({ pool: poolFiles, plan: planRaw, history: historyRaw, merge: mergeRaw, seed }) {
    const pool = await loadPool(poolFiles, 'detect', true);
    const plan = parsePlan(parseJson(planRaw, 'plan.json'));
    const history = readHistory(historyRaw);
    const merged = plan.mergeWith !== null ? readMerge(mergeRaw, plan) : null;
    const { visits } = await drawTargets(pool, plan, history, seed);
    const m = mergeVisits(pool, plan, visits, eligibleOfficers(pool, plan, history, visits, pool.conflicts || new Set()), merged);
    const teams = await assignTeams(pool, plan, seed, visits, m.eligible, m.served);
    const certs = pool.records.inspectors.map((o) => o[0]);
    const rows = resultRows(pool, plan, visits, teams.map((t) => t.map((i) => certs[i]).join(';')), merged);
    return {
      snapshot: pool.snapshot,
      snapshotCombined: await combinedSnapshot(pool.snapshot),
      historySha256: await listHash('shuangsui/v1/history', history),
      mergeSha256: merged ? await listHash('shuangsui/v1/merge', merged) : null,
      visits: rows.length,
      selectionSha256: await selectionSha256(rows),
      resultSha256: await resultSha256(rows),
      assignments: assignmentsLines(rows, true, plan),
    };
  }

  return {
    ALGORITHM_VERSION, verify, redraw, useSubtle, sha256js, H, chacha20Block, Stream, streamKey, ceremonyDigits,
    ceremonySeed, decodeBytes, csvRecords, loadPool, toHex, fromHex, cmp, InputError, Difference,
  };
});
