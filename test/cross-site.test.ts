import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { sql } from 'drizzle-orm';
import { chromium, type Browser } from 'playwright-core';
import { ADMIN_TOKEN, adminHeaders, buildTestApp } from './helpers/app.js';
import { buildIngestStack, startSim, type IngestStack } from './helpers/ingest.js';

// Regression: cross-site actions (issue 13). An operator with /admin open holds basic
// credentials that the browser re-sends with any request to the bridge, whichever page makes it;
// an auto-submitted text/plain form on any web site could resync, pause or delete every tenant.

const PORTAL = 62601;
const TOKEN = 'pat-na1-cross-site';
const HOST = 'bridge.internal:3000';
const basic = `Basic ${Buffer.from(`ops:${ADMIN_TOKEN}`).toString('base64')}`;

/** What a browser sends for a form another site auto-submits: the cached credentials included. */
const crossSiteForm = {
  host: HOST,
  authorization: basic,
  'content-type': 'text/plain',
  origin: 'https://evil.example',
  'sec-fetch-site': 'cross-site',
  'sec-fetch-mode': 'navigate',
};

// Each way a browser may present another page's request: both headers, or only one of them (an
// older browser, a privacy extension), a sibling site, an opaque origin; and a form body that
// reached us without either header.
const ATTACKS: Array<{ what: string; headers: Record<string, string>; body?: string; status: number }> = [
  { what: 'a cross-site text/plain form', headers: crossSiteForm, body: 'x=y', status: 403 },
  { what: 'an Origin of another site, no Sec-Fetch-Site', headers: { host: HOST, authorization: basic, 'content-type': 'text/plain', origin: 'https://evil.example' }, body: 'x=y', status: 403 },
  { what: 'Sec-Fetch-Site same-site (a sibling subdomain), no Origin', headers: { host: HOST, authorization: basic, 'sec-fetch-site': 'same-site' }, status: 403 },
  { what: 'an opaque Origin (null)', headers: { host: HOST, authorization: basic, origin: 'null' }, status: 403 },
  { what: 'the same host over another port', headers: { host: HOST, authorization: basic, origin: 'http://bridge.internal:8080' }, status: 403 },
  { what: 'a form body without browser headers', headers: { host: HOST, authorization: basic, 'content-type': 'text/plain' }, body: 'x=y', status: 415 },
  { what: 'an empty form without browser headers', headers: { host: HOST, authorization: basic, 'content-type': 'text/plain' }, body: '', status: 415 },
];

async function hubspotTenant(t: Parameters<typeof buildIngestStack>[0]): Promise<{ h: IngestStack; id: string; snapshot: () => Promise<unknown> }> {
  const sim = await startSim(t, { portals: [{ portalId: PORTAL, tokens: [TOKEN], contacts: 5 }] });
  const h = await buildIngestStack(t, sim, {}, { workers: false });
  // Onboarded as Talkdesk onboards it, by its token.
  const validated = await h.app.inject({ method: 'POST', url: '/auth_validation', payload: { auth: { access_token: TOKEN } } });
  t.equal(validated.statusCode, 204, validated.body);
  const [tenant] = (await h.database.db.execute<{ id: string }>(sql`SELECT id FROM tenants`)).rows;
  const id = tenant!.id;
  const rows = async (query: ReturnType<typeof sql>) => (await h.database.db.execute(query)).rows;
  const snapshot = async () => ({
    tenant: await rows(sql`SELECT to_jsonb(t) AS row FROM tenants t WHERE id = ${id}`),
    ingest: await rows(sql`SELECT to_jsonb(s) AS row FROM ingest_state s WHERE tenant_id = ${id}`),
    jobs: (await h.directQueue.getJobs(['waiting', 'delayed', 'active', 'paused', 'prioritized'])).map((j) => ({ id: j.id, name: j.name, data: j.data })),
    schedulers: (await h.directQueue.getJobSchedulers()).map((s) => s.key),
    queuePaused: await h.directQueue.isPaused(),
  });
  return { h, id, snapshot };
}

