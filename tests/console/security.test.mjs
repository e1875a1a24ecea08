// Security of the console against a real ward-server: CSRF tokens, sign-in
// rate limiting, cookie flags, escaping of agent-supplied text, and
// authentication of console pages and the API.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import {
  DESKTOP, PHONE, Server, cookieFrom, csrfFrom, form, guardPage, launchBrowser, newContext, request, shot, signIn,
} from './lib/harness.mjs';

const COOKIE = '__Host-ward_session';
const EVIL_HOST = '<img src=x onerror=alert(1)>';
const EVIL_OS = '"><script>alert(2)</script>';

describe('console security', () => {
  const server = new Server();
  let browser;

  /** A signed-in session from `localAddress`: { cookie, csrf }. */
  async function session(localAddress = '127.0.0.1') {
    const g = await request(`${server.url}/console/signin`, { localAddress, pin: server.pin });
    const anon = cookieFrom(g.headers['set-cookie'], COOKIE);
    const r = await request(`${server.url}/console/signin`, {
      method: 'POST',
      localAddress,
      pin: server.pin,
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `${COOKIE}=${anon}` },
      body: form({ csrf: csrfFrom(g.body), password: server.password, next: '/console/' }),
    });
    assert.equal(r.status, 303, r.body);
    const cookie = cookieFrom(r.headers['set-cookie'], COOKIE);
    const page = await request(`${server.url}/console/settings/agents`, { pin: server.pin, localAddress, headers: { cookie: `${COOKIE}=${cookie}` } });
    return { cookie, csrf: csrfFrom(page.body), setCookie: r.headers['set-cookie'] };
  }

  async function post(path, s, fields, localAddress = '127.0.0.1') {
    return request(server.url + path, {
      method: 'POST',
      localAddress,
      pin: server.pin,
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...(s ? { cookie: `${COOKIE}=${s.cookie}` } : {}) },
      body: form(fields),
    });
  }

  before(async () => {
    await server.start();
    browser = await launchBrowser();
  });

  after(async () => {
    if (browser) await browser.close();
    await server.stop();
  });

  it('sets HttpOnly, Secure, SameSite=Strict session cookies', async () => {
    const s = await session();
    const line = s.setCookie.find((c) => c.startsWith(`${COOKIE}=`));
    const flags = line.split(';').map((f) => f.trim());
    for (const f of ['HttpOnly', 'Secure', 'SameSite=Strict', 'Path=/']) assert.ok(flags.includes(f), `${f} in ${line}`);
    assert.ok(!/domain=/i.test(line), 'a __Host- cookie has no Domain');
  });

  it('refuses state-changing posts without or with a wrong CSRF token (403)', async () => {
    const s = await session();
    const other = await session();
    const keysBefore = (await server.api('GET', '/api/v1/keys')).json.items.length;
    const cases = [
      ['no token', { label: 'csrf-none' }],
      ['empty token', { label: 'csrf-empty', csrf: '' }],
      ['wrong token', { label: 'csrf-wrong', csrf: 'x'.repeat(32) }],
      ["another session's token", { label: 'csrf-other', csrf: other.csrf }],
    ];
    for (const [what, fields] of cases) {
      const r = await post('/console/settings/keys', s, fields);
      assert.equal(r.status, 403, `${what}: ${r.status}`);
      assert.match(r.body, /Nothing was changed/);
    }
    // Policy and sign-out are protected the same way.
    assert.equal((await post('/console/settings/policy', s, { keepalive_secs: '7', missed_keepalives: '3', report_interval_mins: '60' })).status, 403);
    assert.equal((await post('/console/signout', s, { csrf: 'nope' })).status, 403);
    assert.equal((await server.api('GET', '/api/v1/settings/policy')).json.keepalive_secs, 1);
    assert.equal((await server.api('GET', '/api/v1/keys')).json.items.length, keysBefore, 'no key was created');
    // The right token works.
    const ok = await post('/console/settings/keys', s, { label: 'csrf-ok', csrf: s.csrf });
    assert.equal(ok.status, 303);
    assert.equal((await server.api('GET', '/api/v1/keys')).json.items.length, keysBefore + 1);
  });

  it('requires a session for console pages and a token for the API', async () => {
    for (const p of ['/console/', '/console/assets', '/console/settings/agents', '/console/settings/policy', '/console/assets/anything']) {
      const r = await request(server.url + p, { pin: server.pin });
      assert.equal(r.status, 303, p);
      assert.match(r.headers.location, /^\/console\/signin\?next=/, p);
    }
    const forged = await request(`${server.url}/console/assets`, { pin: server.pin, headers: { cookie: `${COOKIE}=forged-session-id` } });
    assert.equal(forged.status, 303, 'an unknown session id is not signed in');
    const live = await request(`${server.url}/console/live?ids=x`, { pin: server.pin });
    assert.equal(live.status, 401);
    const p = await post('/console/settings/keys', null, { label: 'anon', csrf: 'x' });
    assert.ok([303, 403].includes(p.status), `anonymous post refused (${p.status})`);

    for (const auth of [undefined, 'Bearer wt_not_a_token', `Bearer ${server.token}x`]) {
      const r = await request(`${server.url}/api/v1/assets`, { pin: server.pin, headers: auth ? { authorization: auth } : {} });
      assert.equal(r.status, 401, `API with ${auth}`);
    }
    // A console session is not an API credential.
    const s = await session();
    const r = await request(`${server.url}/api/v1/assets`, { pin: server.pin, headers: { cookie: `${COOKIE}=${s.cookie}` } });
    assert.equal(r.status, 401);
    assert.equal((await server.api('GET', '/api/v1/assets')).status, 200);
  });

  it('rate-limits repeated wrong passwords per address (429), even the right one', async () => {
    const from = '127.0.0.2';
    const g = await request(`${server.url}/console/signin`, { localAddress: from, pin: server.pin });
    const anon = { cookie: cookieFrom(g.headers['set-cookie'], COOKIE) };
    const csrf = csrfFrom(g.body);
    const statuses = [];
    for (let i = 0; i < 5; i++) {
      statuses.push((await post('/console/signin', anon, { csrf, password: `wrong-${i}` }, from)).status);
    }
    assert.deepEqual(statuses, [401, 401, 401, 401, 401]);
    const limited = await post('/console/signin', anon, { csrf, password: 'wrong-again' }, from);
    assert.equal(limited.status, 429);
    assert.ok(Number(limited.headers['retry-after']) > 0, 'Retry-After');
    assert.match(limited.body, /Too many failed sign-ins/);
    const right = await post('/console/signin', anon, { csrf, password: server.password }, from);
    assert.equal(right.status, 429, 'blocked addresses cannot sign in at all');
    // Other addresses are unaffected.
    await session('127.0.0.1');
  });

  it('shows an agent-reported hostname like <img src=x onerror=alert(1)> escaped everywhere', async () => {
    const key = (await server.api('POST', '/api/v1/keys', { label: 'xss', default_group: '<b>grp</b>' })).json;
    const e = await server.enrollFake(key.secret, { hostname: EVIL_HOST, os: EVIL_OS, ips: ['10.66.0.1'] });
    assert.equal(e.status, 200, JSON.stringify(e.json));
    const id = e.json.agent_id;

    // Raw HTML: the text is escaped wherever it appears.
    const s = await session();
    const pages = ['/console/assets', `/console/assets/${id}`, '/console/settings/agents', '/console/assets?q=img'];
    for (const p of pages) {
      const r = await request(server.url + p, { pin: server.pin, headers: { cookie: `${COOKIE}=${s.cookie}` } });
      assert.equal(r.status, 200, p);
      assert.ok(!r.body.includes(EVIL_HOST), `raw hostname in ${p}`);
      assert.ok(!r.body.includes('<script>alert(2)'), `raw OS in ${p}`);
      assert.ok(!r.body.includes('<b>grp</b>'), `raw group in ${p}`);
      assert.ok(r.body.includes('&lt;img src=x onerror=alert(1)&gt;'), `escaped hostname in ${p}`);
    }
    const res = await post('/console/assets/uninstall', s, { csrf: s.csrf, id });
    assert.equal(res.status, 200);
    assert.ok(!res.body.includes(EVIL_HOST) && res.body.includes('&lt;img src=x'));
    const live = await request(`${server.url}/console/live?ids=${id}`, { pin: server.pin, headers: { cookie: `${COOKIE}=${s.cookie}` } });
    assert.equal(live.headers['content-type'], 'application/json');

    // In a browser: the text shows literally, no element or dialog is created.
    for (const [viewport, name] of [[DESKTOP, 'desktop'], [PHONE, 'phone']]) {
      const ctx = await newContext(browser, server, viewport);
      const page = await ctx.newPage();
      const errors = [];
      guardPage(page, errors);
      await signIn(page, server.password);
      for (const p of ['/console/assets', `/console/assets/${id}`, '/console/settings/agents']) {
        await page.goto(p);
        await page.getByText(EVIL_HOST, { exact: true }).first().waitFor();
        assert.equal(await page.locator('img[src="x"]').count(), 0, `no injected <img> on ${p}`);
        assert.equal(await page.locator('script:not([src])').count(), 0, `no inline script on ${p}`);
        assert.equal(await page.locator('b', { hasText: 'grp' }).count(), 0, `no injected <b> on ${p}`);
      }
      await page.goto('/console/assets');
      await page.locator(`input[name="id"][value="${id}"]`).check();
      await page.locator('#bulk-bar').getByRole('button', { name: 'Uninstall…' }).click();
      await page.locator('#uninstall-list').getByText(EVIL_HOST, { exact: true }).waitFor();
      assert.equal(await page.locator('img[src="x"]').count(), 0, 'no injected <img> in the dialog');
      await shot(page, `${name}-escaped-hostname`);
      assert.deepEqual(errors, [], 'no alert() ran and no page error');
      await ctx.close();
    }
  });

  it('answers errors without internals', async () => {
    const s = await session();
    const r = await request(`${server.url}/console/assets/does-not-exist`, { pin: server.pin, headers: { cookie: `${COOKIE}=${s.cookie}` } });
    assert.equal(r.status, 404);
    assert.ok(!/sqlite|\/tmp\/|panicked|StoreError/i.test(r.body), r.body);
    const big = await post('/console/settings/keys', s, { csrf: s.csrf, label: 'x'.repeat(70_000) });
    assert.equal(big.status, 413);
    for (const h of ['content-security-policy', 'x-frame-options', 'x-content-type-options']) {
      assert.ok(r.headers[h], `${h} header`);
    }
  });
});
