// Browser tests of the dashboard (served by `secplat serve` at /): Chromium drives the pages a user
// would, against a real server probing a real local target. The tests share one server and run in
// order; each test opens its own browser context (fresh storage, so it signs in itself).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, before, test } from 'node:test';

import {
  ADMIN_PASSWORD, CSP_INIT_SCRIPT, SCREENSHOT_DIR, api, launchBrowser, screenshot, startServer, startTarget,
  token, waitFor, watchPage,
} from './harness.mjs';

const ASSET_KEY = 'shop-web';
const ASSET_NAME = 'Shop web front';
const FINDING_TITLE = 'TLS 1.0 still enabled on shop-web';
const VIEWER = { username: 'vera', password: 'viewer-password-1' };
const NAV_ADMIN = ['Overview', 'Assets', 'Findings', 'Scans', 'Jobs', 'Incidents', 'Alerts', 'Maintenance', 'Users'];
// The UI waits: generous, for a loaded 2-core CI machine.
const UI_MS = 30000;

let server;
let target;
let browser;
let adminToken;
let findingId;
let roots;
let opened = [];

before(async () => {
  roots = fs.mkdtempSync(path.join(os.tmpdir(), 'secplat-browser-src-'));
  target = await startTarget();
  server = await startServer({
    SECPLAT_PROBE_ALLOW_PRIVATE: 'true',
    // Probe targets re-read and posture re-derived every second: a stopped target is red in seconds.
    SECPLAT_POSTURE_SWEEP_INTERVAL_S: '1',
    SECPLAT_POSTURE_TARGET_REFRESH_S: '1',
    SECPLAT_ALLOWED_SOURCE_ROOTS: roots,
  });
  adminToken = await token(server, 'admin', ADMIN_PASSWORD);

  // Setup data through the API: a viewer, a probed asset (up before the UI looks), a finding on it.
  let r = await api(server, 'POST', '/auth/users', { token: adminToken, json: { ...VIEWER, role: 'viewer' } });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  r = await api(server, 'POST', '/assets/', { token: adminToken, json: {
    asset_key: ASSET_KEY, name: ASSET_NAME, type: 'app', environment: 'prod', criticality: 'high', owner: 'team-web',
    probe: { url: target.url, interval_seconds: 1 } } });
  assert.ok([200, 201].includes(r.status), JSON.stringify(r.body));
  await waitFor(async () => (await api(server, 'GET', `/posture/${ASSET_KEY}`, { token: adminToken })).body
    .health_status === 'up', { timeoutMs: 60000, what: `${ASSET_KEY} up through the API` });
  r = await api(server, 'POST', '/findings/', { token: adminToken, json: {
    finding_key: 'tls10-shop-web', title: FINDING_TITLE, asset_key: ASSET_KEY, category: 'tls', severity: 'high',
    source: 'manual', evidence: 'TLSv1.0 handshake accepted', remediation: 'Disable TLS 1.0' } });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  findingId = r.body.finding_id;

  browser = await launchBrowser();
  console.log(`chromium ${browser.version()}; server ${server.url}; screenshots in ${SCREENSHOT_DIR}`);
});

after(async () => {
  await browser?.close();
  await target?.stop().catch(() => {});
  if (server) {
    await server.stop();
    // The server's log next to the screenshots, for a failed run.
    fs.copyFileSync(server.logPath, path.join(SCREENSHOT_DIR, 'secplat.log'));
    await server.close();
  }
  if (roots) fs.rmSync(roots, { recursive: true, force: true });
});

// Every page a test opened must have stayed free of page errors, console errors and CSP violations.
afterEach(async () => {
  const problems = [];
  for (const { context, page, watch } of opened) {
    problems.push(...watch.errors, ...(await watch.cspViolations()).map((v) => `CSP violation at ${page.url()}: ${v}`));
    await context.close();
  }
  opened = [];
  assert.deepEqual(problems, [], 'errors in the browser');
});

// A test whose pages are screenshotted when it fails (named <scenario>-FAILED).
function scenario(name, slug, fn) {
  test(name, async () => {
    try {
      await fn();
    } catch (e) {
      for (const { page } of opened) await screenshot(page, slug, 'FAILED').catch(() => {});
      throw e;
    }
  });
}

async function openPage() {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, timezoneId: 'UTC',
    acceptDownloads: true });
  context.setDefaultTimeout(UI_MS);
  await context.addInitScript(CSP_INIT_SCRIPT);
  const page = await context.newPage();
  const watch = watchPage(page);
  opened.push({ context, page, watch });
  return { page, watch };
}

