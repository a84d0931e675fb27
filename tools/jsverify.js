#!/usr/bin/env node
// Runs the browser verifier (static/verify/shuangsui-verify.js) under node,
// on a bundle folder and a pool folder, as tools/verify.py does:
//
//   node tools/jsverify.js BUNDLE_DIR [--data POOL_DIR] [--encoding utf-8|gbk|detect]
//                          [--no-conflicts] [--no-subtle]
//
// Without --data it checks what the public copy alone allows (partially
// verified at best). --no-subtle uses the plain-JavaScript SHA-256 that
// browsers fall back to without SubtleCrypto. Prints each check, then the
// verdict; exit 0 verified or partially verified, 1 NOT VERIFIED, 2 ERROR.
'use strict';

const fs = require('fs');
const path = require('path');
const verifier = require('../static/verify/shuangsui-verify.js');

const BUNDLE_FILES = ['manifest.json', 'plan.json', 'history.csv', 'assignments.csv', 'merge.csv', 'substitutions.json'];
const POOL_KINDS = ['departments', 'items', 'inspectors', 'targets', 'conflicts'];

function readFiles(dir, names, suffix = '') {
  const files = {};
  for (const name of names) {
    const file = path.join(dir, name + suffix);
    if (fs.existsSync(file)) files[name] = new Uint8Array(fs.readFileSync(file));
  }
  return files;
}

async function main(argv) {
  const args = { encoding: 'detect', noConflicts: false, subtle: true };
  const rest = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--data') args.data = argv[++i];
    else if (a === '--encoding') args.encoding = argv[++i];
    else if (a === '--no-conflicts') args.noConflicts = true;
    else if (a === '--no-subtle') args.subtle = false;
    else rest.push(a);
  }
  if (rest.length !== 1 || !['utf-8', 'gbk', 'detect'].includes(args.encoding)) {
    console.error('usage: node tools/jsverify.js BUNDLE_DIR [--data POOL_DIR] [--encoding utf-8|gbk|detect] [--no-conflicts] [--no-subtle]');
    return 2;
  }
  verifier.useSubtle(args.subtle);
  const bundleDir = rest[0];
  const bundle = readFiles(bundleDir, BUNDLE_FILES);
  const publicDir = path.join(bundleDir, 'public');
  const publicCopy = fs.existsSync(publicDir) ? readFiles(publicDir, BUNDLE_FILES) : null;
  const pool = args.data ? readFiles(args.data, POOL_KINDS, '.csv') : {};
  if (args.data) {
    console.log('pool ' + args.data);
    const missing = POOL_KINDS.slice(0, 4).filter((k) => !pool[k]);
    if (missing.length) {
      console.log(`ERROR: ${args.data}: ${missing.map((k) => k + '.csv').join(', ')} missing`);
      return 2;
    }
  }
  const { code } = await verifier.verify(
    { bundle, publicCopy, pool, encoding: args.encoding, noConflicts: args.noConflicts, name: bundleDir },
    (kind, text) => console.log(text),
  );
  return code;
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (e) => { console.error(e && e.stack ? e.stack : String(e)); process.exitCode = 3; },
);
