// Browser-test harness: the real `secplat serve` on a free loopback port with its own data dir, a
// local HTTP target it probes and the test can stop, Debian's Chromium driven by playwright-core
// (installed into the build tree by run.sh), and a collector that fails a test on page errors,
// console errors and CSP violations.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

export const ADMIN_PASSWORD = 'admin-browser-password-1';
const BINARY = process.env.SECPLAT_BINARY;
const CHROMIUM = process.env.SECPLAT_CHROMIUM || '/usr/bin/chromium';
const NPM_PREFIX = process.env.SECPLAT_BROWSER_NPM_PREFIX;
export const SCREENSHOT_DIR = process.env.SECPLAT_SCREENSHOT_DIR;

// Polls `fn` until it returns a truthy value; throws after `timeoutMs` naming `what`.
export async function waitFor(fn, { timeoutMs = 30000, intervalMs = 100, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${last})`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export function loadPlaywright() {
  if (!NPM_PREFIX) throw new Error('SECPLAT_BROWSER_NPM_PREFIX is not set (run through tests/browser/run.sh)');
  const require = createRequire(path.join(NPM_PREFIX, 'package.json'));
  return require('playwright-core');
}

// A started `secplat serve`; `url` is its base URL. `env` adds SECPLAT_* settings.
export async function startServer(env = {}) {
  if (!BINARY || !fs.existsSync(BINARY)) throw new Error(`SECPLAT_BINARY does not name the secplat binary: '${BINARY}'`);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'secplat-browser-'));
  const childEnv = { ...process.env };
  for (const k of Object.keys(childEnv)) if (k.startsWith('SECPLAT_')) delete childEnv[k];
  Object.assign(childEnv, {
    SECPLAT_LISTEN: '127.0.0.1:0',
    SECPLAT_DATA_DIR: path.join(tmp, 'data'),
    SECPLAT_ADMIN_PASSWORD: ADMIN_PASSWORD,
    SECPLAT_LOG_LEVEL: 'info',
    ...env,
  });
  const logPath = path.join(tmp, 'server.log');
  const log = fs.createWriteStream(logPath);
  const proc = spawn(BINARY, ['serve'], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`secplat did not say where it runs within 60 s:\n${output}`)), 60000);
    const onData = (chunk) => {
      log.write(chunk);
      output += chunk.toString();
      const m = /SecPlat is running at (http:\/\/\S+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(m[1].replace(/\/$/, ''));
      }
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`secplat exited with ${code} before it was ready:\n${output}`));
    });
  });
  const server = {
    url,
    tmp,
    proc,
    logPath,
    output: () => fs.readFileSync(logPath, 'utf8'),
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        const timer = setTimeout(() => proc.kill('SIGKILL'), 20000);
        await exited;
        clearTimeout(timer);
      }
      log.end();
    },
    async close() {
      await server.stop();
      fs.rmSync(tmp, { recursive: true, force: true });
    },
  };
  await waitFor(async () => (await fetch(url + '/ready')).status === 200, { timeoutMs: 30000, what: '/ready' });
  return server;
}

// One API call; JSON in and out. Returns { status, body, headers }.
export async function api(server, method, pathname, { token, json, form } = {}) {
  const headers = {};
  let body;
  if (token) headers.Authorization = `Bearer ${token}`;
  if (form) {
    headers['Content-Type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(form).toString();
  } else if (json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(json);
  }
  const r = await fetch(server.url + pathname, { method, headers, body });
  const text = await r.text();
  let parsed = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: r.status, body: parsed, headers: r.headers };
}

export async function token(server, username, password) {
  const r = await api(server, 'POST', '/auth/login', { form: { username, password } });
  if (r.status !== 200) throw new Error(`login as ${username}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.access_token;
}

// A local HTTP target that answers 200 until stop() closes it (connections refused afterwards).
export async function startTarget() {
  const srv = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': '2' });
    res.end('ok');
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${srv.address().port}/health`,
    async stop() {
      srv.closeAllConnections();
      await new Promise((r) => srv.close(r));
    },
  };
}

export async function launchBrowser() {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} not found: install Debian's chromium (scripts/install-deps.sh)`);
  }
  const { chromium } = loadPlaywright();
  return chromium.launch({
    executablePath: CHROMIUM,
    // --no-sandbox: CI runs as root. --disable-dev-shm-usage: small /dev/shm in containers.
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
    timeout: 120000,
  });
}

// Everything that counts as an error on a page: uncaught exceptions, console.error (which includes
// CSP reports and failed resource loads) and securitypolicyviolation events. `allow(re)` accepts
// console messages matching `re` (an expected 401, say) until `disallow()`.
export function watchPage(page) {
  const errors = [];
  let allowed = [];
  page.on('pageerror', (e) => errors.push(`pageerror at ${page.url()}: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const text = `${m.text()} ${m.location()?.url || ''}`;
    if (allowed.some((re) => re.test(text))) return;
    errors.push(`console.error at ${page.url()}: ${text}`);
  });
  page.on('crash', () => errors.push(`page crashed at ${page.url()}`));
  return {
    errors,
    allow(re) {
      allowed.push(re);
    },
    disallow() {
      allowed = [];
    },
    // Errors recorded by the in-page CSP listener (see CSP_INIT_SCRIPT).
    async cspViolations() {
      try {
        return await page.evaluate(() => window.__cspViolations || []);
      } catch {
        return [];
      }
    },
  };
}

// Installed before any page script: records CSP violations where the test can read them.
export const CSP_INIT_SCRIPT = () => {
  window.__cspViolations = [];
  document.addEventListener('securitypolicyviolation', (e) => {
    window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI} (${e.sourceFile}:${e.lineNumber})`);
  });
};

let shotCount = 0;
// A full-page screenshot named <scenario>-<nn>-<step>.png; prints and returns its path.
export async function screenshot(page, scenario, step) {
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  shotCount += 1;
  const file = path.join(SCREENSHOT_DIR, `${scenario}-${String(shotCount).padStart(2, '0')}-${step}.png`);
  await page.screenshot({ path: file, fullPage: true });
  console.log(`screenshot: ${file}`);
  return file;
}
