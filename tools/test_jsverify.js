#!/usr/bin/env node
// Tests for the browser verifier static/verify/shuangsui-verify.js, under
// node: RFC 8439 ChaCha20 vectors, the plain-JavaScript SHA-256 against
// node's, the stream primitives of tests/vectors/streams.json and the golden
// draws of tests/vectors/*/ (hashes and assignments.csv bytes), each with
// SubtleCrypto and with the fallback.
//
//   node tools/test_jsverify.js
//
// Prints one line per check, then `N passed, M failed`; exit 1 on a failure.
'use strict';

const fs = require('fs');
const path = require('path');
const nodeCrypto = require('crypto');
const v = require('../static/verify/shuangsui-verify.js');

const VECTORS = path.join(__dirname, '..', 'tests', 'vectors');
let passed = 0;
let failed = 0;
function check(label, ok, detail) {
  if (ok) passed++;
  else failed++;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${label}${ok || !detail ? '' : ' — ' + detail}`);
}
// JSON text with object keys sorted, so key order does not count.
const canonical = (x) => JSON.stringify(x, (k, val) => (val && typeof val === 'object' && !Array.isArray(val)
  ? Object.fromEntries(Object.keys(val).sort().map((key) => [key, val[key]])) : val));
const eq = (label, got, want) => check(label, canonical(got) === canonical(want), `got ${canonical(got)}, want ${canonical(want)}`);
const bytes = (file) => new Uint8Array(fs.readFileSync(file));
const hex = (text) => Uint8Array.from(Buffer.from(text, 'hex'));

function chacha() {
  const block = v.chacha20Block(Uint8Array.from({ length: 32 }, (_, i) => i), 1, hex('000000090000004a00000000'));
  eq('ChaCha20 RFC 8439 §2.3.2', v.toHex(block),
    '10f1e7e4d13b5915500fdd1fa32071c4c7d1f4c733c068030422aa9ac3d46c4e' +
    'd2826446079faa0914c2d705d98b02a2b5129cd1de164eb9cbd083e8a2503c4e');
  const zero = new Uint8Array(32);
  const one = new Uint8Array(32);
  one[31] = 1;
  const ff = new Uint8Array(32);
  ff[1] = 0xff;
  const nonce2 = new Uint8Array(12);
  nonce2[11] = 2;
  const cases = [
    [zero, 0, new Uint8Array(12), '76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586'],
    [zero, 1, new Uint8Array(12), '9f07e7be5551387a98ba977c732d080dcb0f29a048e3656912c6533e32ee7aed29b721769ce64e43d57133b074d839d531ed1f28510afb45ace10a1f4b794d6f'],
    [one, 1, new Uint8Array(12), '3aeb5224ecf849929b9d828db1ced4dd832025e8018b8160b82284f3c949aa5a8eca00bbb4a73bdad192b5c42f73f2fd4e273644c8b36125a64addeb006c13a0'],
    [ff, 2, new Uint8Array(12), '72d54dfbf12ec44b362692df94137f328fea8da73990265ec1bbbea1ae9af0ca13b25aa26cb4a648cb9b9d1be65b2c0924a66c54d545ec1b7374f4872e99f096'],
    [zero, 0, nonce2, 'c2c64d378cd536374ae204b9ef933fcd1a8b2288b3dfa49672ab765b54ee27c78a970e0e955c14f3a88e741b97c286f75f8fc299e8148362fa198a39531bed6d'],
  ];
  cases.forEach(([key, counter, nonce, want], n) => eq(`ChaCha20 RFC 8439 A.1 vector ${n + 1}`, v.toHex(v.chacha20Block(key, counter, nonce)), want));
}

function sha() {
  // Lengths around the 55/56/64-byte padding edges and a long message.
  let ok = true;
  for (const n of [0, 1, 55, 56, 63, 64, 65, 119, 120, 1000, 100000]) {
    const data = Uint8Array.from({ length: n }, (_, i) => (i * 131 + 7) & 255);
    const want = nodeCrypto.createHash('sha256').update(data).digest('hex');
    if (v.toHex(v.sha256js(data)) !== want) {
      ok = false;
      check(`plain-JS SHA-256 of ${n} bytes`, false, v.toHex(v.sha256js(data)));
    }
  }
  check('plain-JS SHA-256 equals node crypto at the padding edges', ok);
  eq('plain-JS SHA-256("abc")', v.toHex(v.sha256js(new TextEncoder().encode('abc'))),
    'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
}

async function streams(mode) {
  const doc = JSON.parse(fs.readFileSync(path.join(VECTORS, 'streams.json'), 'utf8'));
  const seed = hex(doc.seed);
  for (const c of doc.streams) {
    let s = await v.Stream.open(seed, c.labels);
    eq(`${mode}: stream ${JSON.stringify(c.labels)} first words`, c.first_words.map(() => String(s.next())), c.first_words);
    s = await v.Stream.open(seed, c.labels);
    eq(`${mode}: stream ${JSON.stringify(c.labels)} below`, c.below.n.map((n) => String(s.below(BigInt(n)))), c.below.values);
    s = await v.Stream.open(seed, c.labels);
    const items = Array.from({ length: 20 }, (_, i) => i);
    s.pick(items, 5);
    eq(`${mode}: stream ${JSON.stringify(c.labels)} pick 5 of 20`, items.slice(0, 5), c.pick_5_of_0_to_19);
  }
  eq(`${mode}: ceremony seed`, await v.ceremonySeed(v.ceremonyDigits(doc.ceremony.text)), doc.ceremony.seed);
}

async function golden(mode) {
  const cases = fs.readdirSync(VECTORS).filter((n) => fs.existsSync(path.join(VECTORS, n, 'expected.json'))).sort();
  check(`${mode}: golden cases found`, cases.length >= 4, cases.join(','));
  for (const name of cases) {
    const dir = path.join(VECTORS, name);
    const expected = JSON.parse(fs.readFileSync(path.join(dir, 'expected.json'), 'utf8'));
    const seedText = fs.readFileSync(path.join(dir, 'seed.txt'), 'utf8').trim();
    const seedHex = seedText.startsWith('ceremony:') ? await v.ceremonySeed(v.ceremonyDigits(seedText.slice(9))) : seedText.toLowerCase();
    eq(`${mode}: ${name} seed`, seedHex, expected.seed);
    const pool = {};
    for (const kind of ['departments', 'items', 'inspectors', 'targets', 'conflicts']) pool[kind] = bytes(path.join(dir, 'pool', kind + '.csv'));
    const merge = path.join(dir, 'merge.csv');
    const got = await v.redraw({
      pool, plan: bytes(path.join(dir, 'plan.json')), history: bytes(path.join(dir, 'history.csv')),
      merge: fs.existsSync(merge) ? bytes(merge) : null, seed: hex(seedHex),
    });
    eq(`${mode}: ${name} snapshots`, got.snapshot, expected.snapshot);
    eq(`${mode}: ${name} combined snapshot`, got.snapshotCombined, expected.snapshot_combined);
    eq(`${mode}: ${name} history_sha256`, got.historySha256, expected.history_sha256);
    if (expected.merge_sha256) eq(`${mode}: ${name} merge_sha256`, got.mergeSha256, expected.merge_sha256);
    eq(`${mode}: ${name} visits`, got.visits, expected.visits);
    eq(`${mode}: ${name} selection_sha256`, got.selectionSha256, expected.selection_sha256);
    eq(`${mode}: ${name} result_sha256`, got.resultSha256, expected.result_sha256);
    const csv = '\ufeff' + got.assignments.map((l) => l + '\r\n').join('');
    check(`${mode}: ${name} assignments.csv byte for byte`, Buffer.from(csv, 'utf8').equals(fs.readFileSync(path.join(dir, 'assignments.csv'))));
  }
}

function decoding() {
  // GB18030 is the Encoding Standard's decoder: 0x80 is €, A3A0 is U+3000.
  eq('GB18030 decoding (Encoding Standard)', v.decodeBytes(Uint8Array.from([0x80, 0xa3, 0xa0, 0xb0, 0xa1]), 'detect', 'x.csv'), '€\u3000啊');
  eq('a UTF-8 BOM is not text', v.decodeBytes(Uint8Array.from([0xef, 0xbb, 0xbf, 0x61]), 'detect', 'x.csv'), 'a');
  let refused = false;
  try {
    v.decodeBytes(new TextEncoder().encode('a\n\ufeffb'), 'detect', 'x.csv');
  } catch (e) {
    refused = e instanceof v.InputError && /x\.csv:2/.test(e.message);
  }
  check('U+FEFF inside a file is an input error naming the line', refused);
  eq('CSV: quotes, "" and text after a closing quote', v.csvRecords('a,"b,""c"""d\r\n\r\n ,\n"x\ny",z', 'x.csv').map((r) => r[1]),
    [['a', 'b,"c"d'], [' ', ''], ['x\ny', 'z']]);
  eq('code point order, not UTF-16 order', ['\uffff', '\u{10000}', 'z'].sort(v.cmp), ['z', '\uffff', '\u{10000}']);
}

(async () => {
  chacha();
  sha();
  decoding();
  for (const [mode, subtle] of [['SubtleCrypto', true], ['plain-JS SHA-256', false]]) {
    check(`${mode} selected`, v.useSubtle(subtle) === subtle);
    await streams(mode);
    await golden(mode);
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exitCode = failed ? 1 : 0;
})().catch((e) => {
  console.error(e.stack || e);
  process.exitCode = 1;
});