t.test('a cross-site form POST with the operator\'s basic credentials changes nothing; a script with the bearer token still works', async (t) => {
  const { h, id, snapshot } = await hubspotTenant(t);
  const before = await snapshot();

  const targets = [
    { method: 'POST', url: `/admin/tenants/${id}/resync` },
    { method: 'POST', url: `/admin/tenants/${id}/pause` },
    { method: 'DELETE', url: `/admin/tenants/${id}` },
  ] as const;
  for (const target of targets) {
    for (const attack of ATTACKS) {
      const res = await h.app.inject({ method: target.method, url: target.url, headers: attack.headers, ...(attack.body === undefined ? {} : { payload: attack.body }) });
      t.equal(res.statusCode, attack.status, `${target.method} ${target.url.replace(id, ':id')}: ${attack.what}`);
      t.match(res.json(), { error: String, message: String }, 'a JSON error');
    }
  }
  // The other admin writes, and the queue board's API.
  const others = [
    { method: 'PATCH', url: `/admin/tenants/${id}`, payload: '{"name":"Owned"}' },
    { method: 'PUT', url: `/admin/tenants/${id}/contacts`, payload: '[{"id":"planted","name":"Planted"}]' },
    { method: 'POST', url: '/admin/tenants', payload: '{"name":"Planted","auth":{"api_key":"planted"}}' },
    { method: 'PUT', url: '/admin/queues/api/queues/ingest/pause', payload: 'x=y' },
    { method: 'PUT', url: '/admin/queues/api/queues/ingest/clean/delayed', payload: 'x=y' },
  ] as const;
  for (const other of others) {
    const res = await h.app.inject({ method: other.method, url: other.url, headers: crossSiteForm, payload: other.payload });
    t.equal(res.statusCode, 403, `${other.method} ${other.url.replace(id, ':id')}: a cross-site form`);
  }
  t.same(await snapshot(), before, 'the tenant, its ingest state, its jobs and the queue are as they were');
  t.same((await h.database.db.execute(sql`SELECT count(*)::int AS n FROM tenants`)).rows, [{ n: 1 }], 'no tenant planted');

  // The operator's own page: same origin, the browser's cached basic credentials.
  const ownPage = { host: HOST, authorization: basic, origin: `http://${HOST}`, 'sec-fetch-site': 'same-origin', 'sec-fetch-mode': 'cors' };
  const paused = await h.app.inject({ method: 'POST', url: `/admin/tenants/${id}/pause`, headers: ownPage });
  t.equal(paused.statusCode, 200, 'the status page\'s own Pause button works');
  t.equal(paused.json().status, 'paused');

  // A script or curl: the bearer token, no browser headers.
  const script = (method: 'POST' | 'DELETE', url: string) => h.app.inject({ method, url, headers: adminHeaders });
  t.not((await script('POST', `/admin/tenants/${id}/resume`)).json().status, 'paused', 'resume from a script');
  const resync = await script('POST', `/admin/tenants/${id}/resync`);
  t.equal(resync.statusCode, 200, `resync from a script: ${resync.body}`);
  t.not(JSON.stringify(await snapshot()), JSON.stringify(before), 'and it did change something');
  t.equal((await script('DELETE', `/admin/tenants/${id}`)).statusCode, 204, 'delete from a script');
  t.same((await h.database.db.execute(sql`SELECT count(*)::int AS n FROM tenants`)).rows, [{ n: 0 }]);
});

t.test('with PUBLIC_URL set, a browser write must come from its origin', async (t) => {
  const h = await buildTestApp(t, { PUBLIC_URL: 'https://bridge.example.com' });
  const id = await h.createTenant({ api_key: 'k-public-url' });
  const pause = (origin: string) =>
    h.app.inject({ method: 'POST', url: `/admin/tenants/${id}/pause`, headers: { host: 'bridge.example.com', authorization: basic, origin, 'sec-fetch-site': 'same-origin' } });
  t.equal((await pause('http://bridge.example.com')).statusCode, 403, 'the same host over plain HTTP is another origin');
  t.equal((await pause('https://bridge.example.com.evil.example')).statusCode, 403);
  const own = await pause('https://bridge.example.com');
  t.equal(own.statusCode, 200, own.body);
  t.equal(own.json().status, 'paused');
});

