// Drives Debian's chromium headless (playwright-core, no downloaded browser) over kube-devops'
// HTML report and live dashboard, and prints what it saw as JSON lines; tests/browser.rs runs
// it and asserts. Nothing here decides pass or fail except a timeout on a wait.
//
//   node run.js report FILE.html SCREENSHOT.png
//   node run.js dashboard URL SCREENSHOT.png POD CHECK
//     prints {"event":"loaded",...}, waits for a line on stdin (the test changed the pod), then
//     waits (with a deadline) for POD's CHECK finding to show and prints {"event":"done",...}.
'use strict';

const path = require('path');
const readline = require('readline');
const { chromium } = require('playwright-core');

const LAUNCH = {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
};
const WAIT_MS = 20000;

function emit(value) {
  process.stdout.write(JSON.stringify(value) + '\n');
}

// Console errors, uncaught exceptions and every request the page makes.
function observe(page, seen) {
  page.on('console', (message) => {
    if (message.type() === 'error') seen.consoleErrors.push(message.text());
  });
  page.on('pageerror', (error) => seen.consoleErrors.push(String(error)));
  page.on('request', (request) => seen.requests.push(request.url()));
}

// The findings rows a reader sees (not hidden by a filter).
function visibleRows(page) {
  return page.$$eval('#findings-table tbody tr', (rows) =>
    rows
      .filter((row) => getComputedStyle(row).display !== 'none')
      .map((row) => ({
        namespace: row.dataset.namespace,
        severity: row.dataset.severity,
        check: row.dataset.check,
      })));
}

// What the page says: summary figures, namespaces, counts, rows.
async function contents(page) {
  return {
    figures: await page.$$eval('[data-figure]', (rows) =>
      Object.fromEntries(rows.map((row) => [row.dataset.figure, row.cells[1].textContent]))),
    score: await page.textContent('[data-score]'),
    status: await page.textContent('[data-status]'),
    namespaces: await page.$$eval('#namespace-table tbody tr', (rows) =>
      rows.map((row) => ({
        namespace: row.cells[0].textContent,
        pods: Number(row.cells[1].textContent),
        score: Number(row.cells[2].textContent),
        status: row.cells[3].textContent,
      }))),
    bars: await page.$$eval('svg.bars rect', (bars) => bars.length),
    bySeverity: await page.$$eval('#by-severity [data-count]', (rows) =>
      Object.fromEntries(rows.map((row) => [row.dataset.count, Number(row.cells[1].textContent)]))),
    byCheck: await page.$$eval('#by-check [data-count]', (rows) =>
      Object.fromEntries(rows.map((row) => [row.dataset.count, Number(row.cells[1].textContent)]))),
    rows: await page.$$eval('#findings-table tbody tr', (rows) =>
      rows.map((row) => ({
        severity: row.cells[0].textContent,
        namespace: row.cells[1].textContent,
        object: row.cells[2].textContent,
        container: row.cells[3].textContent,
        check: row.cells[4].textContent,
        message: row.cells[5].textContent,
        where: row.cells[6] ? row.cells[6].textContent : null,
      }))),
  };
}

async function report(file, screenshot) {
  const browser = await chromium.launch(LAUNCH);
  try {
    const url = 'file://' + path.resolve(file);
    const seen = { url, consoleErrors: [], requests: [] };
    const page = await browser.newPage();
    observe(page, seen);
    await page.goto(url, { waitUntil: 'load' });
    const result = { event: 'report', ...seen, ...(await contents(page)) };
    result.filtersVisible = await page.isVisible('#filters');
    result.pwned = await page.evaluate(() => window.pwned === true);
    result.filters = [];
    for (const name of ['namespace', 'severity', 'check']) {
      const select = `#filters select[name=${name}]`;
      if (!(await page.$(select))) continue;
      const values = await page.$$eval(`${select} option`, (options) =>
        options.map((option) => option.value).filter((value) => value !== ''));
      for (const value of values) {
        await page.selectOption(select, value);
        result.filters.push({
          filter: { [name]: value },
          visible: await visibleRows(page),
          shown: await page.textContent('#shown'),
        });
      }
      await page.selectOption(select, '');
    }
    // Two at once: the first row's namespace and severity.
    const first = result.rows[0];
    if (first) {
      await page.selectOption('#filters select[name=namespace]', first.namespace);
      await page.selectOption('#filters select[name=severity]', first.severity);
      result.filters.push({
        filter: { namespace: first.namespace, severity: first.severity },
        visible: await visibleRows(page),
        shown: await page.textContent('#shown'),
      });
      await page.selectOption('#filters select[name=namespace]', '');
      await page.selectOption('#filters select[name=severity]', '');
    }
    await page.screenshot({ path: screenshot, fullPage: true });

    // The same file with JavaScript off: the table is all there, the filters are not.
    const noScript = await browser.newContext({ javaScriptEnabled: false });
    const plain = await noScript.newPage();
    const plainSeen = { consoleErrors: [], requests: [] };
    observe(plain, plainSeen);
    await plain.goto(url, { waitUntil: 'load' });
    result.noScript = {
      ...plainSeen,
      rows: (await visibleRows(plain)).length,
      filtersVisible: await plain.isVisible('#filters'),
      noscriptNote: await plain.isVisible('#findings noscript p'),
    };
    emit(result);
  } finally {
    await browser.close();
  }
}

async function dashboard(url, screenshot, pod, check) {
  const browser = await chromium.launch(LAUNCH);
  try {
    const seen = { consoleErrors: [], requests: [] };
    const page = await browser.newPage();
    observe(page, seen);
    const response = await page.goto(url, { waitUntil: 'load' });
    const headers = response.headers();
    emit({
      event: 'loaded',
      httpStatus: response.status(),
      headers: {
        csp: headers['content-security-policy'] || null,
        nosniff: headers['x-content-type-options'] || null,
        cacheControl: headers['cache-control'] || null,
        referrerPolicy: headers['referrer-policy'] || null,
        frameOptions: headers['x-frame-options'] || null,
      },
      ...(await contents(page)),
    });
    await new Promise((resolve) => {
      const lines = readline.createInterface({ input: process.stdin });
      lines.once('line', () => {
        lines.close();
        resolve();
      });
    });
    const started = Date.now();
    await page.waitForFunction(
      ([pod, check]) =>
        Array.from(document.querySelectorAll('#findings-table tbody tr')).some(
          (row) => row.dataset.check === check && row.cells[2].textContent.endsWith('/' + pod)),
      [pod, check],
      { timeout: WAIT_MS, polling: 100 });
    const waitedMs = Date.now() - started;
    const after = await contents(page);
    await page.screenshot({ path: screenshot, fullPage: true });
    emit({
      event: 'done',
      waitedMs,
      live: await page.textContent('#live'),
      history: await page.$$eval('#history polyline', (lines) => lines.length),
      ...seen,
      ...after,
    });
  } finally {
    await browser.close();
  }
}

async function main() {
  const [mode, ...args] = process.argv.slice(2);
  if (mode === 'report' && args.length === 2) return report(...args);
  if (mode === 'dashboard' && args.length === 4) return dashboard(...args);
  throw new Error('usage: run.js report FILE SHOT | run.js dashboard URL SHOT POD CHECK');
}

main().catch((error) => {
  emit({ event: 'error', error: String(error && error.stack ? error.stack : error) });
  process.exit(1);
});