const hash = (page) => new URL(page.url()).hash;

async function expectHash(page, want) {
  await waitFor(() => (want instanceof RegExp ? want.test(hash(page)) : hash(page) === want),
    { timeoutMs: UI_MS, what: `URL hash ${want} (at ${page.url()})` });
}

// Exactly one <h1>, with this text.
async function expectHeading(page, text) {
  await waitFor(async () => {
    const h1 = page.locator('h1');
    return (await h1.count()) === 1 && (await h1.innerText()).trim() === text;
  }, { timeoutMs: UI_MS, what: `one <h1> "${text}" (have ${JSON.stringify(await page.locator('h1').allInnerTexts())})` });
}

async function expectText(locator, want, what, timeoutMs = UI_MS) {
  let last;
  await waitFor(async () => {
    last = (await locator.innerText()).trim();
    return want instanceof RegExp ? want.test(last) : last === want;
  }, { timeoutMs, what: `${what} to read ${want}` }).catch((e) => {
    throw new Error(`${e.message}; it reads "${last}"`);
  });
}

async function signIn(page, username, password) {
  await page.goto(server.url + '/');
  await expectHash(page, '#/login');
  await expectHeading(page, 'Sign in');
  const form = page.getByRole('form', { name: 'Sign in' });
  await form.getByLabel('Username', { exact: true }).fill(username);
  await form.getByLabel('Password', { exact: true }).fill(password);
  await form.getByRole('button', { name: 'Sign in', exact: true }).click();
  await expectHash(page, '#/overview');
  await expectHeading(page, 'Overview');
}

const nav = (page) => page.getByRole('navigation', { name: 'Main' });

// Follows a nav link; every nav page's <h1> is the link's name.
async function go(page, linkName) {
  await nav(page).getByRole('link', { name: linkName, exact: true }).click();
  await expectHeading(page, linkName);
}

async function navLinks(page) {
  return (await nav(page).getByRole('link').allInnerTexts()).map((t) => t.trim());
}

scenario('1 sign in: a bad password shows the alert, admin lands on Overview with Users, a viewer sees neither Users nor mutating controls', 'login', async () => {
  const { page, watch } = await openPage();
  await page.goto(server.url + '/');
  await expectHash(page, '#/login');
  await expectHeading(page, 'Sign in');
  const form = page.getByRole('form', { name: 'Sign in' });
  await form.getByLabel('Username', { exact: true }).fill('admin');
  await form.getByLabel('Password', { exact: true }).fill('not-the-password');
  // The rejected login is a 401 the browser reports on the console; that one is expected.
  watch.allow(/status of 401/);
  await form.getByRole('button', { name: 'Sign in', exact: true }).click();
  const alert = page.getByRole('alert').filter({ hasText: 'Invalid username or password' });
  await alert.waitFor({ state: 'visible' });
  assert.equal(hash(page), '#/login');
  await screenshot(page, 'login', 'bad-password-alert');
  watch.disallow();

  await form.getByLabel('Password', { exact: true }).fill(ADMIN_PASSWORD);
  await form.getByRole('button', { name: 'Sign in', exact: true }).click();
  await expectHash(page, '#/overview');
  await expectHeading(page, 'Overview');
  await page.locator('main#main').waitFor();
  assert.deepEqual(await navLinks(page), NAV_ADMIN);
  await screenshot(page, 'login', 'admin-overview');

  await page.getByRole('button', { name: 'Sign out', exact: true }).click();
  await expectHash(page, '#/login');
  await expectHeading(page, 'Sign in');

  await signIn(page, VIEWER.username, VIEWER.password);
  assert.deepEqual(await navLinks(page), NAV_ADMIN.filter((n) => n !== 'Users'));
  await screenshot(page, 'login', 'viewer-overview');
  // A viewer sees the finding but cannot change its status or accept its risk ...
  await go(page, 'Findings');
  const row = page.locator(`tr[data-finding-id="${findingId}"]`);
  await row.waitFor();
  assert.equal(await row.locator('select').count(), 0, 'viewer has a status select');
  assert.equal(await row.getByRole('button', { name: 'Accept risk' }).count(), 0, 'viewer has "Accept risk"');
  await screenshot(page, 'login', 'viewer-findings');
  // ... and cannot submit scans.
  await go(page, 'Scans');
  assert.equal(await page.getByRole('form', { name: 'New scan' }).count(), 0, 'viewer has the "New scan" form');
  await screenshot(page, 'login', 'viewer-scans');
});

