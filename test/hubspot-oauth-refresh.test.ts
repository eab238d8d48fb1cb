import t from 'tap';
import { Writable } from 'node:stream';
import { sql } from 'drizzle-orm';
import { pino } from 'pino';
import { Client } from '@hubspot/api-client';
import { createDatabase } from '../src/db/client.js';
import { hubspotApp } from '../src/connect/hubspot-app.js';
import { decryptCredentials } from '../src/tenants/credential-cipher.js';
import { bindingOf } from '../src/tenants/credentials.js';
import { connectionAccessToken } from '../src/tenants/oauth-connections.js';
import { getTenant } from '../src/tenants/repository.js';
import { buildIngestStack, eventually, startSim } from './helpers/ingest.js';
import { connect, HUBSPOT_APP, oauthEnv } from './helpers/oauth-connect.js';
import { syncRun } from './helpers/talkdesk.js';

/**
 * The workers hold an OAuth connection's tokens: they refresh them before expiry, once across
 * processes, and a refused refresh says to reconnect. A Talkdesk-managed token that expires is
 * token_expired: expected, served from the mirror, healed by Talkdesk's next token.
 */

const PORTAL = 9401;

async function tenantRow(h: { database: { db: any } }) {
  const { rows } = await h.database.db.execute(sql`
    SELECT t.id, t.status, s.last_error FROM tenants t LEFT JOIN ingest_state s ON s.tenant_id = t.id`);
  return rows[0] as { id: string; status: string; last_error: string | null } | undefined;
}

const names = async (h: any, auth: Record<string, unknown>) => (await syncRun(h.sync, auth)).contacts.map((c) => c.name);

t.test('tokens that expire every few seconds: two worker processes refresh them once each time, and ingest never stops', async (t) => {
  const sim = await startSim(t, { portals: [{ portalId: PORTAL, tokens: ['pat-na1-x'], contacts: 10 }], apps: [HUBSPOT_APP], accessTokenTtlSeconds: 4 });
  const h = await buildIngestStack(t, sim, oauthEnv(sim.url));
  await h.startMoreWorkers();
  const key = await connect(h);
  await eventually('the backfill completes', async () => (await tenantRow(h))?.status === 'active', 20_000);

  const refreshesBefore = sim.control.oauth.stats().refreshes;
  const started = Date.now();
  const ids = sim.control.liveContacts({ portalId: PORTAL }).map((c) => c.id);
  // An edit a second for about 7 s (two refreshes at least): each reaches the mirror.
  for (let i = 0; i < 7; i++) {
    sim.control.editContact(ids[i % ids.length]!, { firstname: `Edit${i}`, lastname: 'Now' }, { portalId: PORTAL });
    await eventually(`edit ${i} reaches the mirror`, async () => (await names(h, { connection_key: key })).includes(`Edit${i} Now`), 15_000);
    await new Promise((r) => setTimeout(r, Math.max(0, started + (i + 1) * 1000 - Date.now())));
  }
  const elapsed = Date.now() - started;
  const refreshes = sim.control.oauth.stats().refreshes - refreshesBefore;
  t.ok(refreshes >= 1, `the tokens were refreshed (${refreshes} in ${elapsed} ms)`);
  // One refresh per token lifetime less its margin (3 s of 4): two processes refreshing each
  // time, or on every pass, would be several times more.
  t.ok(refreshes <= Math.ceil(elapsed / 3000) + 1, `no double refresh (${refreshes} in ${elapsed} ms)`);
  const row = await tenantRow(h);
  t.equal(row?.status, 'active');
  t.equal(row?.last_error, null, 'no ingest error on the way');
});

t.test('processes that all find the token expired at once refresh it once, and all use the one new token', async (t) => {
  const sim = await startSim(t, { portals: [{ portalId: PORTAL, tokens: ['pat-na1-x'], contacts: 1 }], apps: [HUBSPOT_APP] });
  const h = await buildIngestStack(t, sim, oauthEnv(sim.url), { workers: false });
  await connect(h);
  const tenant = (await getTenant(h.database.db, (await tenantRow(h))!.id))!;
  const app = hubspotApp(h.config)!;
  // A second pool on the same database: another process, as far as PostgreSQL can tell.
  const other = createDatabase({ url: h.database.url, max: 4 });
  t.teardown(() => other.close());
  const current = await connectionAccessToken(h.database.db, h.runtime.keys, app.refresher, tenant);
  const before = sim.control.oauth.stats().refreshes;
  const tokens = await Promise.all(
    [h.database.db, other.db, h.database.db, other.db, other.db].map((db) => connectionAccessToken(db, h.runtime.keys, app.refresher, tenant, { expired: current })),
  );
  t.equal(sim.control.oauth.stats().refreshes - before, 1, 'one refresh');
  t.equal(new Set(tokens).size, 1, 'every caller got the same token');
  t.not(tokens[0], current, 'a new one');
  t.equal(await connectionAccessToken(other.db, h.runtime.keys, app.refresher, tenant), tokens[0], 'and it is what is stored');
});

