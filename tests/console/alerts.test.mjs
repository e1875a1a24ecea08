// The Alerts pages as an operator uses them, in headless Chromium, against
// a real ward-server (with SigmaHQ's "Shellshock Expression" rule in its
// rules_dir) and a real ward-agent whose login collector follows a test auth
// log in its prefix. Alerts come from real log lines through the agent's
// spool and session, the server's rule engine and store; the webhook and
// syslog outputs configured in the console deliver to receivers run here.

import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import {
  Agent, DESKTOP, Server, guardPage, launchBrowser, newContext, phoneShot, repoRoot, shot, signIn, waitFor,
} from './lib/harness.mjs';

const SIGMA_RULE = path.join(repoRoot, '..', 'shared', 'corpora', 'sigma-linux', 'rules', 'linux', 'builtin', 'lnx_shellshock.yml');
const SHELLSHOCK_ID = 'c67e0c98-4d39-46ee-8f6b-437ebf6b950e';
const SIGMA_AUTHOR = 'Florian Roth (Nextron Systems)';
// Documentation ranges only.
const BRUTE_IP = '192.0.2.10';
const SHOCK_IP = '198.51.100.23';
const HOOK_SECRET = 'hook-secret-7f3a';

/** A local HTTP receiver standing in for a chat or ticket system's webhook. */
async function webhookReceiver() {
  const got = [];
  const srv = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      got.push({ method: req.method, url: req.url, headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
      res.writeHead(204);
      res.end();
    });
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  return { got, port: srv.address().port, close: () => new Promise((r) => srv.close(r)) };
}

/** A UDP syslog collector. */
async function syslogReceiver() {
  const got = [];
  const sock = dgram.createSocket('udp4');
  sock.on('message', (m) => got.push(m.toString('utf8')));
  await new Promise((r) => sock.bind(0, '127.0.0.1', r));
  return { got, port: sock.address().port, close: () => new Promise((r) => sock.close(r)) };
}

/** An auth log line as rsyslog writes it with RFC 3339 timestamps. */
function line(msg) {
  return `${new Date().toISOString()} web-lab sshd[4242]: ${msg}\n`;
}