scenario('1b keyboard only: the login form is filled with Tab and submitted with Enter', 'keyboard', async () => {
  const { page } = await openPage();
  await page.goto(server.url + '/');
  await expectHeading(page, 'Sign in');
  const username = page.getByLabel('Username', { exact: true });
  const password = page.getByLabel('Password', { exact: true });
  const focused = (loc) => loc.evaluate((el) => el === document.activeElement);
  let tabs = 0;
  while (!(await focused(username))) {
    assert.ok(++tabs <= 15, 'Tab never reaches the Username field');
    await page.keyboard.press('Tab');
  }
  await page.keyboard.type('admin');
  await page.keyboard.press('Tab');
  assert.ok(await focused(password), 'Tab from Username does not go to Password');
  await page.keyboard.type(ADMIN_PASSWORD);
  await page.keyboard.press('Enter');
  await expectHash(page, '#/overview');
  await expectHeading(page, 'Overview');

  // The skip link moves focus to the page's content and stays on the page.
  const skip = page.getByRole('link', { name: 'Skip to content' });
  if (await skip.count()) {
    await skip.focus();
    await page.keyboard.press('Enter');
    await waitFor(() => page.evaluate(() => document.getElementById('main').contains(document.activeElement)),
      { timeoutMs: UI_MS, what: 'focus in <main> after "Skip to content"' });
    assert.equal(hash(page), '#/overview', '"Skip to content" left the page');
    await expectHeading(page, 'Overview');
  }
});

scenario('1c every page of the nav renders its heading', 'pages', async () => {
  const { page } = await openPage();
  await signIn(page, 'admin', ADMIN_PASSWORD);
  for (const name of NAV_ADMIN) {
    await go(page, name);
    await page.locator('main#main').waitFor();
    await screenshot(page, 'pages', name.toLowerCase());
  }
});

scenario('2 an asset turns red on the Assets page, without a reload, when its target stops', 'asset', async () => {
  const { page } = await openPage();
  await signIn(page, 'admin', ADMIN_PASSWORD);
  await go(page, 'Assets');
  await page.locator('table', { has: page.locator('caption', { hasText: /^Assets$/ }) }).waitFor();
  await page.getByLabel('Search', { exact: true }).waitFor();
  await page.getByRole('button', { name: 'Export CSV', exact: true }).waitFor();
  const row = page.locator(`tr[data-asset-key="${ASSET_KEY}"]`);
  const posture = row.getByTestId('posture');
  const status = row.getByTestId('status');
  await expectText(status, 'up', 'status of the probed asset');
  await expectText(posture, 'green', 'posture of the probed asset');
  assert.equal(await posture.getAttribute('data-posture'), 'green');
  await screenshot(page, 'asset', 'up-green');

  // A marker that a reload or a new document would lose.
  await page.evaluate(() => { window.__sameDocument = true; });
  await target.stop();
  // Debounce (2 probes) + derive pass + the page's own refresh (<= 5 s): well within 90 s.
  await expectText(status, 'down', 'status after the target stopped', 90000);
  await expectText(posture, 'red', 'posture after the target stopped');
  assert.equal(await posture.getAttribute('data-posture'), 'red');
  assert.equal(await page.evaluate(() => window.__sameDocument), true, 'the page was reloaded');
  await screenshot(page, 'asset', 'down-red');

  // Overview counts it red (as the API does) and lists it among the down assets.
  await go(page, 'Overview');
  const summary = (await api(server, 'GET', '/posture/summary', { token: adminToken })).body;
  assert.ok(summary.down_assets.includes(ASSET_KEY), JSON.stringify(summary));
  await expectText(page.getByTestId('count-red'), String(summary.red), 'count-red');
  await expectText(page.getByTestId('count-green'), String(summary.green), 'count-green');
  await expectText(page.getByTestId('count-amber'), String(summary.amber), 'count-amber');
  await page.getByTestId('posture-score').waitFor();
  await page.getByTestId('trend-chart').waitFor();
  const downLink = page.getByTestId('down-assets').locator(`a[href$="#/assets/${ASSET_KEY}"]`);
  await downLink.waitFor();
  await screenshot(page, 'asset', 'overview-red');

  // Its detail page: its name as the heading, its state, the timeline chart.
  await downLink.click();
  await expectHash(page, `#/assets/${ASSET_KEY}`);
  await expectHeading(page, ASSET_NAME);
  const main = page.locator('main#main');
  const state = main.getByRole('region', { name: 'State' });
  await waitFor(async () => /\bdown\b/.test(await state.innerText()) && /\bred\b/.test(await state.innerText()),
    { timeoutMs: UI_MS, what: 'the State section of the detail page to show "down" and "red"' });
  // The timeline chart (uPlot draws on a canvas inside the chart's role="img" box).
  const chart = main.getByRole('img').locator('canvas').first();
  await chart.waitFor({ state: 'visible' });
  const box = await chart.boundingBox();
  assert.ok(box.width > 100 && box.height > 50, `timeline chart too small: ${JSON.stringify(box)}`);
  await screenshot(page, 'asset', 'detail-down');
});

