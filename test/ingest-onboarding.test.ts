import t from 'tap';
import { sql } from 'drizzle-orm';
import { mapHubSpotContact } from '../src/crm/hubspot/mapping.js';
import type { SimControl } from '../harness/hubspot-sim/control.js';
import { adminHeaders } from './helpers/app.js';
import { buildIngestStack, eventually, startSim } from './helpers/ingest.js';
import { syncRun } from './helpers/talkdesk.js';

const PORTAL = 62515;
const TOKEN = 'pat-na1-onboarding';

/** What Talkdesk should hold: the simulator's live contacts, mapped exactly as the bridge maps them. */
function expected(control: SimControl, portalId = PORTAL) {
  return new Map(
    control
      .liveContacts({ portalId })
      .map((c) => [c.id, mapHubSpotContact(c, { portalId, defaultRegion: 'US' })]),
  );
}

t.test('a token seen for the first time is onboarded: backfill, then a full sync equals the CRM', async (t) => {
  const sim = await startSim(t, { portals: [{ portalId: PORTAL, tokens: [TOKEN], contacts: 1200 }] });
  const h = await buildIngestStack(t, sim, { SYNC_PAGE_SIZE: '250' });
  const auth = { access_token: TOKEN };

  const first = await h.sync({ auth, meta: {} });
  t.equal(first.statusCode, 200, 'an unknown but valid token is accepted at once');
  t.equal(first.body.synchronization_checkpoint, undefined, 'no checkpoint while the backfill runs');

  const [tenant] = (await h.database.db.execute<{ id: string; name: string; crm_account_id: string }>(
    sql`SELECT id, name, crm_account_id FROM tenants`,
  )).rows;
  t.match(tenant, { name: `HubSpot ${PORTAL}`, crm_account_id: String(PORTAL) }, 'keyed by the portal');

  await eventually('the backfill completes', async () => {
    const { rows } = await h.database.db.execute<{ done: boolean }>(
      sql`SELECT backfill_completed_at IS NOT NULL AS done FROM tenants`,
    );
    return rows[0]!.done;
  });
  const run = await syncRun(h.sync, auth);
  t.type(run.checkpoint, 'string', 'a checkpoint once the backfill is complete');
  t.same(new Map(run.contacts.map((c) => [c.id, c])), expected(sim.control), 'field for field');

  const { rows } = await h.database.db.execute<{ backfill_pages: number; backfill_contacts: number; last_success_at: string | null }>(
    sql`SELECT backfill_pages, backfill_contacts, last_success_at::text FROM ingest_state`,
  );
  t.match(rows[0], { backfill_pages: 12, backfill_contacts: 1200 }, 'progress is recorded page by page');
  t.ok(rows[0]!.last_success_at);
});

t.test('POST /auth_validation onboards valid credentials and refuses bad ones', async (t) => {
  const sim = await startSim(t, { portals: [{ portalId: PORTAL, tokens: [TOKEN], contacts: 50 }] });
  const h = await buildIngestStack(t, sim);
  const validate = (auth: unknown) => h.app.inject({ method: 'POST', url: '/auth_validation', payload: { auth } });

  const ok = await validate({ access_token: TOKEN });
  t.equal(ok.statusCode, 204);
  const { rows } = await h.database.db.execute<{ n: string }>(sql`SELECT count(*) AS n FROM tenants`);
  t.equal(rows[0]!.n, '1', 'the tenant exists before any contact sync');
  await eventually('the backfill runs from activation', async () => {
    const r = await h.database.db.execute<{ n: string }>(sql`SELECT count(*) AS n FROM contacts`);
    return r.rows[0]!.n === '50';
  });

  const bad = await validate({ access_token: 'not-a-token' });
  t.equal(bad.statusCode, 401);
  t.equal(bad.json().error, 'UNKNOWN_CREDENTIALS');
  t.equal((await validate({ api_key: 'no access_token field' })).statusCode, 401);
  t.equal((await validate('nope')).statusCode, 400);
  t.equal((await h.sync({ auth: { access_token: 'not-a-token' }, meta: {} })).statusCode, 401);
});

t.test('a failed verification is remembered for a minute; an unreachable CRM is a 503, never remembered', async (t) => {
  const sim = await startSim(t, { portals: [{ portalId: PORTAL, tokens: [TOKEN] }] });
  const h = await buildIngestStack(t, sim);
  sim.control.resetStats();

  for (let i = 0; i < 5; i++) t.equal((await h.sync({ auth: { access_token: 'bad' }, meta: {} })).statusCode, 401);
  t.equal(sim.control.stats().requests, 1, 'five bad attempts, one CRM call');

  sim.control.failNext({ count: 1, status: 502 });
  const down = await h.sync({ auth: { access_token: TOKEN }, meta: {} });
  t.equal(down.statusCode, 503);
  t.equal(down.body.error, 'CRM_UNAVAILABLE');
  t.ok(down.headers['retry-after'], 'with Retry-After');
  sim.control.rateLimitNext({ count: 1, retryAfterSeconds: 1 });
  t.equal((await h.sync({ auth: { access_token: TOKEN }, meta: {} })).statusCode, 503, 'a 429 during verification too');
  t.equal((await h.sync({ auth: { access_token: TOKEN }, meta: {} })).statusCode, 200, 'and neither was cached as invalid');
});

