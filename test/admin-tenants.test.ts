import t from 'tap';
import { sql } from 'drizzle-orm';
import { adminHeaders } from './helpers/app.js';
import { buildIngestStack, eventually, startSim, type IngestStack } from './helpers/ingest.js';
import { syncRun } from './helpers/talkdesk.js';
import { writeContacts } from '../src/mirror/writer.js';

const get = async (h: IngestStack, url: string) => {
  const res = await h.app.inject({ method: 'GET', url, headers: adminHeaders });
  return { status: res.statusCode, body: res.json() };
};
const post = async (h: IngestStack, url: string) => {
  const res = await h.app.inject({ method: 'POST', url, headers: adminHeaders });
  return { status: res.statusCode, body: res.json() };
};

t.test('every tenant admin route refuses calls without the admin token', async (t) => {
  const sim = await startSim(t);
  const h = await buildIngestStack(t, sim);
  const id = '00000000-0000-0000-0000-000000000000';
  for (const [method, url] of [
    ['GET', '/admin/tenants'],
    ['GET', `/admin/tenants/${id}`],
    ['PATCH', `/admin/tenants/${id}`],
    ['POST', `/admin/tenants/${id}/pause`],
    ['POST', `/admin/tenants/${id}/resume`],
    ['POST', `/admin/tenants/${id}/resync`],
    ['DELETE', `/admin/tenants/${id}`],
  ] as const) {
    const res = await h.app.inject({ method, url, payload: method === 'PATCH' ? { name: 'x' } : undefined });
    t.equal(res.statusCode, 401, `${method} ${url}`);
    const authed = await h.app.inject({ method, url, headers: adminHeaders, payload: method === 'PATCH' ? { name: 'x' } : undefined });
    t.equal(authed.statusCode, method === 'GET' && url === '/admin/tenants' ? 200 : 404, `${method} ${url} with the token`);
  }
});

t.test('a tenant goes through backfill → active → paused → resumed → credentials_failed, and says so', async (t) => {
  const sim = await startSim(t, { portals: [{ portalId: 3100, tokens: ['life', 'later'], contacts: 400 }] });
  sim.control.setDelay({ ms: 40, endpoint: 'contacts.list' });
  const h = await buildIngestStack(t, sim);
  await h.sync({ auth: { access_token: 'life' }, meta: {} });
  const { rows } = await h.database.db.execute<{ id: string }>(sql`SELECT id FROM tenants`);
  const id = rows[0]!.id;

  const early = (await get(h, `/admin/tenants/${id}`)).body;
  t.match(early, { id, name: 'HubSpot 3100', crm: 'hubspot', crm_account_id: '3100', status: 'backfilling', backfill: { completed_at: null } });
  t.type(early.ingest_lag_seconds, 'number');

  await eventually('active', async () => (await get(h, `/admin/tenants/${id}`)).body.status === 'active');
  const active = (await get(h, `/admin/tenants/${id}`)).body;
  t.match(active, { contacts_live: 400, contacts_tombstoned: 0, backfill: { pages: 4, contacts: 400 } });
  t.type(active.last_success_at, 'string');
  t.type(active.last_change_at, 'string');
  await eventually('the next job or tick is shown', async () => (await get(h, `/admin/tenants/${id}`)).body.job !== null);

  const renamed = await h.app.inject({ method: 'PATCH', url: `/admin/tenants/${id}`, headers: adminHeaders, payload: { name: 'Acme' } });
  t.equal(renamed.json().name, 'Acme');

  t.same((await post(h, `/admin/tenants/${id}/pause`)).body, { id, status: 'paused' });
  t.same(await h.workers!.queue.getJobSchedulers(), [], 'paused: no schedule');
  const edited = sim.control.liveContacts()[0]!.id;
  sim.control.editContact(edited, { jobtitle: 'While paused' });
  const run = await syncRun(h.sync, { access_token: 'life' });
  t.equal(run.contacts.length, 400, 'a paused tenant is still served');
  await new Promise((r) => setTimeout(r, 1500));
  t.notOk(run.contacts.some((c) => c.title === 'While paused'));

  t.same((await post(h, `/admin/tenants/${id}/resume`)).body, { id, status: 'active' });
  await eventually('ingest resumes', async () => {
    const { rows } = await h.database.db.execute<{ n: string }>(sql`SELECT count(*) AS n FROM contacts WHERE title = 'While paused'`);
    return rows[0]!.n === '1';
  });

  sim.control.revokeToken('life');
  sim.control.editContact(edited, { jobtitle: 'After revoke' });
  await eventually('credentials_failed', async () => (await get(h, `/admin/tenants/${id}`)).body.status === 'credentials_failed');
  t.match((await get(h, `/admin/tenants/${id}`)).body, { last_error: /refused/, last_error_at: String });

  const list = (await get(h, '/admin/tenants?limit=10')).body;
  t.match(list, { total: 1, limit: 10, offset: 0, tenants: [{ id, status: 'credentials_failed' }] });
  t.equal((await get(h, '/admin/tenants?limit=0')).status, 400);
});

