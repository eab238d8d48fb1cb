import { existsSync } from 'node:fs';
import t from 'tap';
import { sql } from 'drizzle-orm';
import { chromium, type Browser } from 'playwright-core';
import { ADMIN_TOKEN, adminHeaders, buildTestApp } from './helpers/app.js';
import { buildIngestStack, eventually, startSim } from './helpers/ingest.js';
import { humanDuration } from '../src/admin/status-view.js';

const CHROMIUM = '/usr/bin/chromium';
const PORTAL = 62515;
const TOKEN = 'pat-na1-status-page';

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

t.test('lags read as an operator would say them', async (t) => {
  const cases: Array<[number, string]> = [[0.4, '0 s'], [59, '59 s'], [60, '1 min'], [3599, '59 min'], [3600, '1 h'], [3660 + 59, '1 h 1 min'], [86_400 * 2 + 3600 * 4, '2 d 4 h']];
  for (const [seconds, text] of cases) t.equal(humanDuration(seconds), text, `${seconds} s`);
});

t.test('the status page wants the admin token, by basic auth (a browser) or bearer', async (t) => {
  const h = await buildTestApp(t);
  const get = (headers: Record<string, string> = {}) => h.app.inject({ method: 'GET', url: '/admin', headers });

  const refused: Record<string, string>[] = [{}, { authorization: basic('ops', 'wrong-password') }, { authorization: `Bearer ${ADMIN_TOKEN}x` }];
  for (const headers of refused) {
    const res = await get(headers);
    t.equal(res.statusCode, 401, JSON.stringify(headers));
    t.match(res.headers['www-authenticate'], /^Basic realm=/, 'a browser is asked for the password');
  }
  const byBrowser = await get({ authorization: basic('ops', ADMIN_TOKEN) });
  t.equal(byBrowser.statusCode, 200);
  t.match(byBrowser.headers['content-type'], /^text\/html/);
  t.equal((await get(adminHeaders)).statusCode, 200, 'bearer works too');
  t.equal((await h.app.inject({ method: 'GET', url: '/admin/queues', headers: adminHeaders })).statusCode, 200, 'the queue board, behind the same token');
});

t.test('with ADMIN_TOKEN unset the status page and the queue board refuse everyone', async (t) => {
  const sim = await startSim(t);
  const h = await buildIngestStack(t, sim, { ADMIN_TOKEN: '' }, { workers: false });
  for (const url of ['/admin', '/admin/queues', '/admin/queues/api/queues']) {
    const res = await h.app.inject({ method: 'GET', url, headers: { authorization: basic('ops', ADMIN_TOKEN) } });
    t.equal(res.statusCode, 403, url);
    t.equal(res.json().error, 'ADMIN_DISABLED', url);
  }
});

t.test('the page lists each tenant with its status, escaped, and pages by 200', async (t) => {
  const h = await buildTestApp(t);
  const id = await h.createTenant({ api_key: 'k-status' }, 'Acme <script>alert(1)</script>');
  await h.push(id, [
    { id: '1', name: 'Jane', phones: ['+15555555555'] },
    { id: '2', name: 'John', phones: ['+15555555556'] },
    { id: '3', name: 'Gone', phones: ['+15555555557'] },
  ]);
  await h.push(id, [{ id: '3', deleted: true }]);

  const res = await h.app.inject({ method: 'GET', url: '/admin', headers: adminHeaders });
  t.equal(res.statusCode, 200);
  const html = res.body;
  t.match(html, `data-tenant-id="${id}"`);
  t.match(html, 'Acme &lt;script&gt;alert(1)&lt;/script&gt;', 'the name is escaped');
  t.notMatch(html, '<script>alert(1)', 'and never raw');
  t.match(html, /class="badge active">active</);
  t.match(html, 'fed through the admin API', 'the status says what it means');
  t.match(html, /<td class="num">2<\/td>\s*<td class="num">1<\/td>/, 'two live, one tombstoned');
  t.match(html, 'n/a (pushed)', 'a pushed tenant has no ingest lag');
  for (const link of ['href="/docs"', 'data-action="pause"']) t.match(html, link);
  t.notMatch(html, 'href="/metrics"', 'no link to /metrics, which this port does not serve without METRICS_TOKEN');
  t.notMatch(html, 'data-action="resync"', 'nothing to resync a pushed tenant from');
  t.match(html, 'href="/admin/queues"', 'a link to the queue board');
  t.notMatch(html, 'rel="next"', 'one page only');

  // 201 tenants: the first page holds 200 and links to the second.
  await h.database.db.execute(sql`
    INSERT INTO tenants (name, crm, status, backfill_completed_at)
    SELECT 'bulk ' || n, t.crm, t.status, t.backfill_completed_at
    FROM generate_series(1, 200) n, tenants t WHERE t.id = ${id}`);
  const first = await h.app.inject({ method: 'GET', url: '/admin', headers: adminHeaders });
  t.equal(first.body.match(/data-tenant-id=/g)?.length, 200);
  t.match(first.body, '<a href="/admin?page=2" rel="next">');
  const second = await h.app.inject({ method: 'GET', url: '/admin?page=2', headers: adminHeaders });
  t.equal(second.body.match(/data-tenant-id=/g)?.length, 1);
  t.match(second.body, 'href="/admin?page=1"');
  t.equal((await h.app.inject({ method: 'GET', url: '/admin?page=0', headers: adminHeaders })).statusCode, 400);
});