t.test('a revoked refresh token: credentials_failed with a reason that says to reconnect, and reconnecting heals it', async (t) => {
  const sim = await startSim(t, { portals: [{ portalId: PORTAL, tokens: ['pat-na1-x'], contacts: 5 }], apps: [HUBSPOT_APP], accessTokenTtlSeconds: 4 });
  const h = await buildIngestStack(t, sim, oauthEnv(sim.url));
  const key = await connect(h);
  await eventually('the backfill completes', async () => (await tenantRow(h))?.status === 'active', 20_000);
  const tenant = (await getTenant(h.database.db, (await tenantRow(h))!.id))!;
  const [stored] = (await h.database.db.execute<{ secret: string }>(sql`SELECT secret FROM oauth_connections`)).rows;
  const { refresh_token } = decryptCredentials(h.runtime.keys, stored!.secret, bindingOf(tenant)) as { refresh_token: string };
  t.ok(sim.control.oauth.revokeRefreshToken(refresh_token), 'the customer revokes the refresh token');

  await eventually('the tenant is credentials_failed', async () => (await tenantRow(h))?.status === 'credentials_failed', 20_000);
  const row = await tenantRow(h);
  t.match(row?.last_error, /reconnect the portal at https:\/\/bridge\.example\.com\/connect\/hubspot/);
  const [credential] = (await h.database.db.execute<{ status: string; failure: string }>(sql`SELECT status, failure FROM credentials`)).rows;
  t.match(credential, { status: 'failed', failure: /reconnect/ });
  t.equal((await h.sync({ auth: { connection_key: key }, meta: {} })).statusCode, 401, 'syncs with the key are refused meanwhile');
  t.match(sim.control.oauth.stats().refused, { BAD_REFRESH_TOKEN: 1 }, 'asked HubSpot once; then the refusal is known');

  const second = await connect(h);
  await eventually('the tenant works again', async () => (await tenantRow(h))?.status === 'active', 20_000);
  for (const k of [key, second]) t.equal((await h.sync({ auth: { connection_key: k }, meta: {} })).statusCode, 200, 'every key works again');
  const [id] = sim.control.liveContacts({ portalId: PORTAL }).map((c) => c.id);
  sim.control.editContact(id!, { firstname: 'After', lastname: 'Reconnect' }, { portalId: PORTAL });
  await eventually('ingest resumes', async () => (await names(h, { connection_key: second })).includes('After Reconnect'), 20_000);
});

t.test('a Talkdesk-managed OAuth token that expires: token_expired, expected, served from the mirror, healed by the next token', async (t) => {
  const sim = await startSim(t, { portals: [{ portalId: PORTAL, tokens: ['pat-na1-x'], contacts: 5 }], apps: [HUBSPOT_APP], accessTokenTtlSeconds: 5 });
  const lines: Array<{ level: number; msg: string }> = [];
  const logger = pino({ level: 'info' }, new Writable({ write: (chunk, _e, done) => (lines.push(JSON.parse(String(chunk))), done()) }));
  // No app configured on the bridge: Talkdesk holds the OAuth token and sends it with each call.
  const h = await buildIngestStack(t, sim, {}, { overrides: { logger } });
  const client = new Client({ basePath: sim.url, numberOfApiCallRetries: 0 });
  const redirect = 'https://talkdesk.example.com/oauth/callback';
  const approved = await fetch(`${sim.url}/oauth/authorize?${new URLSearchParams({ client_id: HUBSPOT_APP.clientId, redirect_uri: redirect, scope: 'crm.objects.contacts.read' })}`, { redirect: 'manual' });
  const code = new URL(approved.headers.get('location')!).searchParams.get('code')!;
  const tokens = await client.oauth.tokensApi.create('authorization_code', code, redirect, HUBSPOT_APP.clientId, HUBSPOT_APP.clientSecret);

  t.equal((await h.sync({ auth: { access_token: tokens.accessToken }, meta: {} })).statusCode, 200, 'onboarded with the token');
  await eventually('the tenant is token_expired once HubSpot reports the token expired', async () => (await tenantRow(h))?.status === 'token_expired', 20_000);
  const row = await tenantRow(h);
  t.equal(row?.last_error, null, 'not recorded as an error');
  const [credential] = (await h.database.db.execute<{ status: string; failure: string | null }>(sql`SELECT status, failure FROM credentials`)).rows;
  t.same(credential, { status: 'expired', failure: null }, 'the credential is expired, not failed');
  const requests = sim.control.stats().requests;
  const served = await syncRun(h.sync, { access_token: tokens.accessToken });
  t.equal(served.contacts.length, 5, 'syncs with the expired token are answered from the mirror');
  t.equal(sim.control.stats().requests, requests, 'without asking HubSpot');
  t.same(lines.filter((l) => l.level >= 40).map((l) => l.msg), [], 'no warning or error logged');
  const status = await h.app.inject({ method: 'GET', url: '/admin', headers: { authorization: 'Bearer test-admin-token-0123456789' } });
  t.match(status.body, /token_expired/, 'the status page shows it');

  // Talkdesk refreshed its token and calls with the fresh one: it verifies, and ingest resumes.
  const fresh = await client.oauth.tokensApi.create('refresh_token', undefined, undefined, HUBSPOT_APP.clientId, HUBSPOT_APP.clientSecret, tokens.refreshToken);
  const [id] = sim.control.liveContacts({ portalId: PORTAL }).map((c) => c.id);
  sim.control.editContact(id!, { firstname: 'Fresh', lastname: 'Token' }, { portalId: PORTAL });
  t.equal((await h.sync({ auth: { access_token: fresh.accessToken }, meta: {} })).statusCode, 200);
  t.equal((await tenantRow(h))?.status, 'active', 'back to work');
  await eventually('ingest resumes', async () => (await names(h, { access_token: fresh.accessToken })).includes('Fresh Token'), 5_000);
});
