// Who can read /metrics, and what a scrape costs the database (issue 13: "/metrics is open by
// default"). The metrics name every tenant's id and size; each scrape used to count every
// tenant's contacts, with a statement that outlived the scrape's own timeout.
import { createServer, type Server } from 'node:net';
import pg from 'pg';
import t from 'tap';
import { createLogger } from '../src/logging.js';
import { buildTestApp, buildTestRuntime } from './helpers/app.js';
import { freshDatabase } from './helpers/database.js';
import { eventually } from './helpers/ingest.js';
import { find, parseExposition, valueOf, type Sample } from './helpers/prometheus.js';

const METRICS_TOKEN = 'metrics-token-0123456789';
const bearer = { authorization: `Bearer ${METRICS_TOKEN}` };
// Both ports ephemeral on loopback; the figures computed every 100 ms, so a new tenant shows at once.
const listening = { PORT: '0', HOST: '127.0.0.1', METRICS_PORT: '0' };
const often = { metricsOptions: { tenantRefreshMs: 100 } };

async function get(url: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { headers });
  return { status: res.status, body: await res.text() };
}

function capturedLogger() {
  const raw: string[] = [];
  const logger = createLogger('info', { write: (line: string) => void raw.push(line) });
  const lines = () => raw.flatMap((chunk) => chunk.split('\n').filter(Boolean)).map((l) => JSON.parse(l) as Record<string, any>);
  return { logger, lines };
}

t.test('without METRICS_TOKEN the public port does not serve /metrics; the internal server on 127.0.0.1 does', async (t) => {
  const h = await buildTestApp(t, listening, often);
  const tenant = await h.createTenant({ api_key: 'exposure' });
  await h.push(tenant, [{ id: '1', name: 'One' }]);
  const base = await h.runtime.listen();

  // Regression (issue 13): this was a 200 naming every tenant's id and its contact count.
  for (const headers of [{}, bearer]) {
    const res = await get(`${base}/metrics`, headers);
    t.equal(res.status, 404, 'the public port answers 404, a token or not');
    t.same(JSON.parse(res.body), { error: 'NOT_FOUND', message: 'no route GET /metrics' }, 'as for any unknown path');
    t.notOk(res.body.includes(tenant), 'and names no tenant');
  }

  const metricsUrl = h.runtime.metricsUrl;
  t.match(metricsUrl, /^http:\/\/127\.0\.0\.1:\d+$/, 'the internal server listens on loopback');
  t.not(new URL(metricsUrl!).port, new URL(base).port, 'on a port of its own');
  let s: Sample[] = [];
  await eventually('the internal server shows the tenant', async () => {
    const res = await get(`${metricsUrl}/metrics`);
    if (res.status !== 200) throw new Error(`internal /metrics: ${res.status}`);
    s = parseExposition(res.body);
    return valueOf(s, 'bridge_tenant_contacts', { tenant }) === 1;
  }, 10_000);
  t.ok(find(s, 'http_request_duration_seconds_count').length > 0, 'the same registry as the API');
  for (const path of ['/healthz', '/admin', '/contact_sync', '/metrics/']) {
    t.equal((await get(`${metricsUrl}${path}`)).status, 404, `it serves nothing else (${path})`);
  }
});

t.test('with METRICS_TOKEN set, /metrics needs it on the public port, and there is no internal server', async (t) => {
  const h = await buildTestApp(t, { ...listening, METRICS_TOKEN }, often);
  const tenant = await h.createTenant({ api_key: 'exposure' });
  const base = await h.runtime.listen();
  for (const [what, headers] of [
    ['no token', {}],
    ['a wrong token', { authorization: 'Bearer metrics-token-wrong-wrong' }],
    ['the token as a basic password', { authorization: `Basic ${Buffer.from(`x:${METRICS_TOKEN}`).toString('base64')}` }],
  ] as const) {
    const res = await get(`${base}/metrics`, headers);
    t.equal(res.status, 401, what);
    t.equal(JSON.parse(res.body).error, 'METRICS_UNAUTHORIZED', what);
    t.notOk(res.body.includes(tenant), `${what}: no tenant named`);
  }
  await eventually('the bearer sees the tenant', async () => (await get(`${base}/metrics`, bearer)).body.includes(tenant), 10_000);
  t.equal(h.runtime.metricsUrl, undefined, 'no unauthenticated copy anywhere');
});

t.test('a METRICS_PORT already in use does not stop start-up', async (t) => {
  const taken: Server = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => taken.close(() => resolve())));
  const port = (taken.address() as { port: number }).port;

  const { logger, lines } = capturedLogger();
  const h = await buildTestApp(t, { ...listening, METRICS_PORT: String(port) }, { logger });
  const base = await h.runtime.listen();
  t.equal((await get(`${base}/healthz`)).status, 200, 'the process serves');
  t.equal(h.runtime.metricsUrl, undefined, 'without a metrics server');
  const warning = lines().find((l) => l.level === 40 && l.role === 'metrics');
  t.match(warning, { port, host: '127.0.0.1', err: /EADDRINUSE/ }, 'a warning says why');
});