describe('alerts console with a real server, agent and outputs', () => {
  const server = new Server({ rules: { 'lnx_shellshock.yml': fs.readFileSync(SIGMA_RULE, 'utf8') } });
  const agent = new Agent();
  const authLog = path.join(agent.dir, 'test-auth.log');
  const errors = [];
  let browser;
  let ctx;
  let page;
  let hook;
  let syslog;
  let agentId;
  let hostname;
  const ids = {};

  const shots = (name, prepare) => phoneShot({ browser, ctx, page, server, errors }, name, prepare);
  const api = async (p) => {
    const r = await server.api('GET', p);
    assert.equal(r.status, 200, `${p}: ${JSON.stringify(r.json)}`);
    return r.json;
  };
  const alertsOf = async (q) => (await api(`/api/v1/alerts?limit=1000&${q}`)).items;
  const rows = () => page.locator('tbody tr[data-alert-id]').evaluateAll((trs) => trs.map((t) => Number(t.dataset.alertId)));

  before(async () => {
    hook = await webhookReceiver();
    syslog = await syslogReceiver();
    await server.start();
    browser = await launchBrowser();
    ctx = await newContext(browser, server, DESKTOP);
    page = await ctx.newPage();
    guardPage(page, errors);
    await signIn(page, server.password);
  });

  after(async () => {
    agent.stop();
    if (browser) await browser.close();
    await server.stop();
    if (hook) await hook.close();
    if (syslog) await syslog.close();
    if (errors.length) console.error(errors.join('\n'));
  });

  it('configures the webhook and syslog outputs in Settings', async () => {
    await page.getByRole('link', { name: 'Alert outputs' }).click();
    await page.waitForURL(/\/console\/settings\/outputs$/);
    await page.locator('#webhook_url').fill('ftp://127.0.0.1/nope');
    await page.getByRole('button', { name: 'Save outputs' }).click();
    await page.getByText(/webhook\.url must be http:\/\/ or https:\/\//).waitFor();
    for (let i = errors.length - 1; i >= 0; i--) if (/status of 400/.test(errors[i])) errors.splice(i, 1);
    assert.deepEqual((await server.api('GET', '/api/v1/settings/outputs')).json, { webhook: null, syslog: null }, 'a refused form changes nothing');

    await page.locator('#webhook_url').fill(`http://127.0.0.1:${hook.port}/ward`);
    await page.locator('#webhook_header_name').fill('X-Ward-Token');
    await page.locator('#webhook_header_value').fill(HOOK_SECRET);
    await page.locator('#syslog_target').fill(`127.0.0.1:${syslog.port}`);
    await page.locator('#syslog_transport').selectOption('udp');
    await page.locator('#syslog_facility').fill('10');
    await page.getByRole('button', { name: 'Save outputs' }).click();
    await page.getByText('Outputs saved; new alerts use them at once.').waitFor();
    const s = (await server.api('GET', '/api/v1/settings/outputs')).json;
    assert.equal(s.webhook.url, `http://127.0.0.1:${hook.port}/ward`);
    assert.deepEqual(s.webhook.secret_header, { name: 'X-Ward-Token' }, 'the value is never shown');
    assert.deepEqual(s.syslog, { target: `127.0.0.1:${syslog.port}`, transport: 'udp', facility: 10 });
    assert.ok(!(await page.content()).includes(HOOK_SECRET), 'the page does not echo the secret');
    await page.getByPlaceholder('stored — leave empty to keep it').waitFor();
    await shot(page, 'desktop-settings-outputs');
    await shots('settings-outputs');
  });

  it('raises alerts from log lines a real agent reads', async () => {
    const key = await server.api('POST', '/api/v1/keys', { label: 'alerts-test' });
    assert.equal(key.status, 201, JSON.stringify(key.json));
    const cmd = (await api(`/api/v1/install-command?platform=linux-x86_64&key=${encodeURIComponent(key.json.secret)}`)).command;
    fs.writeFileSync(authLog, '');
    agent.writeConfig(`[collect.auth]\npaths = ["${authLog}"]\njournald = "off"\nwtmp = false\n`);
    agent.install(cmd);
    agentId = agent.id();
    await waitFor('the agent to be protected', 30_000, async () => (await api(`/api/v1/assets/${agentId}`)).status === 'protected');
    hostname = (await api(`/api/v1/assets/${agentId}`)).hostname;

    // Ten failed passwords from one source (threshold: 8 in 120 s), then a
    // crafted user name carrying a shellshock expression from another.
    let text = '';
    for (let i = 0; i < 10; i++) text += line(`Failed password for invalid user admin${i} from ${BRUTE_IP} port ${41000 + i} ssh2`);
    text += line(`Failed password for invalid user () { :; }; /bin/bash -c id from ${SHOCK_IP} port 42000 ssh2`);
    fs.appendFileSync(authLog, text);
    const brute = await waitFor('the brute-force alert', 20_000, async () => (await alertsOf(`asset=${agentId}&rule=ward-login-001`))[0]);
    const shock = await waitFor('the shellshock alert', 20_000, async () => (await alertsOf(`asset=${agentId}&rule=${SHELLSHOCK_ID}`))[0]);
    assert.equal(brute.group.SourceIp, BRUTE_IP);
    assert.equal(brute.severity, 'suspicious');
    assert.equal(shock.author, SIGMA_AUTHOR);
    assert.equal(shock.severity, 'urgent');
    // The attacker then gets in from the brute-forcing source: urgent.
    fs.appendFileSync(authLog, line(`Accepted password for deploy from ${BRUTE_IP} port 43000 ssh2`));
    const urgent = await waitFor('the login-after-brute-force alert', 20_000, async () => (await alertsOf(`asset=${agentId}&rule=ward-login-003`))[0]);
    assert.equal(urgent.severity, 'urgent');
    Object.assign(ids, { brute: brute.id, shock: shock.id, urgent: urgent.id });
    assert.equal((await alertsOf(`asset=${agentId}`)).length, 3, 'exactly these three');
  });

  it('lists the alerts and filters them by severity, rule, host and time', async () => {
    await page.getByRole('link', { name: 'Alerts', exact: true }).click();
    await page.waitForURL(/\/console\/alerts$/);
    assert.deepEqual(await rows(), [ids.urgent, ids.shock, ids.brute], 'unhandled, newest first');
    const shockRow = page.locator(`tr[data-alert-id="${ids.shock}"]`);
    await shockRow.getByText(`by ${SIGMA_AUTHOR}`).waitFor();
    await shockRow.getByText('Urgent').waitFor();
    await page.locator(`tr[data-alert-id="${ids.brute}"]`).getByText(BRUTE_IP).waitFor();
    await shot(page, 'desktop-alerts');
    await shots('alerts');

    await page.locator('select[name="severity"]').selectOption('urgent');
    await page.waitForURL(/severity=urgent/);
    assert.deepEqual(await rows(), [ids.urgent, ids.shock]);
    await page.locator('select[name="rule"]').selectOption('ward-login-001');
    await page.waitForURL(/rule=ward-login-001/);
    assert.deepEqual(await rows(), [], 'urgent and brute force: none');
    await page.getByRole('heading', { name: 'No alerts match' }).waitFor();
    await page.locator('select[name="severity"]').selectOption('');
    await page.waitForURL((u) => !u.search.includes('severity=urgent'));
    assert.deepEqual(await rows(), [ids.brute]);
    await page.getByRole('link', { name: 'Clear' }).click();
    await page.waitForURL(/\/console\/alerts\?state=unhandled$/);

    const host = page.getByPlaceholder('Host');
    await host.fill(hostname.toUpperCase());
    await host.press('Enter');
    await page.waitForURL(/host=/);
    assert.equal((await rows()).length, 3, 'the hostname in any case');
    await host.fill('no-such-host-anywhere');
    await host.press('Enter');
    await page.getByRole('heading', { name: 'No server matches' }).waitFor();
    await page.goto('/console/alerts');
    await page.locator('select[name="period"]').selectOption('1h');
    await page.waitForURL(/period=1h/);
    assert.equal((await rows()).length, 3);
    const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    await page.locator('input[name="from"]').fill(yesterday);
    await page.locator('input[name="to"]').fill(yesterday);
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/to=/);
    assert.deepEqual(await rows(), [], 'nothing happened yesterday');
  });

  it('shows an alert with its evidence, technique and the rule author', async () => {
    await page.goto('/console/alerts');
    await page.locator(`tr[data-alert-id="${ids.shock}"] a.alert-title`).click();
    await page.waitForURL(new RegExp(`/console/alerts/${ids.shock}$`));
    await page.getByRole('heading', { name: 'Shellshock Expression', level: 1 }).waitFor();
    assert.equal((await page.locator('[data-author]').textContent()).trim(), SIGMA_AUTHOR);
    assert.equal(await page.getByRole('link', { name: 'T1505.003' }).getAttribute('href'), 'https://attack.mitre.org/techniques/T1505/003/');
    const ev = page.locator('tr[data-event-id]');
    assert.equal(await ev.count(), 1);
    assert.match(await ev.locator('.raw-line').textContent(), /invalid user \(\) \{ :; \}; \/bin\/bash -c id from 198\.51\.100\.23 port 42000/);
    await shot(page, 'desktop-alert-sigma');
    await shots('alert-sigma');

    await page.goto(`/console/alerts/${ids.brute}`);
    const rawLines = await page.locator('tr[data-event-id] .raw-line').allTextContents();
    assert.equal(rawLines.length, 8, 'the 8 failures that crossed the threshold');
    for (const [i, l] of rawLines.entries()) assert.ok(l.includes(`invalid user admin${i} from ${BRUTE_IP} port ${41000 + i} ssh2`), l);
    await shot(page, 'desktop-alert-bruteforce');
  });

  it('marks an alert handled and ignores others in bulk', async () => {
    await page.goto(`/console/alerts/${ids.brute}`);
    await page.getByRole('button', { name: 'Mark handled' }).click();
    await page.getByText('Alert updated.').waitFor();
    await page.locator('.page-header [data-state="handled"]').waitFor();
    assert.equal((await api(`/api/v1/alerts/${ids.brute}`)).state, 'handled');

    await page.goto('/console/alerts');
    assert.deepEqual(await rows(), [ids.urgent, ids.shock]);
    await page.locator(`tr[data-alert-id="${ids.urgent}"] input[name="id"]`).check();
    await page.locator('#bulk-bar').getByText('1 selected').waitFor();
    await page.locator('#bulk-bar').getByRole('button', { name: 'Ignore' }).click();
    await page.getByText('Alerts updated.').waitFor();
    assert.deepEqual(await rows(), [ids.shock]);
    assert.equal((await api(`/api/v1/alerts/${ids.urgent}`)).state, 'ignored');
    assert.equal((await api(`/api/v1/alerts/${ids.shock}`)).state, 'unhandled', 'not selected, not changed');
  });

  it('whitelists the source of an alert by rule and field value', async () => {
    // The three alerts so far have reached the webhook (checked in detail below).
    await waitFor('three webhook deliveries', 20_000, () => hook.got.length >= 3);
    await page.goto(`/console/alerts/${ids.shock}`);
    await page.locator(`input[name="pick"][value="SourceIp=${SHOCK_IP}"]`).check();
    await page.locator('input[name="comment"]').fill('our red team');
    await page.getByRole('button', { name: 'Whitelist' }).click();
    await page.getByText(/^Whitelisted\. This alert/).waitFor();
    assert.equal((await api(`/api/v1/alerts/${ids.shock}`)).state, 'whitelisted');
    const wl = (await api('/api/v1/whitelist')).items;
    assert.equal(wl.length, 1);
    assert.deepEqual([wl[0].rule_id, wl[0].field, wl[0].value, wl[0].comment], [SHELLSHOCK_ID, 'SourceIp', SHOCK_IP, 'our red team']);

    // The same attack again is stored as whitelisted and sent nowhere.
    const before = hook.got.length;
    fs.appendFileSync(authLog, line(`Failed password for invalid user () { :; }; /bin/true from ${SHOCK_IP} port 42001 ssh2`));
    const again = await waitFor('the second shellshock alert', 20_000, async () => (await alertsOf(`asset=${agentId}&rule=${SHELLSHOCK_ID}&state=whitelisted`)).find((a) => a.id !== ids.shock));
    assert.equal(again.state, 'whitelisted');
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(hook.got.length, before, 'whitelisted alerts go to no output');

    await page.getByRole('link', { name: 'whitelist page' }).click();
    await page.waitForURL(/\/console\/alerts\/whitelist$/);
    const row = page.locator(`tr[data-whitelist-id="${wl[0].id}"]`);
    await row.getByText('Shellshock Expression').waitFor();
    await row.getByText('our red team').waitFor();
    await shot(page, 'desktop-whitelist');
    await shots('whitelist');
  });

  it('delivered each alert that is not whitelisted to the webhook and syslog', async () => {
    const want = [ids.brute, ids.shock, ids.urgent].sort((a, b) => a - b);
    await waitFor('three webhook deliveries', 20_000, () => hook.got.length >= 3);
    assert.deepEqual(hook.got.map((g) => g.body.id).sort((a, b) => a - b), want);
    for (const g of hook.got) {
      assert.equal(g.method, 'POST');
      assert.equal(g.url, '/ward');
      assert.equal(g.headers['x-ward-token'], HOOK_SECRET);
      assert.equal(g.headers['content-type'], 'application/json');
    }
    assert.equal(hook.got.find((g) => g.body.id === ids.shock).body.author, SIGMA_AUTHOR);

    await waitFor('three syslog messages', 20_000, () => syslog.got.length >= 3);
    const parsed = syslog.got.map((m) => {
      const hit = m.match(/^<(\d+)>1 \S+ \S+ ward-server \d+ alert - (\{.*\})$/s);
      assert.ok(hit, `RFC 5424 with a JSON payload: ${m}`);
      return { pri: Number(hit[1]), alert: JSON.parse(hit[2]) };
    });
    assert.deepEqual(parsed.map((p) => p.alert.id).sort((a, b) => a - b), want);
    for (const p of parsed) {
      assert.equal(p.pri >> 3, 10, 'facility 10 as configured');
      assert.equal(p.pri & 7, p.alert.severity === 'urgent' ? 2 : 4);
    }
  });

  it('shows the alerts and the event spool on the asset page', async () => {
    await page.goto(`/console/assets/${agentId}`);
    const card = page.locator('section[aria-labelledby="asset-alerts-title"]');
    assert.equal(await card.locator('li[data-alert-id]').count(), 4);
    await card.getByText('Shellshock Expression').first().waitFor();
    await card.locator(`li[data-alert-id="${ids.urgent}"] [data-state="ignored"]`).waitFor();
    await waitFor('the spool depth to be reported', 20_000, async () => {
      await page.reload();
      return (await page.locator('[data-spool="depth"]').count()) === 1;
    }, 1000);
    assert.equal((await page.locator('[data-spool="dropped"]').textContent()).trim(), '0');
    await card.getByRole('link', { name: 'All alerts of this server' }).click();
    await page.waitForURL(/state=all&asset=/);
    assert.equal((await rows()).length, 4);
    await page.goto(`/console/assets/${agentId}`);
    await shot(page, 'desktop-asset-alerts');
    await shots('asset-alerts');
  });

  it('charts the stored alerts by severity on the overview', async () => {
    const all = await alertsOf('');
    const unhandled = (sev) => all.filter((a) => a.state === 'unhandled' && a.severity === sev).length;
    const today = new Date().toISOString().slice(5, 10);
    const charted = (sev) => all.filter((a) => a.state !== 'whitelisted' && a.severity === sev && a.created_at.slice(5, 10) === today).length;
    await page.goto('/console/');
    for (const sev of ['urgent', 'suspicious', 'reminder']) {
      const shown = (await page.locator(`[data-severity-count="${sev}"] .severity-value`).textContent()).trim();
      assert.equal(shown, String(unhandled(sev)), `${sev} unhandled`);
    }
    const titles = await page.locator('svg.alerts-chart rect title').allTextContents();
    assert.ok(titles.includes(`${charted('urgent')} urgent on ${today}`), titles.join(' | '));
    assert.ok(titles.includes(`${charted('suspicious')} suspicious on ${today}`), titles.join(' | '));
    await shot(page, 'desktop-overview-alerts');
    await shots('overview-alerts');
    await page.locator('[data-severity-count="urgent"]').click();
    await page.waitForURL(/severity=urgent/);
    assert.deepEqual(errors, [], 'no page errors, console errors or dialogs');
  });
});