t.test('a resync keeps serving while it runs and tombstones what the CRM no longer has', async (t) => {
  const sim = await startSim(t, { portals: [{ portalId: 3200, tokens: ['resync'], contacts: 300 }] });
  const h = await buildIngestStack(t, sim, { DELETE_RECONCILE_SECONDS: '3600' });
  const auth = { access_token: 'resync' };
  await h.sync({ auth, meta: {} });
  await eventually('backfilled', async () => (await syncRun(h.sync, auth)).checkpoint !== undefined);
  const { rows } = await h.database.db.execute<{ id: string }>(sql`SELECT id FROM tenants`);
  const id = rows[0]!.id;
  // The first reconcile follows the backfill; the next is an hour away.
  await eventually('the first reconcile has completed', async () => {
    const { rows: state } = await h.database.db.execute<{ done: boolean }>(
      sql`SELECT last_reconcile_at IS NOT NULL AND NOT source_cursor ? 'sweep' AS done FROM ingest_state`,
    );
    return state[0]?.done === true;
  });

  // Contacts the mirror holds but the CRM has no trace of (purged, or never there): neither the
  // incremental passes nor the archived-contacts scan can find them; a full re-read can (and so
  // can the deletion sweep of the next reconcile, an hour away).
  const gone = ['900000001', '900000002', '900000003'];
  await writeContacts(h.database.db, id, gone.map((g) => ({ id: g, name: `Ghost ${g}` })), 'admin_push');
  // A resync of a few seconds, so the run below fits inside it even on a busy machine.
  sim.control.setDelay({ ms: 1000, endpoint: 'contacts.list' });
  t.same((await post(h, `/admin/tenants/${id}/resync`)).body, { id, status: 'active' });
  await eventually('the resync is running', async () => (await get(h, `/admin/tenants/${id}`)).body.backfill.pages > 0);
  const during = await syncRun(h.sync, auth);
  t.equal(during.contacts.length, 303, 'nothing disappears while it runs');
  t.type(during.checkpoint, 'string', 'and checkpoints keep being handed out');

  await eventually('the resync completes', async () => {
    const { rows } = await h.database.db.execute<{ n: string }>(sql`SELECT count(*) AS n FROM contacts WHERE deleted_at IS NOT NULL`);
    return rows[0]!.n === '3';
  });
  await eventually('its bookkeeping is cleared', async () => {
    const { rows: left } = await h.database.db.execute<{ n: string }>(sql`SELECT count(*) AS n FROM resync_seen`);
    return left[0]!.n === '0';
  });
  const dead = await h.database.db.execute<{ id: string }>(sql`SELECT id FROM contacts WHERE deleted_at IS NOT NULL ORDER BY id`);
  t.same(dead.rows.map((r) => r.id).sort(), [...gone].sort());
});

t.test('deleting a tenant removes everything of it and nothing of another', async (t) => {
  const sim = await startSim(t, {
    portals: [
      { portalId: 3301, tokens: ['del-a'], contacts: 20 },
      { portalId: 3302, tokens: ['del-b'], contacts: 30 },
    ],
  });
  const h = await buildIngestStack(t, sim);
  for (const token of ['del-a', 'del-b']) {
    await h.sync({ auth: { access_token: token }, meta: {} });
    await eventually(`${token} backfilled`, async () => (await syncRun(h.sync, { access_token: token })).checkpoint !== undefined);
  }
  const { rows } = await h.database.db.execute<{ id: string; crm_account_id: string }>(sql`SELECT id, crm_account_id FROM tenants`);
  const a = rows.find((r) => r.crm_account_id === '3301')!.id;
  const b = rows.find((r) => r.crm_account_id === '3302')!.id;

  const res = await h.app.inject({ method: 'DELETE', url: `/admin/tenants/${a}`, headers: adminHeaders });
  t.equal(res.statusCode, 204);
  const count = async (table: string, tenant: string) =>
    (await h.database.db.execute<{ n: string }>(sql`SELECT count(*) AS n FROM ${sql.raw(table)} WHERE ${sql.raw(table === 'tenants' ? 'id' : 'tenant_id')} = ${tenant}`)).rows[0]!.n;
  for (const table of ['tenants', 'contacts', 'ingest_state']) {
    t.equal(await count(table, a), '0', `A: nothing left in ${table}`);
  }
  t.equal(await count('contacts', b), '30', "B's contacts untouched");
  t.equal(await count('tenants', b), '1');
  const schedulers = (await h.workers!.queue.getJobSchedulers()).map((s) => s.key);
  t.same(schedulers, [`tick:${b}`], "only B's schedule remains");
  t.equal((await h.app.inject({ method: 'DELETE', url: `/admin/tenants/${a}`, headers: adminHeaders })).statusCode, 404);

  // A deleted account stays out: its next request does not bring it back.
  const refused = await h.sync({ auth: { access_token: 'del-a' }, meta: {} });
  t.match(refused, { statusCode: 401, body: { error: 'ACCOUNT_REFUSED' } }, 'the same auth does not onboard it again');
  const registered = await h.app.inject({ method: 'POST', url: '/admin/tenants', headers: adminHeaders, payload: { name: 'A again', auth: { access_token: 'del-a' }, crm: 'hubspot' } });
  t.equal(registered.statusCode, 201, 'until an operator registers it');
  const again = await h.sync({ auth: { access_token: 'del-a' }, meta: {} });
  t.equal(again.statusCode, 200, 'then the same auth syncs, from scratch');
  t.equal(again.body.synchronization_checkpoint, undefined);
  const { rows: now } = await h.database.db.execute<{ n: string }>(sql`SELECT count(*) AS n FROM tenants WHERE crm_account_id = '3301'`);
  t.equal(now[0]!.n, '1');
});