t.test("METRICS_PORT=off without a token: no metrics server, and no figures computed", async (t) => {
  const h = await buildTestApp(t, { ...listening, METRICS_PORT: 'off' });
  const base = await h.runtime.listen();
  t.equal((await get(`${base}/metrics`)).status, 404);
  t.equal(h.runtime.metricsUrl, undefined);
  const s = parseExposition(await h.runtime.metrics.scrape());
  t.same(find(s, 'bridge_tenant_figures_refreshes_total'), [], 'no computation ran');
});

t.test('a worker-only process follows the same rule on its ops port', async (t) => {
  const database = await freshDatabase(t);
  const open = await buildTestRuntime(t, database, { ...listening, ROLE: 'worker', CRM: 'none' });
  t.equal((await open.server.inject({ method: 'GET', url: '/metrics' })).statusCode, 404, 'PORT answers 404 without METRICS_TOKEN');
  t.equal((await open.server.inject({ method: 'GET', url: '/healthz' })).statusCode, 200, 'its probes still answer');
  await open.listen();
  const internal = await get(`${open.metricsUrl}/metrics`);
  t.equal(internal.status, 200, 'the internal server answers');
  t.match(internal.body, /bridge_ingest_contacts_total/);

  const guarded = await buildTestRuntime(t, database, { ...listening, ROLE: 'worker', CRM: 'none', METRICS_TOKEN });
  t.equal((await guarded.server.inject({ method: 'GET', url: '/metrics' })).statusCode, 401, 'PORT needs the token');
  t.equal((await guarded.server.inject({ method: 'GET', url: '/metrics', headers: bearer })).statusCode, 200);
  await guarded.listen();
  t.equal(guarded.metricsUrl, undefined);
});

t.test('a scrape never counts contacts: it answers from the last figures while their computation is blocked, and stale ones go', async (t) => {
  // Computed every 500 ms, each computation bounded at 1.5 s: figures older than 3 × 2 s are stale.
  const { logger, lines } = capturedLogger();
  const h = await buildTestApp(t, { METRICS_TOKEN }, { logger, metricsOptions: { tenantRefreshMs: 500, tenantTimeoutMs: 1_500 } });
  const tenant = await h.createTenant({ api_key: 'blocked' });
  await h.push(tenant, [{ id: '1', name: 'One' }, { id: '2', name: 'Two' }]);
  const scrape = async () => {
    const started = performance.now();
    const res = await h.app.inject({ method: 'GET', url: '/metrics', headers: bearer });
    t.equal(res.statusCode, 200);
    return { s: parseExposition(res.body), ms: performance.now() - started };
  };
  await eventually('the figures show the tenant', async () => valueOf((await scrape()).s, 'bridge_tenant_contacts', { tenant }) === 2, 10_000);

  // Another session holds contacts: counting them now waits for the lock.
  const locker = new pg.Client({ connectionString: h.database.url });
  await locker.connect();
  t.teardown(() => locker.end());
  await locker.query('BEGIN');
  await locker.query('LOCK TABLE contacts IN ACCESS EXCLUSIVE MODE');
  // Another session looks: within the locker's transaction pg_stat_activity is one snapshot.
  const observer = new pg.Client({ connectionString: h.database.url });
  await observer.connect();
  t.teardown(() => observer.end());
  const waitingCounts = async () => {
    const { rows } = await observer.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity
       WHERE datname = current_database() AND pid <> pg_backend_pid() AND wait_event_type = 'Lock' AND query LIKE '%tombstoned%'`,
    );
    return rows[0]!.n;
  };
  await eventually('a computation waits for the lock', async () => (await waitingCounts()) === 1, 10_000);

  const during = await scrape();
  t.ok(during.ms < 1_000, `the scrape answered in ${Math.round(during.ms)} ms while the count was blocked`);
  t.equal(valueOf(during.s, 'bridge_tenant_contacts', { tenant }), 2, 'with the last figures');
  t.equal(await waitingCounts(), 1, 'and started no count of its own');

  // The computation gives up at its statement timeout; the last figures are served until stale.
  let s: Sample[] = [];
  await eventually('the blocked computation times out', async () => {
    s = (await scrape()).s;
    return (valueOf(s, 'bridge_tenant_figures_refreshes_total', { result: 'error' }) ?? 0) >= 1;
  }, 10_000);
  await eventually('stale figures are no longer served', async () => {
    s = (await scrape()).s;
    return find(s, 'bridge_tenant_contacts').length === 0;
  }, 15_000);
  const computedAt = valueOf(s, 'bridge_tenant_figures_computed_timestamp_seconds') ?? 0;
  t.ok(Date.now() / 1000 - computedAt >= 6, 'their time says how old the last ones are');
  t.ok((valueOf(s, 'bridge_tenant_figures_refreshes_total', { result: 'error' }) ?? 0) >= 2, 'after two computations failed');
  t.match(lines().find((l) => l.role === 'metrics' && l.level === 40), { err: /statement timeout/ }, 'the failure is logged');

  await locker.query('ROLLBACK');
  await eventually('the figures are back', async () => valueOf((await scrape()).s, 'bridge_tenant_contacts', { tenant }) === 2, 10_000);
  t.equal(lines().filter((l) => l.role === 'metrics' && l.level === 40).length, 1, 'one warning for the whole outage');
});
