import t, { type Test } from 'tap';
import { sql } from 'drizzle-orm';
import type { ProxyMode } from '../harness/fault-proxy/tcp-fault-proxy.js';
import type { RunningWorkers } from '../workers/index.js';
import { adminHeaders, buildTestRuntime } from './helpers/app.js';
import { answered, GUARD_MS } from './helpers/guard.js';
import { databaseBehindProxy, freshDatabase, statementsSettled, terminateBackends, type ProxiedDatabase, type TestDatabase } from './helpers/database.js';
import { buildIngestStack, eventually, startSim } from './helpers/ingest.js';
import { crmTruth, diff, TalkdeskCopy } from '../harness/talkdesk/copy.js';

// The bounds under test, as the pool is configured: a request on an unreachable database waits at
// most this long for a connection, or for an answer on one it already holds, before its 503.
const CONNECT_TIMEOUT_MS = 1_000;
const QUERY_TIMEOUT_MS = 2_000;


/** An outage as clients see it: `refuse` is a restart (closed port, backends terminated), `blackhole` a dead path. */
async function cut(mode: Exclude<ProxyMode, 'up'>, through: ProxiedDatabase, database: TestDatabase): Promise<void> {
  await through.proxy.setMode(mode);
  if (mode === 'refuse') await terminateBackends(database);
}

/** The API on a pool that reaches PostgreSQL through the proxy, with a push tenant holding contacts. */
async function apiBehindProxy(t: Test) {
  const database = await freshDatabase(t);
  const through = await databaseBehindProxy(t, database, { max: 4, connectTimeoutMs: CONNECT_TIMEOUT_MS, queryTimeoutMs: QUERY_TIMEOUT_MS });
  const { app, config } = await buildTestRuntime(t, through, { ROLE: 'api', CRM: 'none' }).then((r) => ({ app: r.app!, config: r.config }));
  const auth = { api_key: 'pg-fault' };
  const created = await app.inject({ method: 'POST', url: '/admin/tenants', headers: adminHeaders, payload: { name: 'pg', auth } });
  const tenantId = created.json().id as string;
  const contacts = Array.from({ length: 25 }, (_, i) => ({ id: String(i), name: `Contact ${i}` }));
  const pushed = await app.inject({ method: 'PUT', url: `/admin/tenants/${tenantId}/contacts`, headers: adminHeaders, payload: contacts });
  if (pushed.statusCode !== 200) throw new Error(`push: ${pushed.statusCode} ${pushed.body}`);
  const sync = () => app.inject({ method: 'POST', url: config.SYNC_PATH, payload: { auth, meta: {} } });
  return { app, database, through, sync };
}

for (const mode of ['refuse', 'blackhole'] as const) {
  t.test(`PostgreSQL unreachable (${mode}): syncs answer 503 within the pool's bounds, /readyz says so, and the same app recovers`, async (t) => {
    const { app, database, through, sync } = await apiBehindProxy(t);
    const before = await sync();
    t.equal(before.statusCode, 200);
    t.equal(before.json().contacts.length, 25);

    await cut(mode, through, database);
    // More requests than the pool has connections: some find a pooled connection (bounded by the
    // query timeout), some open a new one (the connect timeout), the rest wait for the pool (the
    // connect timeout again). Every one of them must come back as a 503.
    const during = await answered('syncs during the outage', Promise.all(Array.from({ length: 8 }, () => sync())));
    for (const res of during) {
      t.equal(res.statusCode, 503);
      t.ok(Number(res.headers['retry-after']) > 0, 'Retry-After');
      t.match(res.json(), { error: 'DATABASE_UNAVAILABLE', message: String });
      t.same(Object.keys(res.json()).sort(), ['error', 'message']);
      t.notMatch(res.body, /bridge:bridge|stack|at /, 'nothing internal');
    }
    const ready = await answered('/readyz', app.inject({ method: 'GET', url: '/readyz' }));
    t.equal(ready.statusCode, 503);
    t.match(ready.json(), { status: 'not ready', checks: { postgres: /^unreachable: / } });
    t.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200, 'alive: restarting it would not help');

    await through.proxy.setMode('up');
    // The same instance, no restart: it may take a request or two to shed a connection the
    // outage left broken, never more than the pool holds.
    let after = await answered('a sync after recovery', sync());
    for (let i = 0; after.statusCode !== 200 && i < 4; i++) after = await answered('a sync after recovery', sync());
    t.equal(after.statusCode, 200, 'recovered by itself');
    t.equal(after.json().contacts.length, 25, 'and answers from the mirror as before');
    t.equal((await app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200);
  });
}

