import t from 'tap';
import { sql } from 'drizzle-orm';
import { adminHeaders } from './helpers/app.js';
import { buildIngestStack, eventually, startSim } from './helpers/ingest.js';
import { syncRun } from './helpers/talkdesk.js';

const PORTAL = 7401;
const AUTH = { access_token: 'pat-modes' };

type Stats = { byEndpoint: Record<string, Record<string, number> | undefined> };
/** Calls that read contacts in bulk (what ingest does), as opposed to verification's. */
const ingestReads = (stats: Stats) =>
  ['contacts.list', 'contacts.search'].reduce((n, e) => n + Object.values(stats.byEndpoint[e] ?? {}).reduce((a, b) => a + b, 0), 0);

t.test('ONBOARDING=approval: a new account waits for an operator, answered 401 and never ingested until approved', async (t) => {
  const sim = await startSim(t, { portals: [{ portalId: PORTAL, tokens: [AUTH.access_token], contacts: 30 }] });
  const h = await buildIngestStack(t, sim, { ONBOARDING: 'approval' });
  const first = await h.sync({ auth: AUTH, meta: {} });
  t.match(first, { statusCode: 401, body: { error: 'AWAITING_APPROVAL' } });
  t.match((await h.app.inject({ method: 'POST', url: '/auth_validation', payload: { auth: AUTH } })).json(), { error: 'AWAITING_APPROVAL' });
  const tenant = (await h.database.db.execute<{ id: string; status: string }>(sql`SELECT id, status FROM tenants`)).rows[0]!;
  t.equal(tenant.status, 'awaiting_approval', 'a tenant awaiting approval');
  // Verification reads one contact to prove access; nothing reads more while the tenant waits.
  const afterVerification = ingestReads(sim.control.stats());
  t.ok(afterVerification <= 2, 'verification read at most one contact per call');
  await new Promise((resolve) => setTimeout(resolve, 2_500)); // a few scheduler rounds
  t.equal(ingestReads(sim.control.stats()), afterVerification, 'no contact read beyond the verification');
  const page = (await h.app.inject({ method: 'GET', url: '/admin', headers: adminHeaders })).body;
  t.match(page, 'data-action="approve"', 'the status page offers to approve it');

  const approved = await h.app.inject({ method: 'POST', url: `/admin/tenants/${tenant.id}/approve`, headers: adminHeaders });
  t.same(approved.json(), { id: tenant.id, status: 'backfilling' });
  await eventually('the backfill completes', async () => (await syncRun(h.sync, AUTH)).checkpoint !== undefined);
  t.equal((await syncRun(h.sync, AUTH)).contacts.length, 30, 'then it syncs');
});

t.test('ONBOARDING=closed: only operators register accounts; their tokens then sync', async (t) => {
  const sim = await startSim(t, { portals: [{ portalId: PORTAL, tokens: [AUTH.access_token, 'pat-modes-2'], contacts: 5 }] });
  const h = await buildIngestStack(t, sim, { ONBOARDING: 'closed' });
  t.match(await h.sync({ auth: AUTH, meta: {} }), { statusCode: 401, body: { error: 'ACCOUNT_REFUSED' } });
  t.equal((await h.database.db.execute<{ n: number }>(sql`SELECT count(*)::int AS n FROM tenants`)).rows[0]!.n, 0, 'no tenant made');
  const registered = await h.app.inject({ method: 'POST', url: '/admin/tenants', headers: adminHeaders, payload: { name: 'Modes', auth: AUTH, crm: 'hubspot' } });
  t.equal(registered.statusCode, 201);
  await eventually('the backfill completes', async () => (await syncRun(h.sync, AUTH)).checkpoint !== undefined);
  t.equal((await h.sync({ auth: { access_token: 'pat-modes-2' }, meta: {} })).statusCode, 200, "another token of a registered account joins it as one more credential");
});

