// The "在浏览器中核验" button of a public draw page: fetches the draw's
// public bundle from this site, reads the pool files the visitor picks from
// their own disk (never uploaded), and runs shuangsui-verify.js on them,
// showing each check as it passes and the verdict at the end.
(function () {
  'use strict';
  const box = document.getElementById('browser-verify');
  if (!box || !window.ShuangsuiVerify) return;
  const base = box.dataset.draw; // "/draws/NAME"
  const button = box.querySelector('button');
  const picker = box.querySelector('input[type=file]');
  const log = box.querySelector('ol');
  const verdict = box.querySelector('.verdict');
  const encoding = box.querySelector('select');

  // The public copy, as the draw page offers it for download.
  const FILES = { 'manifest.json': 'manifest.json', 'plan.json': 'plan.json', 'history.csv': 'history.csv',
    'assignments.csv': 'drawn.csv', 'merge.csv': 'merge.csv', 'substitutions.json': 'substitutions.json' };
  const KINDS = ['departments', 'items', 'inspectors', 'targets', 'conflicts'];

  async function fetchBundle() {
    const files = {};
    for (const [name, url] of Object.entries(FILES)) {
      const response = await fetch(base + '/' + url, { credentials: 'omit' });
      if (response.ok) files[name] = new Uint8Array(await response.arrayBuffer());
    }
    return files;
  }

  // Pool files are known by their names in the pool folder (targets.csv,
  // conflicts.csv, …: docs/DATA.md); other files picked are ignored.
  async function readPool() {
    const pool = {};
    for (const file of picker.files) {
      const kind = file.name.replace(/\.csv$/i, '').toLowerCase();
      if (KINDS.includes(kind)) pool[kind] = new Uint8Array(await file.arrayBuffer());
    }
    return pool;
  }

  function show(kind, text) {
    const item = document.createElement('li');
    item.className = kind;
    item.textContent = text;
    log.appendChild(item);
  }

  button.addEventListener('click', async () => {
    button.disabled = true;
    log.textContent = '';
    verdict.textContent = '正在核验… Checking…';
    verdict.className = 'verdict';
    try {
      const [bundle, pool] = await Promise.all([fetchBundle(), readPool()]);
      const given = Object.keys(pool);
      show('say', given.length ? '名录库文件 pool files: ' + given.map((k) => k + '.csv').join(', ')
        : '未选择名录库文件，只核验公开版 no pool files: the public copy alone');
      if (!ShuangsuiVerify.useSubtle(true)) show('say', '本页无法使用 SubtleCrypto，改用内置 SHA-256 (plain-JavaScript SHA-256)');
      const result = await ShuangsuiVerify.verify({ bundle, pool, encoding: encoding.value, name: box.dataset.name },
        (kind, text) => { if (kind !== 'verdict') show(kind, text); });
      const last = result.lines[result.lines.length - 1];
      const zh = { verified: '核验通过', 'partially verified': '部分核验通过', 'NOT VERIFIED': '核验未通过', ERROR: '无法核验' };
      verdict.textContent = zh[result.verdict] + ' — ' + last;
      verdict.className = 'verdict ' + (result.code === 0 ? 'pass' : 'fail');
      verdict.dataset.verdict = result.verdict;
    } catch (e) {
      verdict.textContent = '无法核验 — ERROR: ' + e;
      verdict.className = 'verdict fail';
      verdict.dataset.verdict = 'ERROR';
    } finally {
      button.disabled = false;
    }
  });
})();