t.test('the queue board shows the ingest queue, behind the same auth as its assets', async (t) => {
  const sim = await startSim(t, { portals: [{ portalId: PORTAL, tokens: [TOKEN], contacts: 30 }] });
  const h = await buildIngestStack(t, sim);
  const get = (url: string, headers: Record<string, string> = {}) => h.app.inject({ method: 'GET', url, headers });

  for (const url of ['/admin/queues', '/admin/queues/api/queues', '/admin/queues/static/favicon-32x32.png']) {
    const res = await get(url);
    t.equal(res.statusCode, 401, url);
    t.match(res.headers['www-authenticate'], /^Basic /, url);
    t.equal(res.json().error, 'ADMIN_UNAUTHORIZED', `${url}: the admin API's error shape`);
  }
  const auth = { authorization: basic('ops', ADMIN_TOKEN) };
  const page = await get('/admin/queues', auth);
  t.equal(page.statusCode, 200);
  t.match(page.body, 'contact-bridge ingest', 'the board has our title');
  t.equal((await get('/admin/queues/static/favicon-32x32.png', auth)).statusCode, 200, 'assets load once authenticated');
  const api = await get('/admin/queues/api/queues', auth);
  t.equal(api.statusCode, 200);
  t.same(api.json().queues.map((q: { name: string }) => q.name), ['ingest']);
  t.equal(api.json().queues[0].readOnlyMode, false, 'retry and clean are allowed');
  const put = (url: string, headers: Record<string, string> = {}) => h.app.inject({ method: 'PUT', url, headers });
  t.equal((await put('/admin/queues/api/queues/ingest/retry/failed')).statusCode, 401, 'retrying wants the token');
  t.equal((await put('/admin/queues/api/queues/ingest/retry/failed', auth)).statusCode, 200, 'and works with it');
  t.equal((await put('/admin/queues/api/queues/ingest/clean/completed', auth)).statusCode, 200, 'so does cleaning');

  const status = await get('/admin', auth);
  t.match(status.body, 'href="/admin/queues"', 'the status page links to the board');
});

const noBrowser = existsSync(CHROMIUM)
  ? false
  : `no Chromium at ${CHROMIUM}: install Debian's chromium package to run the browser test (CI does)`;

t.test('in a real browser: the page lists a tenant and its Pause button pauses it', { skip: noBrowser }, async (t) => {
  const sim = await startSim(t, { portals: [{ portalId: PORTAL, tokens: [TOKEN], contacts: 120 }] });
  const h = await buildIngestStack(t, sim);
  const pushed = await h.createTenant({ api_key: 'k-browser' }, 'Acme pushed');
  const created = await h.app.inject({
    method: 'POST',
    url: '/admin/tenants',
    headers: adminHeaders,
    payload: { name: 'Globex HubSpot', auth: { access_token: TOKEN }, crm: 'hubspot' },
  });
  t.equal(created.statusCode, 201, created.body);
  const id = created.json().id as string;
  const statusOf = async (tenantId: string) =>
    (await h.database.db.execute<{ status: string }>(sql`SELECT status FROM tenants WHERE id = ${tenantId}`)).rows[0]?.status;
  // Paused after its backfill, so that the pause is the only thing changing the status.
  await eventually('the backfill completes', async () => (await statusOf(id)) === 'active');

  await h.app.listen({ port: 0, host: '127.0.0.1' });
  const address = h.app.server.address();
  if (!address || typeof address === 'string') throw new Error('the app has no port');
  const base = `http://127.0.0.1:${address.port}`;

  const browser: Browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  t.teardown(() => browser.close());
  const context = await browser.newContext({ httpCredentials: { username: 'ops', password: ADMIN_TOKEN } });
  const page = await context.newPage();

  const opened = await page.goto(`${base}/admin`);
  t.equal(opened?.status(), 200);
  const row = page.locator(`tr[data-tenant-id="${id}"]`);
  t.equal(await row.locator('.name').textContent(), 'Globex HubSpot');
  t.equal(await page.locator(`tr[data-tenant-id="${pushed}"] .name`).textContent(), 'Acme pushed');
  t.equal(await row.locator('.badge').textContent(), 'active');
  t.equal(await row.locator('button[data-action="resync"]').count(), 1, 'a HubSpot tenant can be resynced');

  // The button's fetch re-sends the page's basic-auth credentials; success reloads the page.
  await Promise.all([page.waitForEvent('load', { timeout: 15_000 }), row.locator('button[data-action="pause"]').click()]);
  t.equal(await statusOf(id), 'paused', 'the tenant is paused');
  t.equal(await row.locator('.badge').textContent(), 'paused', 'the reloaded page says so');
  t.equal(await row.locator('button[data-action="resume"]').count(), 1, 'and offers Resume');
  t.equal(await page.locator('#flash').isVisible(), false, 'no error shown');

  // The board's own page, assets and API all load with the same credentials.
  await page.goto(`${base}/admin/queues`);
  await page.getByText('contact-bridge ingest').first().waitFor({ timeout: 15_000 });
  t.pass('the queue board renders in the browser');
});

