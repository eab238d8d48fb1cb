import t from 'tap';
import { sql } from 'drizzle-orm';
import { loadConfig } from '../src/config.js';
import { createDatabase } from '../src/db/client.js';
import { buildRuntime } from '../src/runtime.js';
import { buildTestApp, type TestApp } from './helpers/app.js';
import { buildIngestStack, eventually, startSim } from './helpers/ingest.js';
import { find, parseExposition, valueOf, type Sample } from './helpers/prometheus.js';
import { syncRun } from './helpers/talkdesk.js';

const PORTAL = 7301;
const TOKEN = 'pat-na1-metrics';
// The public port serves /metrics only with METRICS_TOKEN (test/metrics-exposure.test.ts has the rest).
const METRICS_TOKEN = 'metrics-token-0123456789';

async function scrape(h: Pick<TestApp, 'app'>) {
  const res = await h.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
  if (res.statusCode !== 200) throw new Error(`/metrics: ${res.statusCode} ${res.body}`);
  return parseExposition(res.body);
}

/** Scrapes until the per-tenant figures, computed on their schedule, show what `check` wants. */
async function scrapeUntil(what: string, h: Pick<TestApp, 'app'>, check: (s: Sample[]) => boolean): Promise<Sample[]> {
  let s: Sample[] = [];
  await eventually(what, async () => check((s = await scrape(h))), 10_000);
  return s;
}

t.test('ingest, CRM calls, syncs and tenants show in /metrics', async (t) => {
  const sim = await startSim(t, { portals: [{ portalId: PORTAL, tokens: [TOKEN], contacts: 250 }] });
  // Per-tenant figures are computed every 100 ms here (METRICS_TENANT_REFRESH_SECONDS, 30 by default).
  const h = await buildIngestStack(t, sim, { SYNC_PAGE_SIZE: '100', METRICS_TOKEN }, { overrides: { metricsOptions: { tenantRefreshMs: 100 } } });
  const auth = { access_token: TOKEN };

  t.equal((await h.app.inject({ method: 'POST', url: '/auth_validation', payload: { auth } })).statusCode, 204);
  // The backfill's first list call is refused once: the job waits Retry-After, then goes on.
  // (Armed after the verification, which reads contacts too.)
  sim.control.rateLimitNext({ count: 1, retryAfterSeconds: 1, endpoint: 'contacts.list' });
  await eventually('the backfill completes', async () => {
    const { rows } = await h.database.db.execute<{ done: boolean }>(sql`SELECT backfill_completed_at IS NOT NULL AS done FROM tenants`);
    return rows[0]?.done === true;
  });
  const [{ id: tenant } = { id: '' }] = (await h.database.db.execute<{ id: string }>(sql`SELECT id FROM tenants`)).rows;

  let s = await scrapeUntil('the figures include the backfilled tenant', h, (s) => valueOf(s, 'bridge_tenant_contacts', { tenant }) === 250);
  t.equal(valueOf(s, 'bridge_ingest_contacts_total', { result: 'inserted' }), 250, 'every backfilled contact counted as inserted');
  t.equal(valueOf(s, 'bridge_crm_requests_total', { endpoint: 'account', status: '200' }), 1, 'the onboarding verification');
  t.ok((valueOf(s, 'bridge_crm_requests_total', { endpoint: 'list', status: '200' }) ?? 0) >= 3, 'the backfill pages (100 a page)');
  t.equal(valueOf(s, 'bridge_crm_requests_total', { endpoint: 'list', status: '429' }), 1, 'the refused call');
  t.ok((valueOf(s, 'bridge_crm_delayed_seconds_total') ?? 0) >= 1, 'the delay it caused');
  t.equal(valueOf(s, 'bridge_tenant_contacts', { tenant }), 250, 'live contacts of the tenant');
  const lag = valueOf(s, 'bridge_tenant_ingest_lag_seconds', { tenant });
  t.ok(lag !== undefined && lag >= 0 && lag < 30, `ingest lag since the last successful pass (${lag})`);
  t.same(
    find(s, 'bridge_queue_jobs').map((x) => x.labels.state).sort(),
    ['active', 'completed', 'delayed', 'failed', 'waiting'],
    'queue gauges by state',
  );
  t.equal(valueOf(s, 'bridge_sync_runs_total', { kind: 'initial' }), undefined, 'no sync yet');
  t.ok(find(s, 'process_cpu_user_seconds_total').length === 1, 'default process metrics');

  const full = await syncRun(h.sync, auth);
  t.equal(full.pages, 3);
  const incremental = await syncRun(h.sync, auth, full.checkpoint);
  t.equal(incremental.pages, 1);
  s = await scrape(h);
  t.equal(valueOf(s, 'bridge_sync_runs_total', { kind: 'initial' }), 1, 'a run is counted once, not per page');
  t.equal(valueOf(s, 'bridge_sync_runs_total', { kind: 'incremental' }), 1);
  t.equal(valueOf(s, 'bridge_sync_pages_total', { kind: 'initial' }), 3);
  t.equal(valueOf(s, 'bridge_sync_pages_total', { kind: 'incremental' }), 1);
  t.equal(valueOf(s, 'bridge_contacts_served_total'), 250 + incremental.contacts.length);
  t.equal(
    valueOf(s, 'http_request_duration_seconds_count', { method: 'POST', route: '/contact_sync', status_code: '200' }),
    4,
    'request durations by route pattern',
  );

  // A pushed tenant has contacts but no ingest to lag behind.
  const pushed = await h.createTenant({ api_key: 'pushed' });
  await h.push(pushed, [{ id: '1', name: 'One' }, { id: '2', name: 'Two' }, { id: '3', deleted: true }]);
  // Computed before or after the push: the figures count 0 or 2, never the tombstone.
  s = await scrapeUntil('the figures include the pushed contacts', h, (s) => (valueOf(s, 'bridge_tenant_contacts', { tenant: pushed }) ?? 0) > 0);
  t.equal(valueOf(s, 'bridge_tenant_contacts', { tenant: pushed }), 2, 'tombstones are not live contacts');
  t.equal(valueOf(s, 'bridge_tenant_ingest_lag_seconds', { tenant: pushed }), undefined, 'no lag for a pushed tenant');
  t.equal(valueOf(s, 'bridge_ingest_contacts_total', { result: 'inserted' }), 250, 'a push is not an ingest job');

  // Route patterns, never raw URLs: a tenant id in a path does not become a label.
  t.notOk(find(s, 'http_request_duration_seconds_count').some((x) => x.labels.route?.includes(pushed)));
  t.ok(find(s, 'http_request_duration_seconds_count', { route: '/admin/tenants/:id/contacts' }).length > 0);
});