t.test('an account an operator deleted stays out until an operator registers it again', async (t) => {
  const sim = await startSim(t, { portals: [{ portalId: PORTAL, tokens: [AUTH.access_token], contacts: 5 }] });
  const h = await buildIngestStack(t, sim);
  t.equal((await h.sync({ auth: AUTH, meta: {} })).statusCode, 200, 'open: onboarded at once');
  const id = (await h.database.db.execute<{ id: string }>(sql`SELECT id FROM tenants`)).rows[0]!.id;
  t.equal((await h.app.inject({ method: 'DELETE', url: `/admin/tenants/${id}`, headers: adminHeaders })).statusCode, 204);

  t.match(await h.sync({ auth: AUTH, meta: {} }), { statusCode: 401, body: { error: 'ACCOUNT_REFUSED' } }, 'its next request does not bring it back');
  t.equal((await h.database.db.execute<{ n: number }>(sql`SELECT count(*)::int AS n FROM tenants`)).rows[0]!.n, 0);

  const registered = await h.app.inject({ method: 'POST', url: '/admin/tenants', headers: adminHeaders, payload: { name: 'Back', auth: AUTH, crm: 'hubspot' } });
  t.equal(registered.statusCode, 201, 'an operator lets it back in');
  t.equal((await h.sync({ auth: AUTH, meta: {} })).statusCode, 200);
});

t.test('MAX_CONTACTS_PER_TENANT: a tenant growing past its quota is paused with the reason, at most one page over', async (t) => {
  const sim = await startSim(t, { portals: [{ portalId: PORTAL, tokens: [AUTH.access_token], contacts: 350 }] });
  const h = await buildIngestStack(t, sim, { MAX_CONTACTS_PER_TENANT: '150' });
  t.equal((await h.sync({ auth: AUTH, meta: {} })).statusCode, 200);
  await eventually('the tenant is paused over its quota', async () =>
    (await h.database.db.execute<{ status: string }>(sql`SELECT status FROM tenants`)).rows[0]!.status === 'paused');
  const state = (await h.database.db.execute<{ last_error: string }>(sql`SELECT last_error FROM ingest_state`)).rows[0]!;
  t.match(state.last_error, /over its contact quota.*MAX_CONTACTS_PER_TENANT=150/);
  const live = (await h.database.db.execute<{ n: number }>(sql`SELECT count(*)::int AS n FROM contacts WHERE deleted_at IS NULL`)).rows[0]!.n;
  t.ok(live > 150 && live <= 250, `stopped one page past the quota (${live} live)`);
  t.equal((await h.sync({ auth: AUTH, meta: {} })).statusCode, 200, 'what is mirrored is still served');
});

t.test('MAX_CONCURRENT_BACKFILLS bounds the backfills running at once, across worker processes', async (t) => {
  const portals = [7411, 7412, 7413].map((portalId) => ({ portalId, tokens: [`pat-slot-${portalId}`], contacts: 400 }));
  const sim = await startSim(t, { portals });
  sim.control.setDelay({ ms: 150, endpoint: 'contacts.list' });
  const h = await buildIngestStack(t, sim, { MAX_CONCURRENT_BACKFILLS: '1' });
  await h.startMoreWorkers(); // a second worker set on the same queue: the bound is not per process
  for (const p of portals) t.equal((await h.sync({ auth: { access_token: p.tokens[0] }, meta: {} })).statusCode, 200);
  let most = 0;
  let done = false;
  const deadline = Date.now() + 120_000;
  while (!done) {
    if (Date.now() > deadline) throw new Error('the backfills did not complete within 2 minutes');
    const slots = (await h.database.db.execute<{ n: number }>(
      // Advisory locks are per database; pg_locks shows every database's (other test files run beside this one).
      sql`SELECT count(*)::int AS n FROM pg_locks
          WHERE locktype = 'advisory' AND classid = ${0x1c6f} AND granted
            AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    )).rows[0]!.n;
    most = Math.max(most, slots);
    const { rows } = await h.database.db.execute<{ n: number }>(sql`SELECT count(*)::int AS n FROM tenants WHERE backfill_completed_at IS NOT NULL`);
    done = rows[0]!.n === portals.length;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  t.equal(most, 1, 'never two backfills at once');
});
