// The console as an operator uses it, in headless Chromium, against a real
// ward-server and a real ward-agent installed with the command the console
// shows. The steps run in order and share one server.

import assert from 'node:assert/strict';
import os from 'node:os';
import { after, before, describe, it } from 'node:test';

import {
  Agent, DESKTOP, PHONE, Server, guardPage, launchBrowser, newContext, shot, signIn, waitFor,
} from './lib/harness.mjs';

describe('console with a real server and agent', () => {
  const server = new Server();
  const agent = new Agent();
  const second = new Agent();
  const errors = [];
  let browser;
  let ctx;
  let page;
  let agentId;
  let keySecret;
  let fakeId;
  let installCommand;
  const hostname = os.hostname();

  before(async () => {
    await server.start();
    browser = await launchBrowser();
    ctx = await newContext(browser, server, DESKTOP);
    page = await ctx.newPage();
    guardPage(page, errors);
  });

  after(async () => {
    agent.stop();
    second.stop();
    if (browser) await browser.close();
    await server.stop();
    if (errors.length) console.error(errors.join('\n'));
  });

  /** Screenshots of the current URL at phone width, in a second context with the same session. */
  async function phoneShot(name, prepare) {
    const state = await ctx.storageState();
    const c = await browser.newContext({ ignoreHTTPSErrors: true, viewport: PHONE, baseURL: server.url, storageState: state, isMobile: true, hasTouch: true });
    try {
      const p = await c.newPage();
      guardPage(p, errors);
      await p.goto(new URL(page.url()).pathname + new URL(page.url()).search);
      if (prepare) await prepare(p);
      await shot(p, `phone-${name}`);
    } finally {
      await c.close();
    }
  }

  it('prints a first password once and asks for it', async () => {
    assert.ok(server.password, `no password in the banner:\n${server.stdout}`);
    assert.equal(server.password.length, 24);
    await page.goto('/console/assets');
    await page.waitForURL(/\/console\/signin\?next=%2Fconsole%2Fassets/);
    await assert.doesNotReject(page.locator('#password').waitFor());
    await shot(page, 'desktop-signin');
    await phoneShot('signin');
  });

  it('refuses a wrong password and signs in with the printed one', async () => {
    await page.locator('#password').fill('not the password');
    await page.locator('#password').press('Enter');
    await page.getByText('That password is not right.').waitFor();
    await shot(page, 'desktop-signin-error');
    await page.locator('#password').fill(server.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/console\/assets$/);
    const cookies = await ctx.cookies();
    const c = cookies.find((k) => k.name === '__Host-ward_session');
    assert.ok(c, 'session cookie set');
    assert.equal(c.httpOnly, true);
    assert.equal(c.secure, true);
    assert.equal(c.sameSite, 'Strict');
    assert.equal(c.path, '/');
  });

  it('shows a newcomer what to do on an empty overview', async () => {
    await page.goto('/console/');
    await page.getByRole('heading', { name: 'No servers yet — copy this command' }).waitFor();
    const cmd = await page.locator('#install-hint').textContent();
    assert.match(cmd, /--pinnedpubkey/);
    assert.match(cmd, new RegExp(`--server '${server.url}'`));
    await page.getByText('No alerts yet.').waitFor();
    await shot(page, 'desktop-overview-empty');
    await phoneShot('overview-empty');
  });

  it('creates a key with a label and group, and copies its install command', async () => {
    await page.getByRole('link', { name: 'Install / Uninstall Agent' }).click();
    await page.waitForURL(/\/console\/settings\/agents/);
    await page.getByLabel('Label').fill('Web servers');
    await page.getByLabel('Default group (optional)').fill('web');
    await page.getByRole('button', { name: 'Create key' }).click();
    await page.getByText('Key created.').waitFor();
    const keys = (await server.api('GET', '/api/v1/keys')).json.items;
    const created = keys.find((k) => k.label === 'Web servers');
    assert.ok(created, 'the API lists the new key');
    assert.equal(created.default_group, 'web');
    keySecret = created.secret;
    const row = page.locator(`tr[data-key-id="${created.id}"]`);
    await row.getByText('Active').waitFor();
    await row.getByText('in commands').waitFor();

    // Copy the linux-x86_64 command with its button and read the clipboard.
    const shown = (await page.locator('#cmd-linux-x86_64').textContent()).trim();
    assert.ok(shown.includes(`--key '${keySecret}'`), shown);
    assert.ok(shown.includes('--platform linux-x86_64'), shown);
    await page.getByRole('button', { name: 'Copy install command for linux-x86_64' }).click();
    await page.getByRole('button', { name: 'Copy install command for linux-x86_64' }).getByText('Copied').waitFor();
    const copied = await page.evaluate(() => navigator.clipboard.readText());
    assert.equal(copied.trim(), shown);
    installCommand = copied.trim();
    await shot(page, 'desktop-settings-agents');
    await phoneShot('settings-agents');
  });

  it('installs a real agent with the copied command and shows the host Protected', async () => {
    agent.install(installCommand);
    agentId = agent.id();
    await page.goto('/console/assets');
    const row = page.locator(`tr[data-asset-id="${agentId}"]`);
    await waitFor('the new host on the Assets page', 30_000, async () => {
      if (await row.count()) return true;
      await page.reload();
      return false;
    }, 1000);
    await row.locator('[data-badge]').filter({ hasText: 'Protected' }).waitFor({ timeout: 20_000 });
    assert.equal((await row.locator('td.host').textContent()).trim(), hostname);
    await row.getByText('web').waitFor();
  });

  it('filters by status and group and searches by hostname and IP', async () => {
    // A second, never-connected host in another group, enrolled through the real API.
    await page.goto('/console/settings/agents');
    await page.getByLabel('Label').fill('Database servers');
    await page.getByLabel('Default group (optional)').fill('db');
    await page.getByRole('button', { name: 'Create key' }).click();
    await page.getByText('Key created.').waitFor();
    const dbKey = (await server.api('GET', '/api/v1/keys')).json.items.find((k) => k.label === 'Database servers');
    const e = await server.enrollFake(dbKey.secret, { hostname: 'db-01.example', ips: ['10.20.30.40'] });
    assert.equal(e.status, 200, JSON.stringify(e.json));
    fakeId = e.json.agent_id;

    const rows = async () => page.locator('tbody tr[data-asset-id]').evaluateAll((trs) => trs.map((t) => t.dataset.assetId).sort());
    const both = [agentId, fakeId].sort();

    await page.goto('/console/assets');
    assert.deepEqual(await rows(), both);
    await page.locator('nav.tabs').getByRole('link', { name: /^Protected/ }).click();
    await page.waitForURL(/status=protected/);
    assert.deepEqual(await rows(), [agentId]);
    await page.locator('nav.tabs').getByRole('link', { name: /^Never connected/ }).click();
    await page.waitForURL(/status=never_connected/);
    assert.deepEqual(await rows(), [fakeId]);
    await page.locator('nav.tabs').getByRole('link', { name: /^All/ }).click();

    // Group select submits by itself.
    await page.locator('select[name="group"]').selectOption('db');
    await page.waitForURL(/group=db/);
    assert.deepEqual(await rows(), [fakeId]);
    await page.locator('select[name="group"]').selectOption('web');
    await page.waitForURL(/group=web/);
    assert.deepEqual(await rows(), [agentId]);
    await page.getByRole('link', { name: 'Clear' }).click();
    await page.waitForURL(/\/console\/assets$/);

    // Search, typed with the keyboard.
    const search = page.getByPlaceholder('Search hostname or IP');
    await search.fill('DB-0');
    await search.press('Enter');
    await page.waitForURL(/q=DB-0/);
    assert.deepEqual(await rows(), [fakeId]);
    await search.fill('10.20.30');
    await search.press('Enter');
    await page.waitForURL(/q=10.20.30/);
    assert.deepEqual(await rows(), [fakeId]);
    const real = (await server.api('GET', `/api/v1/assets/${agentId}`)).json;
    await search.fill(real.hostname);
    await search.press('Enter');
    await page.waitForURL(/q=/);
    assert.ok((await rows()).includes(agentId));
    if (real.ips.length) {
      await search.fill(real.ips[0]);
      await search.press('Enter');
      await page.waitForURL(/q=/);
      assert.ok((await rows()).includes(agentId), `search by ${real.ips[0]}`);
    }
    await search.fill('no-such-host-anywhere');
    await search.press('Enter');
    await page.getByRole('heading', { name: 'No servers match' }).waitFor();
    await shot(page, 'desktop-assets-no-match');

    await page.goto('/console/assets');
    await shot(page, 'desktop-assets');
    await phoneShot('assets');
  });

  it('shows the asset detail: report, connection, resources, timeline', async () => {
    await page.goto('/console/assets');
    await page.locator(`tr[data-asset-id="${agentId}"] td.host a`).click();
    await page.waitForURL(new RegExp(`/console/assets/${agentId}$`));
    await page.getByRole('heading', { name: hostname, level: 1 }).waitFor();
    await page.getByRole('heading', { name: 'Host report' }).waitFor();
    await page.getByText('Session open').waitFor();
    await page.getByText('CPU (of one core)').waitFor();
    await page.getByText('Memory (RSS)').waitFor();
    const tl = page.locator('ol.timeline li');
    assert.ok((await tl.count()) >= 2, 'enrolled then protected');
    await tl.first().getByText('Protected').waitFor();
    await shot(page, 'desktop-asset');
    await phoneShot('asset');
  });

  it('revokes a key after confirming, and the key enrolls nothing more', async () => {
    await page.goto('/console/settings/agents');
    await page.getByLabel('Label').fill('Temporary key');
    await page.getByRole('button', { name: 'Create key' }).click();
    await page.getByText('Key created.').waitFor();
    const temp = (await server.api('GET', '/api/v1/keys')).json.items.find((k) => k.label === 'Temporary key');
    const row = page.locator(`tr[data-key-id="${temp.id}"]`);
    await row.getByRole('button', { name: 'Revoke' }).click();
    const dlg = page.locator('#confirm-dialog');
    await dlg.getByText('Revoke the key “Temporary key”?').waitFor();
    await shot(page, 'desktop-revoke-confirm');
    await dlg.getByRole('button', { name: 'Revoke key' }).click();
    await page.getByText('Key revoked.').waitFor();
    await page.locator(`tr[data-key-id="${temp.id}"]`).getByText(/^Revoked/).waitFor();
    const after = (await server.api('GET', '/api/v1/keys')).json.items.find((k) => k.id === temp.id);
    assert.equal(after.revoked, true);
    const e = await server.enrollFake(temp.secret, { hostname: 'should-not-enroll' });
    assert.equal(e.status, 403);
    assert.equal(e.json.error.code, 'key_revoked');
  });

  it('saves the agent policy through the same path as the API', async () => {
    await page.getByRole('link', { name: 'Agent policy' }).click();
    await page.waitForURL(/\/console\/settings\/policy$/);
    assert.equal(await page.locator('#keepalive_secs').inputValue(), '1');
    await page.locator('#report_interval_mins').fill('240');
    await page.getByRole('button', { name: 'Save policy' }).click();
    await page.getByText(/Policy saved and pushed to \d+ connected agents?\./).waitFor();
    const p = (await server.api('GET', '/api/v1/settings/policy')).json;
    assert.deepEqual(p, { keepalive_secs: 1, missed_keepalives: 3, report_interval_secs: 240 * 60 });
    // The browser refuses 0 (min="1"); the server must refuse it too.
    await page.locator('#keepalive_secs').fill('0');
    assert.equal(await page.locator('#keepalive_secs').evaluate((i) => i.validity.valid), false);
    await page.locator('form.policy-form').evaluate((f) => { f.noValidate = true; });
    await page.getByRole('button', { name: 'Save policy' }).click();
    await page.getByText(/keepalive_secs must be between 1 and 3600/).waitFor();
    assert.equal((await server.api('GET', '/api/v1/settings/policy')).json.keepalive_secs, 1, 'a bad value changes nothing');
    // The refused form came back with status 400 on purpose; the browser logs that.
    for (let i = errors.length - 1; i >= 0; i--) if (/status of 400/.test(errors[i])) errors.splice(i, 1);
    await shot(page, 'desktop-settings-policy');
    await page.goto('/console/settings/policy');
    await phoneShot('settings-policy');
  });

  it('turns tamper protection on; a local stop then needs the token from the asset page', async () => {
    await page.goto('/console/settings/policy');
    await page.locator('#tamper-default').check();
    await page.getByRole('button', { name: 'Save tamper protection' }).click();
    await page.getByText(/Tamper protection saved and pushed to \d+ connected agents?\./).waitFor();
    assert.equal((await server.api('GET', '/api/v1/settings/tamper-protection')).json.default, true);
    await waitFor('the agent to receive the protection statement', 10_000, () => agent.protectedNow());
    await shot(page, 'desktop-settings-tamper');

    // Without a token the agent refuses to stop, and an urgent alert is raised.
    const refused = agent.cli(['stop']);
    assert.equal(refused.status, 7, refused.stderr);
    assert.match(refused.stderr, /refused: tamper protection is on/);
    const alerts = await waitFor('the tamper alert', 10_000, async () => {
      const items = (await server.api('GET', `/api/v1/alerts?rule=ward.tamper.stop&asset=${agentId}`)).json.items;
      return items.length ? items : null;
    });
    assert.equal(alerts[0].severity, 'urgent');
    assert.equal(alerts[0].technique, 'T1562.001');

    // The asset page issues a token (shown once); with it the stop works.
    await page.goto(`/console/assets/${agentId}`);
    const card = page.locator('#protection');
    await card.getByText('On', { exact: true }).waitFor();
    await card.locator('select[name="expires"]').selectOption('3600');
    await card.getByRole('button', { name: 'Issue uninstall token' }).click();
    await page.getByText('Uninstall token (shown only now)').waitFor();
    const token = (await page.locator('#uninstall-token').textContent()).trim();
    assert.match(token, /^wut1\./);
    await shot(page, 'desktop-asset-token');
    const stopped = agent.cli(['stop', '--token', token]);
    assert.equal(stopped.status, 0, stopped.stderr);
    const started = agent.cli(['start']);
    assert.equal(started.status, 0, started.stderr);
    await page.goto('/console/assets');
    await page.locator(`tr[data-asset-id="${agentId}"] [data-badge]`).filter({ hasText: 'Protected' }).waitFor({ timeout: 20_000 });
  });

  it('turns the badge Unprotected without reloading when the agent is killed', async () => {
    await page.goto('/console/assets');
    const badge = page.locator(`tr[data-asset-id="${agentId}"] [data-badge]`);
    await badge.filter({ hasText: 'Protected' }).waitFor();
    await page.evaluate(() => { window.__sameDocument = true; });
    await shot(page, 'desktop-overview-before-kill');
    // Both programs at once (a host crash): a lone agent would be restarted by ward-update.
    assert.ok(agent.kill9All(), 'the agent had a pid file');
    await badge.filter({ hasText: 'Unprotected · Offline' }).waitFor({ timeout: 30_000 });
    assert.equal(await page.evaluate(() => window.__sameDocument), true, 'the page was not reloaded');
    assert.match(await badge.getAttribute('class'), /tone-crit/);
  });

  it('overview counts and charts reflect the fleet', async () => {
    await page.goto('/console/');
    await page.locator('[data-count="offline"]').filter({ hasText: '1' }).waitFor();
    await page.locator('[data-count="never_connected"]').filter({ hasText: '1' }).waitFor();
    await page.getByRole('heading', { name: 'Agents by version' }).waitFor();
    await shot(page, 'desktop-overview');
    await phoneShot('overview');
  });

  it('flags offline servers in the uninstall dialog and queues the command for them', async () => {
    await page.goto('/console/assets');
    await page.locator('[data-select-all]:visible').check();
    await page.locator('#bulk-bar').getByText('2 selected').waitFor();
    await page.locator('#bulk-bar').getByRole('button', { name: 'Uninstall…' }).click();
    const dlg = page.locator('#uninstall-dialog');
    await dlg.getByText('2 servers (2 offline)').waitFor();
    assert.equal(await dlg.locator('.flag-offline').count(), 2);
    assert.equal(await dlg.locator('input[name="queue"]').isChecked(), true, 'queueing is the default');
    await shot(page, 'desktop-uninstall-dialog');
    await phoneShot('uninstall-dialog', async (p) => {
      await p.locator('[data-select-all]:visible').check();
      await p.locator('#bulk-bar').getByRole('button', { name: 'Uninstall…' }).click();
      await p.locator('#uninstall-dialog').getByText('2 servers (2 offline)').waitFor();
    });
    await dlg.locator('select[name="expires"]').selectOption('86400');
    await dlg.getByRole('button', { name: 'Uninstall' }).click();
    await page.getByText('Offline — pending (2)').waitFor();
    await page.getByText(/pending · expires in 23 h/).first().waitFor();
    await shot(page, 'desktop-uninstall-result');
    // Both are pending with their expiry: in the API, on the Assets list and the asset page.
    const cmds = (await server.api('GET', `/api/v1/commands?asset_id=${agentId}`)).json.items;
    assert.equal(cmds.length, 1);
    assert.equal(cmds[0].state, 'pending');
    assert.equal(cmds[0].kind, 'uninstall');
    await page.goto('/console/assets');
    await page.locator(`tr[data-asset-id="${agentId}"]`).getByText(/Uninstall pending · expires in 23 h/).waitFor();
    await page.locator(`tr[data-asset-id="${fakeId}"]`).getByText(/Uninstall pending · expires in 23 h/).waitFor();
    await page.goto(`/console/assets/${agentId}`);
    await page.locator(`#commands tr[data-command-id="${cmds[0].id}"]`).getByText('pending', { exact: true }).waitFor();
    await shot(page, 'desktop-asset-pending');
    assert.equal(agent.removed(), false, 'nothing happens while the agent is offline');
  });

  it('delivers the queued uninstall when the agent reconnects: the host is Uninstalled and its install gone', async () => {
    await page.goto('/console/assets');
    const badge = page.locator(`tr[data-asset-id="${agentId}"] [data-badge]`);
    const started = agent.cli(['start']);
    assert.equal(started.status, 0, started.stderr);
    await badge.filter({ hasText: 'Unprotected · Uninstalled' }).waitFor({ timeout: 20_000 });
    await waitFor('the agent to remove its install', 10_000, () => agent.removed());
    const cmd = await waitFor('the command done', 10_000, async () => {
      const c = (await server.api('GET', `/api/v1/commands?asset_id=${agentId}`)).json.items[0];
      return c.state === 'done' ? c : null;
    });
    assert.match(cmd.result, /^removed /);
    await shot(page, 'desktop-assets-uninstalled');
  });

  it('uninstalls an online agent at once from its page', async () => {
    second.install(installCommand);
    const id = second.id();
    await page.goto(`/console/assets/${id}`);
    await page.getByText('Session open').waitFor({ timeout: 20_000 });
    await page.locator('.page-actions').getByRole('button', { name: 'Uninstall…' }).click();
    const dlg = page.locator('#uninstall-dialog');
    await dlg.locator('#uninstall-count').filter({ hasText: /^1 server$/ }).waitFor();
    assert.equal(await dlg.locator('.flag-online').count(), 1);
    const asked = Date.now();
    await dlg.getByRole('button', { name: 'Uninstall' }).click();
    await page.getByText('Sent now (1)').waitFor();
    await waitFor('the online agent to be uninstalled', 5_000, async () => {
      const a = (await server.api('GET', `/api/v1/assets/${id}`)).json;
      return a.status_reason === 'uninstalled' && second.removed();
    }, 100);
    assert.ok(Date.now() - asked <= 5_000, 'within 5 s');
  });

  it('ends signed-in sessions when the password is reset with ward-server admin set-password', async () => {
    await page.goto('/console/assets');
    await page.waitForURL(/\/console\/assets$/);
    const fresh = 'a new console password for the tests';
    const r = server.cli(['admin', 'set-password'], `${fresh}\n`);
    assert.match(r.stderr, /Console password set/);
    // The session signed in with the old password ends at its next request.
    await page.goto('/console/assets');
    await page.waitForURL(/\/console\/signin\?next=/);
    await page.locator('#password').fill(server.password);
    await page.locator('#password').press('Enter');
    await page.getByText('That password is not right.').waitFor();
    await page.locator('#password').fill(fresh);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/console\/assets$/);
    server.password = fresh;
  });

  it('signs out', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/console\/signin$/);
    await page.goto('/console/assets');
    await page.waitForURL(/\/console\/signin\?next=/);
    assert.deepEqual(errors, [], 'no page errors, console errors or dialogs');
  });
});
