import t from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig } from '../src/config.js';
import { createDatabase } from '../src/db/client.js';
import { createLogger } from '../src/logging.js';
import { buildRuntime } from '../src/runtime.js';
import { buildTestApp } from './helpers/app.js';

t.test('healthy: /healthz ok, /readyz ready; Redis is checked only where the workers run', async (t) => {
  const h = await buildTestApp(t);
  const live = await h.app.inject({ method: 'GET', url: '/healthz' });
  t.equal(live.statusCode, 200);
  t.same(live.json(), { status: 'ok' });

  const ready = await h.app.inject({ method: 'GET', url: '/readyz' });
  t.equal(ready.statusCode, 200);
  t.same(ready.json(), { status: 'ready', checks: { postgres: 'ok', redis: 'not used' } });
  t.equal((await h.app.inject({ method: 'GET', url: '/status' })).statusCode, 404, "under-pressure's own status route is off");

  const withWorkers = await buildTestApp(t, { ROLE: 'all' });
  const both = await withWorkers.app.inject({ method: 'GET', url: '/readyz' });
  t.equal(both.statusCode, 200);
  t.same(both.json(), { status: 'ready', checks: { postgres: 'ok', redis: 'ok' } });

  // An API-only process (ROLE=api) has a queue too, but a sync never needs Redis.
  const apiOnly = await buildTestApp(t, { ROLE: 'api' });
  const api = await apiOnly.app.inject({ method: 'GET', url: '/readyz' });
  t.equal(api.statusCode, 200);
  t.same(api.json().checks, { postgres: 'ok', redis: 'not used' }, 'Redis is not asked');
});

t.test('PostgreSQL unreachable: /readyz is 503 with Retry-After naming it; /healthz stays 200', async (t) => {
  const url = 'postgres://bridge:bridge@127.0.0.1:1/none';
  const database = createDatabase({ url, max: 1 });
  t.teardown(() => database.close());
  // A process running the workers too (ROLE=all), with neither PostgreSQL nor Redis reachable.
  const config = loadConfig({ DATABASE_URL: url, REDIS_URL: 'redis://127.0.0.1:1', BRIDGE_SECRET: 'health-secret-health-secret-health-secret', ROLE: 'all', CRM: 'none', LOG_LEVEL: 'silent' });
  const runtime = await buildRuntime(config, { database });
  t.teardown(() => runtime.close());
  const app = runtime.app!;

  const res = await app.inject({ method: 'GET', url: '/readyz' });
  t.equal(res.statusCode, 503);
  t.equal(res.headers['retry-after'], '5');
  const body = res.json();
  t.equal(body.status, 'not ready');
  t.equal(body.checks.postgres, 'unreachable: connection refused', 'what failed');
  t.match(body.checks.redis, /^unreachable: /, 'Redis too, where the workers run');
  t.notMatch(res.body, /bridge|127\.0\.0\.1/, 'not where: no user name, no host');

  t.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
});

// Regression (issue 13): /readyz answered anyone with the driver's own error, `connect
// ECONNREFUSED <host>:<port>` or `role "<user>" does not exist`. It says what failed; the log says where.
t.test('/readyz says what failed, never the database host or user name; the log has the detail', async (t) => {
  const user = 'intruder_role_7f3a';
  const url = `postgres://${user}:not-the-password@localhost:5432/cb_no_such_database`;
  const database = createDatabase({ url, max: 1 });
  t.teardown(() => database.close());
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger('warn', { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  const config = loadConfig({ DATABASE_URL: url, REDIS_URL: 'redis://localhost:1', BRIDGE_SECRET: 'health-secret-health-secret-health-secret', ROLE: 'api', CRM: 'none' });
  const runtime = await buildRuntime(config, { database, logger });
  t.teardown(() => runtime.close());

  const res = await runtime.app!.inject({ method: 'GET', url: '/readyz' });
  t.equal(res.statusCode, 503);
  t.equal(res.json().checks.postgres, 'unreachable: login refused', 'what failed');
  for (const where of [user, 'localhost', '5432', 'cb_no_such_database', 'not-the-password']) t.notMatch(res.body, where, `the answer does not carry ${where}`);
  const logged = lines.find((l) => l.check === 'postgres');
  t.match(logged, { msg: 'readiness check failed', err: new RegExp(user) }, "the log has the driver's words");
});

t.test('overloaded: 503 OVERLOADED with Retry-After, except liveness and metrics', async (t) => {
  // Any heap is over one byte: the process counts as saturated from the first sample (1 s).
  const h = await buildTestApp(t, { OVERLOAD_MAX_HEAP_USED_BYTES: '1', METRICS_TOKEN: 'metrics-token-0123456789' });
  await sleep(1_300);
  const sync = await h.app.inject({ method: 'POST', url: '/contact_sync', payload: { auth: { k: 'v' }, meta: {} } });
  t.equal(sync.statusCode, 503);
  t.equal(sync.headers['retry-after'], '5');
  t.same(sync.json(), { error: 'OVERLOADED', message: 'the bridge is overloaded; retry shortly' });

  const ready = await h.app.inject({ method: 'GET', url: '/readyz' });
  t.equal(ready.statusCode, 503, 'not ready while overloaded: the load balancer sends the work elsewhere');
  t.equal(ready.json().error, 'OVERLOADED');
  t.equal((await h.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200, 'alive: not to be restarted');
  const scrape = await h.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: 'Bearer metrics-token-0123456789' } });
  t.equal(scrape.statusCode, 200, 'observable');
});