t.test('unknown-credential attempts are limited per client, known credentials never', async (t) => {
  const sim = await startSim(t, { portals: [{ portalId: PORTAL, tokens: [TOKEN] }] });
  // The per-client attempt limit under test, not the verification budget shared by all unknown
  // tokens (20 per 10 s by default; test/hubspot-verify.test.ts): room for the 30 guesses.
  const h = await buildIngestStack(t, sim, { HUBSPOT_VERIFY_TEN_SECOND_LIMIT: '1000' });
  const known = { token: 'pushed' };
  await h.createTenant(known);
  const from = (remoteAddress: string, url: string, auth: unknown) =>
    h.app.inject({ method: 'POST', url, remoteAddress, payload: url === '/auth_validation' ? { auth } : { auth, meta: {} } });

  // Known credentials never count: a long Talkdesk run first leaves the budget untouched.
  for (let i = 0; i < 40; i++) t.equal((await from('10.0.0.1', '/contact_sync', known)).statusCode, 200);
  const statuses: number[] = [];
  for (let i = 0; i < 30; i++) statuses.push((await from('10.0.0.1', i % 2 ? '/auth_validation' : '/contact_sync', { access_token: `guess-${i}` })).statusCode);
  t.same(statuses, Array(30).fill(401), 'thirty guesses a minute, through either endpoint');

  const limited = await from('10.0.0.1', '/contact_sync', { access_token: 'guess-31' });
  t.equal(limited.statusCode, 429, 'past 30 a minute: 429');
  t.match(limited.json(), { error: 'TOO_MANY_ATTEMPTS', message: String });
  const retryAfter = Number(limited.headers['retry-after']);
  t.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, `Retry-After within the window (${retryAfter})`);
  t.equal((await from('10.0.0.1', '/auth_validation', { access_token: 'guess-32' })).statusCode, 429, 'auth validation shares the budget');
  t.equal((await from('10.0.0.1', '/contact_sync', { access_token: TOKEN })).statusCode, 429, 'even a valid token it has not seen yet');

  for (let i = 0; i < 40; i++) t.equal((await from('10.0.0.1', '/contact_sync', known)).statusCode, 200, 'a known tenant is not throttled');
  t.equal((await from('10.0.0.2', '/contact_sync', { access_token: 'guess-from-elsewhere' })).statusCode, 401, 'another client has its own budget');
});

t.test('a rotated token maps to the same tenant, and its checkpoint keeps working', async (t) => {
  const sim = await startSim(t, { portals: [{ portalId: PORTAL, tokens: [TOKEN, 'pat-rotated'], contacts: 30 }] });
  const h = await buildIngestStack(t, sim);
  await h.app.inject({ method: 'POST', url: '/auth_validation', payload: { auth: { access_token: TOKEN } } });
  await eventually('backfill', async () => (await syncRun(h.sync, { access_token: TOKEN })).checkpoint !== undefined);
  const before = await syncRun(h.sync, { access_token: TOKEN });

  const rotated = { access_token: 'pat-rotated' };
  const inc = await syncRun(h.sync, rotated, before.checkpoint);
  t.same(inc.contacts, [], "the old token's checkpoint is valid with the new token");
  t.type(inc.checkpoint, 'string');
  const { rows } = await h.database.db.execute<{ n: string }>(sql`SELECT count(*) AS n FROM tenants`);
  t.equal(rows[0]!.n, '1', 'no second tenant');
});

t.test('a revoked token stops ingest and the sync answers 401 until valid credentials arrive', async (t) => {
  const sim = await startSim(t, { portals: [{ portalId: PORTAL, tokens: [TOKEN, 'pat-new'], contacts: 20 }] });
  const h = await buildIngestStack(t, sim);
  const auth = { access_token: TOKEN };
  await h.sync({ auth, meta: {} });
  await eventually('backfill', async () => (await syncRun(h.sync, auth)).checkpoint !== undefined);

  sim.control.revokeToken(TOKEN);
  sim.control.editContact(sim.control.liveContacts()[0]!.id, { firstname: 'Changed' });
  await eventually('the tenant is marked credentials_failed', async () => {
    const { rows } = await h.database.db.execute<{ status: string }>(sql`SELECT status FROM tenants`);
    return rows[0]!.status === 'credentials_failed';
  });
  const schedulers = await h.workers!.queue.getJobSchedulers();
  t.same(schedulers, [], 'its schedule is removed');
  const res = await h.sync({ auth, meta: {} });
  t.equal(res.statusCode, 401);
  const { rows } = await h.database.db.execute<{ n: string }>(sql`SELECT count(*) AS n FROM contacts`);
  t.equal(rows[0]!.n, '20', 'the mirror is kept');

  const again = await h.sync({ auth: { access_token: 'pat-new' }, meta: {} });
  t.equal(again.statusCode, 200, 'credentials that verify reactivate it');
  const { rows: after } = await h.database.db.execute<{ status: string }>(sql`SELECT status FROM tenants`);
  t.equal(after[0]!.status, 'active');
  await eventually('ingest resumes', async () => {
    const run = await syncRun(h.sync, { access_token: 'pat-new' });
    return run.contacts.some((c) => String(c.name).startsWith('Changed'));
  });
});

t.test('operators can pre-register a HubSpot tenant', async (t) => {
  const sim = await startSim(t, { portals: [{ portalId: PORTAL, tokens: [TOKEN], contacts: 10 }] });
  const h = await buildIngestStack(t, sim);
  const res = await h.app.inject({
    method: 'POST',
    url: '/admin/tenants',
    headers: adminHeaders,
    payload: { name: 'Acme (HubSpot)', auth: { access_token: TOKEN }, crm: 'hubspot' },
  });
  t.equal(res.statusCode, 201);
  const { rows } = await h.database.db.execute<{ name: string; status: string }>(sql`SELECT name, status FROM tenants`);
  t.match(rows[0], { name: 'Acme (HubSpot)' });
  const bad = await h.app.inject({
    method: 'POST',
    url: '/admin/tenants',
    headers: adminHeaders,
    payload: { name: 'x', auth: { access_token: 'wrong' }, crm: 'hubspot' },
  });
  t.equal(bad.statusCode, 401);
});
