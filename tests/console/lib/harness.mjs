// Harness for the console tests: a real ward-server on loopback, a real
// ward-agent installed into a temporary prefix with the command the console
// shows, HTTPS helpers, and Debian's Chromium driven by playwright-core.
//
// Binaries come from CONSOLE_TEST_BIN_DIR (scripts/console-tests.sh sets it), else
// ../../target/debug. Nothing here touches /usr/local/ward or /etc.

import { spawn, spawnSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '..', '..', '..');
export const binDir = process.env.CONSOLE_TEST_BIN_DIR || path.join(repoRoot, 'target', 'debug');
export const shotsDir = path.join(here, '..', 'screenshots');

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

export function bin(name) {
  const p = path.join(binDir, name);
  if (!fs.existsSync(p)) {
    throw new Error(`${p} is missing: build it first (scripts/console-tests.sh does)`);
  }
  return p;
}

/** Polls `fn` every `every` ms until it returns a truthy value, or throws after `ms`. */
export async function waitFor(what, ms, fn, every = 200) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? `: ${last.message}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, every));
  }
}

export async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * One HTTPS request to the test server. The server's certificate is
 * self-signed; the tests check the server key pin instead of a CA.
 * Returns { status, headers, body }.
 */
export function request(url, { method = 'GET', headers = {}, body, localAddress, pin } = {}) {
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      { method, headers, localAddress, rejectUnauthorized: false, agent: false },
      (res) => {
        if (pin) {
          // The pin is SHA-256 of the SubjectPublicKeyInfo, as curl's --pinnedpubkey.
          const cert = new X509Certificate(res.socket.getPeerCertificate().raw);
          const spki = cert.publicKey.export({ type: 'spki', format: 'der' });
          const got = 'sha256//' + createHash('sha256').update(spki).digest('base64');
          if (got !== pin) {
            res.destroy();
            reject(new Error(`server key ${got} does not match the pin ${pin}`));
            return;
          }
        }
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/** The value of `name` from a Set-Cookie header list. */
export function cookieFrom(setCookie, name) {
  for (const c of setCookie || []) {
    const [pair] = c.split(';');
    const i = pair.indexOf('=');
    if (pair.slice(0, i).trim() === name) return pair.slice(i + 1).trim();
  }
  return null;
}

/** The hidden CSRF token of the first form in an HTML page. */
export function csrfFrom(html) {
  const m = html.match(/name="csrf" value="([^"]+)"/);
  return m ? m[1] : null;
}

export const form = (fields) => new URLSearchParams(fields).toString();

/** Removes a test's temporary directory unless WARD_KEEP_TMP=1 asks to keep it for a look. */
function removeDir(dir) {
  if (process.env.WARD_KEEP_TMP === '1') return;
  fs.rmSync(dir, { recursive: true, force: true });
}

/** The environment without WARD_ settings (ward-server reads them as config). */
function cleanEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('WARD_')) env[k] = v;
  return { ...env, ...extra };
}

/**
 * A ward-server on 127.0.0.1 with a temporary data dir and 1 s keepalives.
 * `rules` ({ fileName: yamlText }) are put in its rules_dir before it starts.
 */
export class Server {
  constructor({ rules = {} } = {}) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ward-console-server-'));
    this.data = path.join(this.dir, 'data');
    this.stdout = '';
    this.child = null;
    if (Object.keys(rules).length) {
      const rulesDir = path.join(this.data, 'rules');
      fs.mkdirSync(this.data, { mode: 0o700 });
      fs.mkdirSync(rulesDir);
      for (const [name, text] of Object.entries(rules)) fs.writeFileSync(path.join(rulesDir, name), text);
    }
  }

  async start() {
    this.port = await freePort();
    this.url = `https://127.0.0.1:${this.port}`;
    const log = fs.openSync(path.join(this.dir, 'server.log'), 'a');
    this.child = spawn(bin('ward-server'), ['serve', '--data-dir', this.data, '--listen', `127.0.0.1:${this.port}`], {
      env: cleanEnv({
        WARD_POLICY__KEEPALIVE_SECS: '1',
        WARD_POLICY__MISSED_KEEPALIVES: '3',
        WARD_LOG__LEVEL: 'info',
      }),
      stdio: ['ignore', 'pipe', log],
    });
    this.child.stdout.on('data', (d) => { this.stdout += d.toString(); });
    this.exited = new Promise((r) => this.child.once('exit', r));
    const died = this.exited.then((code) => {
      throw new Error(`ward-server exited (${code}): ${this.log()}`);
    });
    await Promise.race([died, waitFor('ward-server to print its banner', 60_000, () => this.stdout.includes('  Token:'))]);
    died.catch(() => {});
    await waitFor('ward-server /healthz', 30_000, async () => (await request(`${this.url}/healthz`)).status === 200);
    const m = this.stdout.match(/Console password \(shown only this once; user admin\): (\S+)/);
    this.password = m ? m[1] : null;
    this.pin = JSON.parse(fs.readFileSync(path.join(this.data, 'server.json'), 'utf8')).pin;
    this.token = this.cli(['token', 'create', '--label', 'console-tests']).stdout.trim().split(/\s+/).find((w) => w.startsWith('wt_'));
    return this;
  }

  log() {
    try {
      return fs.readFileSync(path.join(this.dir, 'server.log'), 'utf8');
    } catch {
      return '';
    }
  }

  cli(args, input) {
    const r = spawnSync(bin('ward-server'), [...args, '--data-dir', this.data], { input, encoding: 'utf8', env: cleanEnv() });
    if (r.status !== 0) throw new Error(`ward-server ${args.join(' ')} failed: ${r.stderr}`);
    return r;
  }

  async api(method, p, body) {
    const headers = { authorization: `Bearer ${this.token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const r = await request(this.url + p, { method, headers, pin: this.pin, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: r.status, json: r.body ? JSON.parse(r.body) : null };
  }

  /** Enrolls a made-up host through the real enrollment API (no session follows). */
  async enrollFake(keySecret, report) {
    const full = {
      hostname: 'fake-host',
      os: 'Debian GNU/Linux 12 (bookworm)',
      kernel: '6.1.0-test',
      arch: 'x86_64',
      ips: ['10.9.8.7'],
      agent_version: '0.1.0',
      agent_cpu_percent: 0.5,
      agent_rss_bytes: 9 << 20,
      uptime_secs: 3600,
      ...report,
    };
    const body = {
      key: keySecret,
      fingerprint: `fp-${full.hostname}-${Math.random().toString(36).slice(2)}`,
      agent_version: full.agent_version,
      platform: 'linux-x86_64',
      report: full,
    };
    const r = await request(`${this.url}/api/v1/agent/enroll`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: r.status, json: r.body ? JSON.parse(r.body) : null };
  }

  /** Stops the server and removes its temporary directory. */
  async stop() {
    if (this.child && this.child.exitCode === null) {
      this.child.kill('SIGTERM');
      const done = await Promise.race([this.exited, new Promise((r) => setTimeout(() => r('timeout'), 10_000))]);
      if (done === 'timeout') {
        this.child.kill('SIGKILL');
        await this.exited;
      }
    }
    removeDir(this.dir);
  }
}

/** A ward-agent installed into a temporary prefix. */
export class Agent {
  constructor() {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ward-console-agent-'));
    this.prefix = path.join(this.dir, 'ward');
  }

  /** Writes conf/agent.toml before the install (the installer keeps it). */
  writeConfig(toml) {
    fs.mkdirSync(path.join(this.prefix, 'conf'), { recursive: true });
    fs.writeFileSync(path.join(this.prefix, 'conf', 'agent.toml'), toml);
  }

  /**
   * Runs a printed install command with `--prefix` appended, as an operator would.
   * Without a conf/agent.toml of the test's own, file integrity covers /etc only
   * (as in the Rust end-to-end harness): the default trees include /usr/bin,
   * hashed once per agent at its first start.
   */
  install(command) {
    const configured = fs.existsSync(path.join(this.prefix, 'conf', 'agent.toml'));
    const extra = configured ? {} : { WARD_AGENT_COLLECT_FILES_FIM_PATHS: '/etc' };
    const r = spawnSync('sh', ['-c', `${command} --prefix '${this.prefix}'`], { encoding: 'utf8', timeout: 120_000, env: cleanEnv(extra) });
    if (r.status !== 0) throw new Error(`install failed (${r.status}): ${r.stdout}\n${r.stderr}`);
    return r;
  }

  id() {
    return JSON.parse(fs.readFileSync(path.join(this.prefix, 'data', 'identity.json'), 'utf8')).agent_id;
  }

  pid() {
    try {
      return Number(fs.readFileSync(path.join(this.prefix, 'data', 'agent.pid'), 'utf8').trim()) || null;
    } catch {
      return null;
    }
  }

  kill9() {
    const pid = this.pid();
    if (pid) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    return pid;
  }

  /** Runs `bin/ward-agent ARGS --prefix PREFIX`; returns { status, stdout, stderr }. */
  cli(args) {
    const agentBin = path.join(this.prefix, 'bin', 'ward-agent');
    return spawnSync(agentBin, [...args, '--prefix', this.prefix], { encoding: 'utf8', timeout: 60_000, env: cleanEnv() });
  }

  /** True once the install is gone from the disk (uninstalled). */
  removed() {
    return !fs.existsSync(this.prefix);
  }

  /** The agent's tamper-protection setting as last received (data/protection.json). */
  protectedNow() {
    try {
      return fs.readFileSync(path.join(this.prefix, 'data', 'protection.json'), 'utf8').includes('\\"tamper_protection\\":true');
    } catch {
      return false;
    }
  }

  /** SIGKILL of ward-update and ward-agent at once, as a host crash would (a lone agent is restarted by its guardian). */
  kill9All() {
    try {
      const upid = Number(fs.readFileSync(path.join(this.prefix, 'data', 'update.pid'), 'utf8').trim());
      if (upid) process.kill(upid, 'SIGKILL');
    } catch {
      /* no updater */
    }
    return this.kill9();
  }

  /**
   * `ward-agent stop` (it stays stopped), then ward-update (its guardian) and the agent are killed for sure;
   * the temporary prefix is removed.
   */
  stop() {
    const agentBin = path.join(this.prefix, 'bin', 'ward-agent');
    if (fs.existsSync(agentBin)) spawnSync(agentBin, ['stop', '--prefix', this.prefix], { timeout: 20_000 });
    this.kill9All();
    removeDir(this.dir);
  }
}

export async function launchBrowser() {
  return chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: CHROMIUM_ARGS });
}

/** A browser context for the server (self-signed certificate accepted; the pin is checked elsewhere). */
export async function newContext(browser, server, viewport = DESKTOP) {
  const ctx = await browser.newContext({ ignoreHTTPSErrors: true, viewport, baseURL: server.url });
  await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
  return ctx;
}

/** Fails the test if the page shows a JavaScript dialog or throws. */
export function guardPage(page, errors) {
  page.on('dialog', async (d) => {
    errors.push(`unexpected ${d.type()} dialog: ${d.message()}`);
    await d.dismiss();
  });
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    // A poll answered 401 after signing out is expected (the page then goes to sign-in).
    if (m.type() === 'error' && !/status of 401/.test(m.text())) errors.push(`console error: ${m.text()}`);
  });
}

/** Saves a full-page PNG under tests/console/screenshots/. */
export async function shot(page, name) {
  fs.mkdirSync(shotsDir, { recursive: true });
  const file = path.join(shotsDir, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** Signs in through the form, with the keyboard. */
export async function signIn(page, password) {
  await page.goto('/console/');
  await page.waitForURL(/\/console\/signin/);
  await page.locator('#password').fill(password);
  await page.locator('#password').press('Enter');
  await page.waitForURL((u) => !u.pathname.startsWith('/console/signin'));
}

/**
 * Saves `phone-<name>.png` of the page's current URL at phone width, in a
 * second context sharing the signed-in session; `prepare(page)` runs first.
 */
export async function phoneShot({ browser, ctx, page, server, errors }, name, prepare) {
  const state = await ctx.storageState();
  const c = await browser.newContext({ ignoreHTTPSErrors: true, viewport: PHONE, baseURL: server.url, storageState: state, isMobile: true, hasTouch: true });
  try {
    const p = await c.newPage();
    guardPage(p, errors);
    const u = new URL(page.url());
    await p.goto(u.pathname + u.search);
    if (prepare) await prepare(p);
    return await shot(p, `phone-${name}`);
  } finally {
    await c.close();
  }
}