t.test("in a real browser: a tenant's search box finds a contact and says why a caller was or was not identified", { skip: noBrowser }, async (t) => {
  const h = await buildTestApp(t);
  const tenant = await h.createTenant({ api_key: 'k-browser-search' }, 'Search <b>Inc</b>');
  await h.push(tenant, [
    { id: 'short', name: 'Short Number', phones: ['555-0142'] },
    { id: 'ny', name: 'José García', phones: ['(212) 555-0142'], emails: ['jose@example.com'] },
    { id: 'gone', name: 'Gone Person', phones: ['+14155550100'] },
  ]);
  await h.push(tenant, [{ id: 'gone', deleted: true }]);
  const base = await h.app.listen({ port: 0, host: '127.0.0.1' });

  const browser: Browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  t.teardown(() => browser.close());
  const context = await browser.newContext({ httpCredentials: { username: 'ops', password: ADMIN_TOKEN } });
  const page = await context.newPage();
  // Chromium reports what a Content-Security-Policy blocks on the console.
  const refused: string[] = [];
  page.on('console', (m) => {
    if (/Refused to/i.test(m.text())) refused.push(m.text());
  });

  await page.goto(`${base}/admin`);
  const box = page.locator(`tr[data-tenant-id="${tenant}"] form.search input[name="term"]`);
  await box.fill('555-0142');
  const [answer] = await Promise.all([page.waitForEvent('response', (r) => r.url().includes('/search?')), box.press('Enter')]);
  t.equal(answer.status(), 200);
  t.match(String(answer.headers()['content-security-policy']), /frame-ancestors 'none'/, 'the results page keeps the security headers');
  await page.locator('article.contact').first().waitFor();
  const short = page.locator('article[data-contact-id="short"]');
  t.match(
    await short.locator('ul.verdicts').textContent(),
    "this number is stored as '555-0142' and does not parse as a phone in region US; Talkdesk may not match it",
  );
  t.equal(await short.locator('table.phones td').first().textContent(), '555-0142', 'the phone as stored');
  t.match(await short.locator('table.phones').textContent(), 'does not parse');
  t.equal(await short.locator('table.copies tr').count(), 2, 'one Talkdesk copy');
  t.match(await short.locator('table.copies').textContent(), 'not sent');

  await page.locator('main form.search input').fill('+1 (212) 555 0142');
  await Promise.all([page.waitForURL(/term=/), page.locator('main form.search button').click()]);
  const ny = page.locator('article[data-contact-id="ny"]');
  t.equal(await ny.locator('h2').textContent().then((s) => s?.trim()), 'José García');
  t.match(await ny.locator('table.phones').textContent(), '+12125550142', 'the phone as normalized beside it');
  t.match(await ny.locator('table.timeline').textContent(), /admin_push\s*name, emails, phones/, 'its timeline');
  t.equal(await page.locator('article[data-contact-id="short"]').count(), 1, "a number stored without its area code is found by the caller's full number");

  await page.locator('main form.search input').fill('gone');
  await Promise.all([page.waitForURL(/term=gone/), page.locator('main form.search button').click()]);
  const gone = page.locator('article[data-contact-id="gone"]');
  t.equal(await gone.locator('h2 .badge').textContent(), 'deleted', 'a deleted contact is found and flagged');
  t.match(await gone.locator('ul.verdicts').textContent(), 'still has it until its next full sync');

  await page.locator('main form.search input').fill('!!');
  await Promise.all([page.waitForURL(/term=/), page.locator('main form.search button').click()]);
  t.match(await page.locator('p.error').textContent(), 'has no digit to search by', 'a query with nothing to search by is explained');
  t.same(refused, [], 'no script or style refused by the policy');
});
