import t, { type Test } from 'tap';
import { existsSync } from 'node:fs';
import { sql } from 'drizzle-orm';
import { chromium, type Browser } from 'playwright-core';
import { loadConfig } from '../src/config.js';
import { issueState } from '../src/connect/oauth-state.js';
import { hubspotApp } from '../src/connect/hubspot-app.js';
import { authDigest } from '../src/tenants/auth-digest.js';
import { connectionAccessToken } from '../src/tenants/oauth-connections.js';
import { getTenant } from '../src/tenants/repository.js';
import { rewriteAllUnderCurrentSecret } from '../src/tenants/secret-rotation.js';
import { adminHeaders, buildTestRuntime, testEnv } from './helpers/app.js';
import { buildIngestStack, eventually, startSim, type Sim } from './helpers/ingest.js';
import { connect, connectionKeyOf, HUBSPOT_APP, oauthEnv, startConnection } from './helpers/oauth-connect.js';
import { syncRun } from './helpers/talkdesk.js';
import { freePort } from '../harness/free-port.js';

/**
 * Connecting a HubSpot portal through the bridge's app: the pages (in a real browser too), the
 * connection key Talkdesk then syncs with, and the state's defences, each written as the attack.
 */

const PORTAL = 9301;
const CHROMIUM = '/usr/bin/chromium';

const simWithApp = (t: Test, contacts = 5) => startSim(t, { portals: [{ portalId: PORTAL, tokens: ['pat-na1-private'], contacts }], apps: [HUBSPOT_APP] });

async function counts(h: { database: { db: any } }) {
  const { rows } = await h.database.db.execute(sql`
    SELECT (SELECT count(*)::int FROM tenants) AS tenants, (SELECT count(*)::int FROM credentials) AS credentials,
           (SELECT count(*)::int FROM oauth_connections) AS connections`);
  return rows[0] as { tenants: number; credentials: number; connections: number };
}

t.test('HUBSPOT_CLIENT_ID needs its secret and PUBLIC_URL; without it the OAuth routes are 404', async (t) => {
  const base = await testEnv({ url: 'postgres://x@127.0.0.1/x' });
  t.throws(() => loadConfig({ ...base, HUBSPOT_CLIENT_ID: 'id', PUBLIC_URL: 'https://b.example.com' }), /HUBSPOT_CLIENT_SECRET is not set/);
  t.throws(() => loadConfig({ ...base, HUBSPOT_CLIENT_ID: 'id', HUBSPOT_CLIENT_SECRET: 's' }), /PUBLIC_URL is not set/);
  t.match(loadConfig(base), { HUBSPOT_SCOPES: 'crm.objects.contacts.read', HUBSPOT_AUTHORIZE_URL: 'https://app.hubspot.com/oauth/authorize' });

  const sim = await simWithApp(t);
  const h = await buildIngestStack(t, sim, {}, { workers: false });
  t.equal((await h.app.inject({ method: 'GET', url: '/connect/hubspot' })).statusCode, 404);
  t.equal((await h.app.inject({ method: 'GET', url: '/connect/hubspot/callback?code=x&state=y' })).statusCode, 404);
  const doc = await h.app.inject({ method: 'GET', url: '/talkdesk/integration.json?crm=hubspot' });
  t.same(doc.json().authentication_fields.map((f: { name: string }) => f.name), ['access_token'], 'the private-app form, as before');
});

t.test('the connect page redirects to the authorize page with a signed state bound to the browser', async (t) => {
  const sim = await simWithApp(t);
  const h = await buildIngestStack(t, sim, oauthEnv(sim.url), { workers: false });
  const res = await h.app.inject({ method: 'GET', url: '/connect/hubspot' });
  t.equal(res.statusCode, 302);
  const to = new URL(String(res.headers.location));
  t.equal(`${to.origin}${to.pathname}`, `${sim.url}/oauth/authorize`);
  t.equal(to.searchParams.get('client_id'), HUBSPOT_APP.clientId);
  t.equal(to.searchParams.get('redirect_uri'), 'https://bridge.example.com/connect/hubspot/callback');
  t.equal(to.searchParams.get('scope'), 'crm.objects.contacts.read');
  t.match(to.searchParams.get('state'), /^v1\.[\w-]{22}\.\d{13}\.[\w-]{43}$/);
  const cookie = String(res.headers['set-cookie']);
  t.match(cookie, /^cb_hubspot_oauth=[\w-]{22}; Path=\/connect\/hubspot; Max-Age=600; HttpOnly; SameSite=Lax; Secure$/, 'HttpOnly, Lax, Secure under an https PUBLIC_URL');
  t.ok(to.searchParams.get('state')!.includes(cookie.split(';')[0]!.split('=')[1]!), 'the cookie holds the state\'s nonce');
  t.match(res.headers['content-security-policy'], /frame-ancestors 'none'/, 'the status page\'s security headers');

  const doc = await h.app.inject({ method: 'GET', url: '/talkdesk/integration.json?crm=hubspot' });
  t.same(doc.json().authentication_fields.map((f: { name: string }) => f.name), ['connection_key'], 'Talkdesk is asked for a connection key');
});