t.test('workers cut off from PostgreSQL mid-backfill resume from their last committed page', async (t) => {
  const portalId = 9301;
  const sim = await startSim(t, { portals: [{ portalId, tokens: ['pg-cut'], contacts: 3000 }] });
  // A backfill of 30 pages taking a few seconds, to cut the database in.
  sim.control.setDelay({ ms: 100, endpoint: 'contacts.list' });
  const h = await buildIngestStack(t, sim, {}, { workers: false });
  const through = await databaseBehindProxy(t, h.database, { connectTimeoutMs: CONNECT_TIMEOUT_MS, queryTimeoutMs: QUERY_TIMEOUT_MS });
  // A worker process whose pool reaches PostgreSQL through the proxy.
  const workers = (await buildTestRuntime(t, through, { ...h.env, QUEUE_PREFIX: h.config.QUEUE_PREFIX, ROLE: 'worker' }, { reconcileSchedulesMs: 1_000 })).workers!;

  const auth = { access_token: 'pg-cut' };
  t.equal((await h.sync({ auth, meta: {} })).statusCode, 200, 'onboarded');
  const pages = async () => {
    const { rows } = await h.database.db.execute<{ pages: number | null }>(sql`SELECT max(backfill_pages) AS pages FROM ingest_state`);
    return rows[0]?.pages ?? 0;
  };

  const cuts: Array<{ mode: 'refuse' | 'blackhole'; atPage: number }> = [
    { mode: 'refuse', atPage: 8 },
    { mode: 'blackhole', atPage: 18 },
  ];
  for (const { mode, atPage } of cuts) {
    await eventually(`the backfill reaches page ${atPage}`, async () => (await pages()) >= atPage);
    const attemptsBefore = await backfillAttempts(workers.queue);
    await cut(mode, through, h.database);
    await statementsSettled(h.database);
    const committed = await pages();
    // The outage lasts until the running page has failed (within the pool's bounds) and BullMQ
    // has counted the failed attempt: the job is then waiting out its retry backoff.
    await eventually(`${mode}: the backfill job fails an attempt`, async () => (await backfillAttempts(workers.queue)) > attemptsBefore, GUARD_MS);
    t.equal(await pages(), committed, `${mode}: nothing committed while the database was away`);
    t.ok(committed < 30, `${mode}: cut at page ${committed} of 30`);
    await through.proxy.setMode('up');
  }

  const talkdesk = new TalkdeskCopy(h.sync, auth);
  await eventually('the backfill completes after the outages', async () => {
    await talkdesk.sync();
    return talkdesk.checkpoint !== undefined;
  }, 90_000);
  t.same(diff(talkdesk.contacts, crmTruth(sim.control, portalId)), { missing: [], stale: [], deletedButPresent: [] }, 'the mirror equals the CRM');
  const { rows } = await h.database.db.execute<{ n: string; pages: number; counted: number }>(
    sql`SELECT (SELECT count(*) FROM contacts) AS n, backfill_pages AS pages, backfill_contacts AS counted FROM ingest_state`,
  );
  t.same(rows[0], { n: '3000', pages: 30, counted: 3000 }, 'every page committed once');
  // The first reconcile follows the backfill: its list requests are counted below.
  await eventually('the first reconcile has completed', async () => {
    const { rows: state } = await h.database.db.execute<{ done: boolean }>(
      sql`SELECT last_reconcile_at IS NOT NULL AND NOT source_cursor ? 'sweep' AS done FROM ingest_state`,
    );
    return state[0]?.done === true;
  }, 90_000);
  const listed = Object.values(sim.control.stats().portals[String(portalId)]!.byEndpoint['contacts.list'] ?? {}).reduce((a, b) => a + b, 0);
  // 30 pages; per cut, the page being written and the one fetched ahead of it are read again; the
  // first reconcile once the backfill is done lists the archived contacts (one request) and the
  // deletion sweep's live ids (30); two spare for a retry that meets a connection the outage left
  // broken. A backfill that restarted from the beginning would have read at least 8 pages more.
  t.ok(listed <= 30 + 2 * cuts.length + 1 + 30 + 2, `list pages fetched: ${listed}`);
});

/** Attempts the tenant's backfill job has failed so far (Redis is not cut: the queue answers). */
async function backfillAttempts(queue: RunningWorkers['queue']): Promise<number> {
  const jobs = await queue.getJobs(['delayed', 'waiting', 'active', 'prioritized']);
  return jobs.reduce((n, j) => n + (j?.name === 'backfill' ? j.attemptsMade : 0), 0);
}
