import t from 'tap';
import { sql } from 'drizzle-orm';
import { TcpFaultProxy } from '../harness/fault-proxy/tcp-fault-proxy.js';
import { buildWorkerOpsApp } from '../src/worker-ops-app.js';
import { countJobs, pingQueue } from '../src/ingest/queue.js';
import { adminHeaders } from './helpers/app.js';
import { buildIngestStack, eventually, startSim, type IngestStack } from './helpers/ingest.js';
import { answered, GUARD_MS } from './helpers/guard.js';
import { testRedisUrl } from './helpers/services.js';
import { crmTruth, diff, TalkdeskCopy } from '../harness/talkdesk/copy.js';

const A = 9401;
const B = 9402;


/** Per tenant, the job schedulers and the scheduler-made ticks waiting to fire, read straight from Redis. */
async function schedules(h: IngestStack) {
  const schedulers = await h.directQueue.getJobSchedulers(0, -1, true);
  const delayed = await h.directQueue.getJobs(['delayed']);
  const perTenant = new Map<string, { schedulers: number; delayedTicks: number }>();
  const row = (id: string) => perTenant.get(id) ?? perTenant.set(id, { schedulers: 0, delayedTicks: 0 }).get(id)!;
  for (const s of schedulers) if (s.key.startsWith('tick:')) row(s.key.slice('tick:'.length)).schedulers++;
  for (const j of delayed) if (j?.data.kind === 'tick' && j.repeatJobKey) row(j.data.tenantId).delayedTicks++;
  return perTenant;
}

async function tenantIds(h: IngestStack): Promise<Record<string, string>> {
  const { rows } = await h.database.db.execute<{ id: string; portal: string }>(sql`SELECT id, crm_account_id AS portal FROM tenants`);
  return Object.fromEntries(rows.map((r) => [r.portal, r.id]));
}