t.test('state attacks are a 400 page with nothing stored and no code exchanged', async (t) => {
  const sim = await simWithApp(t);
  const h = await buildIngestStack(t, sim, oauthEnv(sim.url), { workers: false });
  const callback = (query: string, cookie?: string) =>
    h.app.inject({ method: 'GET', url: `/connect/hubspot/callback?${query}`, headers: cookie ? { cookie } : {} });
  const refused = async (what: string, res: Awaited<ReturnType<typeof callback>>, says: RegExp) => {
    t.equal(res.statusCode, 400, what);
    t.match(res.headers['content-type'], /^text\/html/, `${what}: a page`);
    t.match(res.body, says, `${what}: says why`);
    t.notOk(connectionKeyOf(res.body), `${what}: no key`);
    t.same(await counts(h), { tenants: 0, credentials: 0, connections: 0 }, `${what}: nothing stored`);
  };

  const a = await startConnection(h);
  const code = encodeURIComponent(a.code);
  await refused('no state', await callback(`code=${code}`, a.cookie), /no valid state/);
  await refused('no cookie', await callback(`code=${code}&state=${encodeURIComponent(a.state)}`), /another browser/);
  const [payload] = a.state.split(/\.(?=[^.]+$)/);
  await refused('a forged signature', await callback(`code=${code}&state=${encodeURIComponent(`${payload}.${'A'.repeat(43)}`)}`, a.cookie), /no valid state/);
  const longer = a.state.replace(/\.(\d{13})\./, (_m, exp: string) => `.${Number(exp) + 3_600_000}.`);
  await refused('a state whose expiry was pushed back', await callback(`code=${code}&state=${encodeURIComponent(longer)}`, a.cookie), /no valid state/);
  const b = await startConnection(h);
  await refused("another browser's cookie", await callback(`code=${code}&state=${encodeURIComponent(a.state)}`, b.cookie), /another browser/);
  const old = issueState(h.runtime.keys, Date.now() - 11 * 60_000);
  await refused('an expired state', await callback(`code=${code}&state=${encodeURIComponent(old.state)}`, `cb_hubspot_oauth=${old.nonce}`), /too long/);
  await refused('HubSpot says the user declined', await callback(`error=access_denied&state=${encodeURIComponent(a.state)}`, a.cookie), /did not approve/);
  await refused('an absurdly long code', await callback(`code=${'x'.repeat(5000)}&state=${encodeURIComponent(a.state)}`, a.cookie), /not one this bridge made/);
  await refused('a code in the wrong shape (an array)', await callback(`code=a&code=b&state=${encodeURIComponent(a.state)}`, a.cookie), /not one this bridge made|no authorization code|refused/);
  t.equal(sim.control.oauth.stats().codeExchanges, 0, 'no code was ever exchanged');

  const ok = await callback(a.callback.split('?')[1]!, a.cookie);
  t.equal(ok.statusCode, 200, ok.body);
  t.match(ok.headers['cache-control'], 'no-store');
  t.match(ok.headers['content-security-policy'], /default-src 'self'/);
  t.ok(connectionKeyOf(ok.body));
  t.match(String(ok.headers['set-cookie']), /^cb_hubspot_oauth=; .*Max-Age=0/, 'the cookie is cleared');
  const after = await counts(h);
  t.same(after, { tenants: 1, credentials: 1, connections: 1 });

  const replay = await callback(a.callback.split('?')[1]!, a.cookie);
  t.equal(replay.statusCode, 400, 'a replayed state');
  t.match(replay.body, /already used/);
  t.same(await counts(h), after, 'nothing more stored');
  t.equal(sim.control.oauth.stats().codeExchanges, 1, 'and no second exchange');
});