scenario('3 a directory scan submitted through the form streams its live log to the end and offers its bundle', 'scan', async () => {
  // A small source tree with a credential-shaped value (built at run time, so this file holds none).
  const src = path.join(roots, 'ui-demo');
  const keyId = 'AKIA' + 'QYLPMN5HHHFPZAM2';
  fs.mkdirSync(src);
  fs.writeFileSync(path.join(src, 'settings.py'), `AWS_ACCESS_KEY_ID = "${keyId}"\nDEBUG = False\n`);
  fs.writeFileSync(path.join(src, 'app.py'), 'import subprocess\n\ndef run(cmd):\n    return subprocess.call(cmd, shell=True)\n');

  const { page } = await openPage();
  // Records, from the first page script on, each change of the live log with the status shown then.
  await page.addInitScript(() => {
    window.__logSamples = [];
    new MutationObserver(() => {
      const log = document.querySelector('pre[role="log"]');
      if (!log) return;
      const lines = log.textContent.split('\n').filter((l) => l.trim() !== '');
      const last = window.__logSamples[window.__logSamples.length - 1];
      if (last && last.lines === lines.length) return;
      const status = document.querySelector('[data-testid="scan-status"]');
      window.__logSamples.push({ t: Date.now(), lines: lines.length, status: status ? status.textContent.trim() : null });
    }).observe(document, { childList: true, subtree: true, characterData: true });
  });
  await signIn(page, 'admin', ADMIN_PASSWORD);
  await go(page, 'Scans');
  const form = page.getByRole('form', { name: 'New scan' });
  await form.getByLabel('Workspace', { exact: true }).fill('ws-ui');
  await form.getByLabel('Component', { exact: true }).fill('ui-demo');
  await form.getByLabel('Assessment', { exact: true }).fill('assess-ui');
  await form.getByLabel('Source type', { exact: true }).selectOption('directory');
  await form.getByLabel('Directory path', { exact: true }).fill(src);
  const profile = form.getByLabel('Profile', { exact: true });
  if ((await profile.evaluate((el) => el.tagName)) === 'SELECT') await profile.selectOption('standard');
  else await profile.fill('standard');
  await screenshot(page, 'scan', 'form-filled');
  await form.getByRole('button', { name: 'Submit scan', exact: true }).click();

  await expectHash(page, /^#\/scans\/test_[0-9a-f]{12}$/);
  const testId = hash(page).slice('#/scans/'.length);
  await expectHeading(page, `Scan ${testId}`);
  const log = page.getByRole('log', { name: 'Live log' });
  await log.waitFor();
  const status = page.getByTestId('scan-status');
  await expectText(status, 'SUCCEEDED', 'scan status', 300000);
  await screenshot(page, 'scan', 'finished');

  // The log ends with the completion event, and it filled while the scan was running.
  const lines = (await log.innerText()).split('\n').filter((l) => l.trim() !== '');
  assert.ok(lines.length >= 3, `live log has ${lines.length} lines: ${lines.join(' | ')}`);
  assert.match(lines[lines.length - 1], /scan_complete/, 'the last log line is not the completion event');
  assert.ok(!(await page.content()).includes(keyId), 'the planted credential is shown on the page');
  const samples = await page.evaluate(() => window.__logSamples);
  assert.ok(samples.some((s) => s.lines > 0 && s.status !== 'SUCCEEDED' && s.lines < lines.length),
    `the log did not fill while the scan ran: ${JSON.stringify(samples)}`);
  const record = (await api(server, 'GET', `/v1/security-scans/${testId}`, { token: adminToken })).body;
  assert.equal(record.status, 'SUCCEEDED', JSON.stringify(record));

  // "Download bundle" downloads a non-empty tar.gz holding the signed manifest.
  const link = page.getByRole('link', { name: 'Download bundle', exact: true });
  await link.waitFor();
  const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
  const file = path.join(SCREENSHOT_DIR, `scan-bundle-${testId}.tar.gz`);
  await download.saveAs(file);
  const bytes = fs.readFileSync(file);
  assert.ok(bytes.length > 100, `bundle is ${bytes.length} bytes`);
  assert.deepEqual([...bytes.subarray(0, 2)], [0x1f, 0x8b], 'bundle is not gzip');
  const listing = spawnSync('tar', ['-tzf', file], { encoding: 'utf8' });
  assert.equal(listing.status, 0, listing.stderr);
  assert.match(listing.stdout, /manifest\.json/);
  assert.match(listing.stdout, /manifest\.sig/);
  console.log(`bundle: ${file}`);
});

scenario('4 triage a finding: set its status with the select, accept its risk through the dialog', 'finding', async () => {
  const { page } = await openPage();
  await signIn(page, 'admin', ADMIN_PASSWORD);
  await go(page, 'Findings');
  await page.locator('table', { has: page.locator('caption', { hasText: /^Findings$/ }) }).waitFor();
  const row = page.locator(`tr[data-finding-id="${findingId}"]`);
  const rowStatus = row.getByTestId('finding-status');
  await expectText(rowStatus, 'open', 'finding status');
  const select = row.getByRole('combobox', { name: `Status for ${FINDING_TITLE}`, exact: true });
  const options = await select.locator('option').evaluateAll((os) => os.map((o) => o.value));
  for (const s of ['open', 'in_progress', 'remediated']) assert.ok(options.includes(s), `status select lacks ${s}: ${options}`);
  await screenshot(page, 'finding', 'open');

  await select.selectOption('in_progress');
  await expectText(rowStatus, 'in_progress', 'finding status after the select');
  await waitFor(async () => (await api(server, 'GET', `/findings/${findingId}`, { token: adminToken })).body.status
    === 'in_progress', { timeoutMs: UI_MS, what: 'the API to report in_progress' });
  await screenshot(page, 'finding', 'in-progress');

  await row.getByRole('button', { name: 'Accept risk', exact: true }).click();
  const dialog = page.locator('dialog[open]');
  await dialog.waitFor({ state: 'visible' });
  const reason = 'Legacy clients until the Q3 migration';
  await dialog.getByLabel('Reason', { exact: true }).fill(reason);
  const expires = dialog.getByLabel('Expires', { exact: true });
  const type = await expires.getAttribute('type');
  const day = new Date(Date.now() + 30 * 86400000).toISOString().slice(0, 10);
  // A date (text or date input) as YYYY-MM-DD; datetime-local as YYYY-MM-DDTHH:MM (the context runs in UTC).
  await expires.fill(type === 'datetime-local' ? `${day}T12:00` : day);
  await screenshot(page, 'finding', 'accept-risk-dialog');
  await dialog.getByRole('button', { name: 'Accept risk', exact: true }).click();
  await dialog.waitFor({ state: 'hidden' });
  await expectText(rowStatus, 'accepted_risk', 'finding status after accepting the risk');
  const f = (await api(server, 'GET', `/findings/${findingId}`, { token: adminToken })).body;
  assert.equal(f.status, 'accepted_risk', JSON.stringify(f));
  assert.equal(f.accepted_risk_reason, reason);
  assert.ok(f.accepted_risk_expires_at?.startsWith(day), `expiry ${f.accepted_risk_expires_at}, expected on ${day}`);
  if (type === 'datetime-local') assert.ok(f.accepted_risk_expires_at.startsWith(`${day}T12:00`), f.accepted_risk_expires_at);
  await screenshot(page, 'finding', 'accepted-risk');
});

// Last: it stops the server.
scenario('5 the API going away shows the "API unreachable" banner', 'unreachable', async () => {
  const { page, watch } = await openPage();
  await signIn(page, 'admin', ADMIN_PASSWORD);
  await go(page, 'Assets');
  await page.locator(`tr[data-asset-key="${ASSET_KEY}"]`).waitFor();
  // The page's refreshes now fail at the network level; the browser reports each on the console.
  watch.allow(/ERR_CONNECTION_REFUSED|ERR_CONNECTION_RESET|ERR_EMPTY_RESPONSE/);
  await server.stop();
  const banner = page.getByRole('alert').filter({ hasText: /unreachable/i });
  await banner.waitFor({ state: 'visible', timeout: 60000 });
  await screenshot(page, 'unreachable', 'banner');
});