for (const mode of ['refuse', 'blackhole'] as const) {
  t.test(`Redis unreachable (${mode}): syncs and onboarding answer from PostgreSQL; ingest resumes after, one schedule per tenant`, async (t) => {
    const redis = new URL(await testRedisUrl());
    const proxy = await TcpFaultProxy.start({ host: redis.hostname, port: Number(redis.port || 6379) });
    t.teardown(() => proxy.close());
    const sim = await startSim(t, {
      portals: [
        { portalId: A, tokens: ['redis-a', 'redis-a-rotated'], contacts: 300 },
        { portalId: B, tokens: ['redis-b'], contacts: 200 },
      ],
    });
    // The app and the workers reach Redis through the proxy, wired as the server wires them.
    // Teardown puts the proxy back up before anything closes.
    const h = await buildIngestStack(t, sim, { REDIS_URL: proxy.rewrite(redis.toString()), SYNC_PAGE_SIZE: '100' });
    t.teardown(() => proxy.setMode('up'));
    // What a worker-only process of these workers answers its probes with.
    const queue = h.workers!.queue;
    const ops = await buildWorkerOpsApp({
      config: h.config,
      db: h.database.db,
      metrics: h.runtime.metrics,
      pingRedis: () => pingQueue(queue),
      jobCounts: (states) => countJobs(queue, states),
    });
    t.teardown(() => ops.close());

    const a = new TalkdeskCopy(h.sync, { access_token: 'redis-a' });
    await eventually('tenant A is backfilled', async () => (await a.sync()).checkpoint !== undefined);
    t.same(diff(a.contacts, crmTruth(sim.control, A)), { missing: [], stale: [], deletedButPresent: [] });

    await proxy.setMode(mode);
    const edited = sim.control.liveContacts({ portalId: A }).slice(0, 5).map((c) => c.id);
    for (const id of edited) sim.control.editContact(id, { jobtitle: `Edited during the ${mode}` }, { portalId: A });

    // Incremental and full runs of a known tenant: the mirror alone.
    const run = await answered('an incremental run', a.sync());
    t.equal(run.full, false, 'an incremental run answered');
    const full = await answered('a full run', new TalkdeskCopy(h.sync, { access_token: 'redis-a' }).sync());
    t.equal(full.contacts, 300, 'a full run answered, every mirrored contact');

    // The paths that ask the queues for something: a new token (onboarding schedules its
    // backfill), a rotated token of a known portal, Talkdesk's activation call. Scheduling fails
    // within the API connection's bounds; the answer does not.
    const onboarded = await answered('onboarding B', h.sync({ auth: { access_token: 'redis-b' }, meta: {} }));
    t.equal(onboarded.statusCode, 200, 'a new tenant is onboarded while Redis is away');
    t.equal(onboarded.body.synchronization_checkpoint, undefined, 'no checkpoint before its backfill');
    const rotated = await answered('a rotated token', h.sync({ auth: { access_token: 'redis-a-rotated' }, meta: {} }));
    t.equal(rotated.statusCode, 200, 'a rotated token is accepted');
    const validated = await answered('auth validation', h.app.inject({ method: 'POST', url: '/auth_validation', payload: { auth: { access_token: 'redis-a' } } }));
    t.equal(validated.statusCode, 204, 'activation answers');
    const summary = await answered('a tenant summary', h.app.inject({ method: 'GET', url: `/admin/tenants`, headers: adminHeaders }));
    t.equal(summary.statusCode, 200, 'the operators’ tenant list answers from PostgreSQL');

    const ids = await tenantIds(h);
    t.ok(ids[String(B)], 'tenant B exists in PostgreSQL');
    t.notOk((await schedules(h)).get(ids[String(B)]!)?.schedulers, 'B could not be scheduled yet');

    // Readiness, where the workers run (the API of ROLE=all and a worker-only process): Redis down.
    for (const [name, app] of [['the API running workers', h.app], ['a worker-only process', ops]] as const) {
      const ready = await answered(`/readyz of ${name}`, app.inject({ method: 'GET', url: '/readyz' }));
      t.equal(ready.statusCode, 503, `${name}: not ready`);
      t.match(ready.json(), { status: 'not ready', checks: { postgres: 'ok', redis: /^unreachable: / } });
    }

    await proxy.setMode('up');
    const b = new TalkdeskCopy(h.sync, { access_token: 'redis-b' });
    await eventually('B, onboarded during the outage, is scheduled and backfilled', async () => (await b.sync()).checkpoint !== undefined);
    t.same(diff(b.contacts, crmTruth(sim.control, B)), { missing: [], stale: [], deletedButPresent: [] }, 'B equals the CRM');
    await eventually('A catches up with the edits made during the outage', async () => {
      await a.sync();
      const d = diff(a.contacts, crmTruth(sim.control, A));
      return d.missing.length + d.stale.length + d.deletedButPresent.length === 0;
    });
    for (const id of edited) t.equal(a.contacts.get(id)?.title, `Edited during the ${mode}`);

    // Let the reconciliation loop (every second here) and the ticks run a few rounds first.
    for (let round = 0; round < 3; round++) {
      const now = await schedules(h);
      for (const [portal, id] of Object.entries(ids)) {
        const s = now.get(id);
        t.equal(s?.schedulers, 1, `round ${round}, portal ${portal}: exactly one scheduler`);
        t.ok((s?.delayedTicks ?? 0) <= 1, `round ${round}, portal ${portal}: at most one scheduled tick waiting`);
      }
      await new Promise((r) => setTimeout(r, 1_000));
    }
    t.equal((await ops.inject({ method: 'GET', url: '/readyz' })).statusCode, 200, 'ready again');
  });
}

t.test('an API started while Redis is down answers at once, and uses Redis once it is back', async (t) => {
  const redis = new URL(await testRedisUrl());
  const proxy = await TcpFaultProxy.start({ host: redis.hostname, port: Number(redis.port || 6379) });
  await proxy.setMode('refuse');
  t.teardown(() => proxy.close());
  const sim = await startSim(t, { portals: [{ portalId: 9403, tokens: ['redis-late'], contacts: 10 }] });
  const h = await buildIngestStack(t, sim, { REDIS_URL: proxy.rewrite(redis.toString()) }, { workers: false });
  const auth = { access_token: 'redis-late' };
  const res = await answered('onboarding with Redis never reached', h.sync({ auth, meta: {} }));
  t.equal(res.statusCode, 200, 'onboarded without Redis');
  const ready = await answered('/readyz', h.app.inject({ method: 'GET', url: '/readyz' }));
  t.equal(ready.statusCode, 200, 'an API-only process does not need Redis to be ready');
  t.same(ready.json().checks, { postgres: 'ok', redis: 'not used' });

  await proxy.setMode('up');
  const [id] = Object.values(await tenantIds(h));
  // Activation again (Talkdesk's call) schedules the tenant through the same queue, which must
  // not have been left broken by a start without Redis.
  await eventually('the API schedules through Redis once it answers', async () => {
    const validated = await h.app.inject({ method: 'POST', url: '/auth_validation', payload: { auth } });
    return validated.statusCode === 204 && (await schedules(h)).get(id!)?.schedulers === 1;
  }, GUARD_MS);
  t.pass('scheduled');
});