t.test('a connection key syncs with no CRM call; connecting again issues another, and both work until revoked', async (t) => {
  const sim = await simWithApp(t);
  const h = await buildIngestStack(t, sim, oauthEnv(sim.url), { workers: false });
  const before = sim.control.stats().requests;
  const key = await connect(h);
  t.match(key, /^ck_[\w-]{43}$/, '256 random bits');
  const [row] = (await h.database.db.execute<{ id: string; crm_account_id: string; status: string }>(sql`SELECT id, crm_account_id, status FROM tenants`)).rows;
  t.match(row, { crm_account_id: String(PORTAL), status: 'backfilling' });

  // The key and the tokens are stored nowhere in the clear.
  const dump = JSON.stringify((await h.database.db.execute(sql`SELECT * FROM credentials`)).rows) + JSON.stringify((await h.database.db.execute(sql`SELECT * FROM oauth_connections`)).rows);
  t.notOk(dump.includes(key), 'the connection key is not stored');
  t.notOk(dump.includes(key.slice(3, 20)), 'not even a part of it');

  const first = await h.sync({ auth: { connection_key: key }, meta: {} });
  t.equal(first.statusCode, 200, JSON.stringify(first.body));
  t.equal((await h.sync({ auth: { connection_key: key }, meta: {} })).statusCode, 200);
  t.equal((await h.app.inject({ method: 'POST', url: '/auth_validation', payload: { auth: { connection_key: key } } })).statusCode, 204, 'auth validation too');
  t.equal(sim.control.stats().requests, before, 'no HubSpot call for any of it');

  const unknown = await h.sync({ auth: { connection_key: `ck_${'A'.repeat(43)}` }, meta: {} });
  t.equal(unknown.statusCode, 401, 'an unknown key');
  t.equal(unknown.body.error, 'UNKNOWN_CREDENTIALS');
  t.equal(sim.control.stats().requests, before, 'refused without a CRM call');

  const second = await connect(h);
  t.not(second, key, 'connecting again issues a new key');
  t.equal(sim.control.oauth.stats().codeExchanges, 2);
  t.equal((await h.database.db.execute(sql`SELECT count(*)::int AS n FROM tenants`)).rows[0]!.n, 1, 'the same tenant');
  for (const k of [key, second]) t.equal((await h.sync({ auth: { connection_key: k }, meta: {} })).statusCode, 200, 'each key works');

  const detail = await h.app.inject({ method: 'GET', url: `/admin/tenants/${row!.id}`, headers: adminHeaders });
  const creds = detail.json().credentials as Array<{ id: string; label: string; status: string }>;
  t.equal(creds.length, 2, 'the operator sees both keys');
  for (const c of creds) t.match(c.label, /^connection_key #[0-9a-f]{8}$/);
  t.notOk(detail.body.includes(key) || detail.body.includes(second), 'never their values');
  const status = await h.app.inject({ method: 'GET', url: '/admin', headers: adminHeaders });
  t.match(status.body, /connection_key #/, 'the status page lists them');

  const revoked = await h.app.inject({ method: 'DELETE', url: `/admin/tenants/${row!.id}/credentials/${creds[0]!.id}`, headers: adminHeaders });
  t.equal(revoked.statusCode, 204, revoked.body);
  t.equal((await h.sync({ auth: { connection_key: key }, meta: {} })).statusCode, 401, 'the revoked key is refused');
  t.equal((await h.sync({ auth: { connection_key: second }, meta: {} })).statusCode, 200, 'the other still works');
});

const noBrowser = existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM}: install Debian's chromium package to run the browser test (CI does)`;


async function browserStack(t: Test, sim: Sim) {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const h = await buildIngestStack(t, sim, { ...oauthEnv(sim.url, base), PORT: String(port), HOST: '127.0.0.1' });
  await h.app.listen({ port, host: '127.0.0.1' });
  return { h, base };
}

t.test('in a real browser: connect through the OAuth pages, then Talkdesk syncs with the connection key', { skip: noBrowser }, async (t) => {
  const sim = await simWithApp(t, 12);
  const { h, base } = await browserStack(t, sim);
  const browser: Browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  t.teardown(() => browser.close());
  const page = await (await browser.newContext()).newPage();

  // The bridge, HubSpot's authorize page (which approves at once) and back.
  const shown = await page.goto(`${base}/connect/hubspot`);
  t.equal(shown?.status(), 200);
  t.equal(new URL(page.url()).pathname, '/connect/hubspot/callback', 'back at the callback');
  t.equal(await page.locator('h1').textContent(), 'HubSpot connected');
  const key = (await page.locator('#connection-key').textContent())!;
  t.match(key, /^ck_[\w-]{43}$/);

  // Reloading the page is a replay of its state: refused, and no second key.
  const again = await page.reload();
  t.equal(again?.status(), 400);
  t.notOk(await page.locator('#connection-key').count(), 'the key is shown once');

  // Talkdesk, with the key: the backfill lands and is served.
  await eventually('the backfill completes', async () => {
    const run = await syncRun(h.sync, { connection_key: key });
    return run.checkpoint !== undefined && run.contacts.length === 12;
  });
  t.pass('the connection key syncs the portal');
  const [tenant] = (await h.database.db.execute<{ status: string }>(sql`SELECT status FROM tenants`)).rows;
  t.equal(tenant!.status, 'active');
});

t.test('unknown connection keys count against the unknown-credential limit, with no CRM call', async (t) => {
  const sim = await simWithApp(t);
  const h = await buildIngestStack(t, sim, oauthEnv(sim.url), { workers: false });
  const statuses: number[] = [];
  for (let i = 0; i < 31; i++) {
    const guess = `ck_${String(i).padStart(43, 'A')}`;
    statuses.push((await h.sync({ auth: { connection_key: guess }, meta: {} })).statusCode);
  }
  t.same(statuses, [...Array(30).fill(401), 429]);
  t.equal(sim.control.stats().requests, 0, 'HubSpot was never asked');
});

t.test('a BRIDGE_SECRET rotation moves connection keys and OAuth connections to the new secret', async (t) => {
  const sim = await simWithApp(t);
  const h = await buildIngestStack(t, sim, oauthEnv(sim.url), { workers: false });
  const key = await connect(h);
  const oldSecret = h.config.BRIDGE_SECRET;
  const rotated = await buildTestRuntime(t, h.database, {
    ...oauthEnv(sim.url),
    ROLE: 'api',
    CRM: 'all',
    HUBSPOT_BASE_URL: sim.url,
    BRIDGE_SECRET: 'rotated-secret-rotated-secret-rotated-0042',
    BRIDGE_SECRET_PREVIOUS: oldSecret,
  });
  const report = await rewriteAllUnderCurrentSecret(h.database.db, rotated.keys);
  t.match(report, { credentials: 2, rewritten: 2, unreadable: [] }, 'the key\'s credential and the connection\'s tokens');
  // The key's value is stored nowhere: its digest moves when Talkdesk sends it.
  const sync = await rotated.app!.inject({ method: 'POST', url: '/contact_sync', payload: { auth: { connection_key: key }, meta: {} } });
  t.equal(sync.statusCode, 200, sync.body);
  const [row] = (await h.database.db.execute<{ digest: Buffer }>(sql`SELECT digest FROM credentials`)).rows;
  t.ok(Buffer.from(row!.digest).equals(authDigest(rotated.keys.authDigest, { connection_key: key })), 'the digest is under the new secret');
  t.match(await rewriteAllUnderCurrentSecret(h.database.db, rotated.keys, { dryRun: true }), { pending: 0, unreadable: [] }, 'nothing left');

  // Without the previous secret, the key and the connection still open.
  const after = await buildTestRuntime(t, h.database, { ...oauthEnv(sim.url), ROLE: 'api', CRM: 'all', HUBSPOT_BASE_URL: sim.url, BRIDGE_SECRET: 'rotated-secret-rotated-secret-rotated-0042' });
  t.equal((await after.app!.inject({ method: 'POST', url: '/contact_sync', payload: { auth: { connection_key: key }, meta: {} } })).statusCode, 200);
  const tenant = (await getTenant(h.database.db, (await h.database.db.execute<{ id: string }>(sql`SELECT id FROM tenants`)).rows[0]!.id))!;
  t.match(await connectionAccessToken(h.database.db, after.keys, hubspotApp(after.config)!.refresher, tenant), /^C/, 'the access token opens');
});