t.test('METRICS_TOKEN, when set, is required as a bearer token', async (t) => {
  const token = METRICS_TOKEN;
  const h = await buildTestApp(t, { METRICS_TOKEN: token });
  const get = (authorization?: string) =>
    h.app.inject({ method: 'GET', url: '/metrics', headers: authorization ? { authorization } : {} });

  for (const [what, header] of [
    ['none', undefined],
    ['wrong token', 'Bearer metrics-token-wrong-wrong'],
    ['basic', `Basic ${Buffer.from(`x:${token}`).toString('base64')}`],
  ] as const) {
    const res = await get(header);
    t.equal(res.statusCode, 401, what);
    t.equal(res.json().error, 'METRICS_UNAUTHORIZED', what);
  }
  const ok = await get(`Bearer ${token}`);
  t.equal(ok.statusCode, 200);
  t.match(ok.headers['content-type'], /^text\/plain/);
  t.match(ok.body, /# TYPE bridge_contacts_served_total counter/);

  // Regression (issue 13): with METRICS_TOKEN unset, /metrics was open on the public port.
  const unset = await buildTestApp(t);
  const res = await unset.app.inject({ method: 'GET', url: '/metrics' });
  t.equal(res.statusCode, 404, 'not served on the public port when METRICS_TOKEN is unset');
  t.same(res.json(), { error: 'NOT_FOUND', message: 'no route GET /metrics' }, 'answered as an unknown path');
});

t.test('a scrape still answers, quickly, with PostgreSQL and Redis down: their series are left out', async (t) => {
  const url = 'postgres://bridge:bridge@127.0.0.1:1/none';
  const database = createDatabase({ url, max: 1 });
  t.teardown(() => database.close());
  const config = loadConfig({
    DATABASE_URL: url,
    REDIS_URL: 'redis://127.0.0.1:1',
    BRIDGE_SECRET: 'metrics-down-secret-metrics-down-secret',
    ROLE: 'api',
    CRM: 'none',
    LOG_LEVEL: 'silent',
    METRICS_TOKEN,
  });
  const runtime = await buildRuntime(config, { database });
  t.teardown(() => runtime.close());
  const app = runtime.app!;

  const started = performance.now();
  await scrape({ app });
  t.ok(performance.now() - started < 1_000, 'a scrape answers within a second');
  const s = await scrapeUntil('the failed computation is counted', { app }, (s) => valueOf(s, 'bridge_tenant_figures_refreshes_total', { result: 'error' }) === 1);
  t.same(find(s, 'bridge_queue_jobs'), [], 'no queue figures');
  t.same(find(s, 'bridge_tenant_contacts'), [], 'no tenant figures');
  t.equal(valueOf(s, 'bridge_tenant_figures_computed_timestamp_seconds'), 0, 'never computed');
  t.ok(find(s, 'process_resident_memory_bytes').length === 1, 'the rest is there');
});

t.test('two apps in one process keep separate registries', async (t) => {
  const a = await buildTestApp(t, { METRICS_TOKEN });
  const b = await buildTestApp(t, { METRICS_TOKEN });
  const auth = { api_key: 'only-a' };
  await a.push(await a.createTenant(auth), [{ id: '1', name: 'One' }]);
  await a.sync({ auth, meta: {} });
  t.equal(valueOf(await scrape(a), 'bridge_contacts_served_total'), 1);
  t.equal(valueOf(await scrape(b), 'bridge_contacts_served_total'), 0);

  // Requests that match no route share one label rather than one series per URL.
  await b.app.inject({ method: 'GET', url: '/no/such/thing' });
  t.equal(valueOf(await scrape(b), 'http_request_duration_seconds_count', { route: 'unmatched', status_code: '404' }), 1);
});