t.test("every operator page sends frame-ancestors 'none' and the usual security headers; its inline scripts are allowed by hash only", async (t) => {
  const sim = await startSim(t);
  const h = await buildIngestStack(t, sim, {}, { workers: false });
  await h.createTenant({ api_key: 'k-headers' }, 'Headers Inc');
  for (const url of ['/admin', '/admin/queues', '/docs', '/docs/json', '/admin/tenants']) {
    const res = await h.app.inject({ method: 'GET', url, headers: { authorization: basic } });
    t.equal(res.statusCode, 200, url);
    const csp = String(res.headers['content-security-policy']);
    t.match(csp, /(^|;)frame-ancestors 'none'(;|$)/, `${url}: frame-ancestors 'none'`);
    t.match(csp, /(^|;)script-src 'self'/, `${url}: scripts from the bridge itself`);
    t.notMatch(csp, /script-src[^;]*unsafe-inline/, `${url}: no inline script but those allowed by hash`);
    t.equal(res.headers['x-frame-options'], 'DENY', url);
    t.equal(res.headers['x-content-type-options'], 'nosniff', url);
    t.equal(res.headers['referrer-policy'], 'no-referrer', url);
  }
  // A refusal is a page too (the browser's password prompt).
  const refused = await h.app.inject({ method: 'GET', url: '/admin' });
  t.equal(refused.statusCode, 401);
  t.match(String(refused.headers['content-security-policy']), "frame-ancestors 'none'", 'the 401 as well');

  const page = await h.app.inject({ method: 'GET', url: '/admin', headers: { authorization: basic } });
  const csp = String(page.headers['content-security-policy']);
  const inline = [...page.body.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1]!);
  t.ok(inline.length > 0, 'the status page has its inline script');
  for (const script of inline) {
    const hash = `'sha256-${createHash('sha256').update(script, 'utf8').digest('base64')}'`;
    t.ok(csp.includes(hash), `the rendered inline script is allowed by its hash ${hash}`);
  }

  const sync = await h.app.inject({ method: 'POST', url: h.config.SYNC_PATH, payload: { auth: { api_key: 'k-headers' }, meta: {} } });
  t.equal(sync.statusCode, 200);
  t.equal(sync.headers['content-security-policy'], undefined, "Talkdesk's JSON endpoint pays for none of it");
});

const CHROMIUM = '/usr/bin/chromium';
const noBrowser = existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM}: install Debian's chromium package to run the browser test (CI does)`;

t.test('in a real browser the status page, the queue board and the API docs work under their policy, which refuses framing', { skip: noBrowser }, async (t) => {
  const sim = await startSim(t);
  const h = await buildIngestStack(t, sim, {}, { workers: false });
  await h.createTenant({ api_key: 'k-browser-csp' }, 'Policy Inc');
  await h.app.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`;

  const browser: Browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  t.teardown(() => browser.close());
  const context = await browser.newContext({ httpCredentials: { username: 'ops', password: ADMIN_TOKEN } });
  // Nothing leaves the machine: the board's web fonts are simply not there.
  await context.route(/^https?:\/\/(?!127\.0\.0\.1)/, (route) => route.abort());
  const page = await context.newPage();
  const violations: string[] = [];
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) violations.push(`${page.url()}: ${message.text()}`);
  });

  await page.goto(`${base}/admin`);
  await page.locator('tr[data-tenant-id] .name', { hasText: 'Policy Inc' }).waitFor({ timeout: 15_000 });
  await page.goto(`${base}/admin/queues`);
  await page.getByText('contact-bridge ingest').first().waitFor({ timeout: 15_000 });
  await page.goto(`${base}/docs`);
  await page.locator('.swagger-ui .info .title').first().waitFor({ timeout: 15_000 });
  t.match(await page.locator('.swagger-ui .info .title').first().textContent(), /contact-bridge/, 'the API docs render');
  t.same(violations, [], 'no page of ours breaks its own policy');
  violations.length = 0;

  // Another site framing the status page (a click-jacking set-up) gets an empty frame.
  await page.setContent(`<iframe id="framed" src="${base}/admin"></iframe>`);
  await page.waitForTimeout(1_000);
  const framed = page.frames().find((frame) => frame.url().startsWith(`${base}/admin`));
  const rendered = framed ? await framed.locator('tr[data-tenant-id]').count().catch(() => 0) : 0;
  t.equal(rendered, 0, 'the status page does not render inside another page');
  t.match(violations.join('\n'), /frame-ancestors 'none'/, 'the browser says it refused the frame for the policy (so the listener above hears violations)');
});
