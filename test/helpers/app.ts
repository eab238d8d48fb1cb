import type { Test } from 'tap';
import type { App } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config.js';
import { buildRuntime, type Runtime, type RuntimeOverrides } from '../../src/runtime.js';
import { newQueuePrefix, obliterateQueuePrefix } from '../../harness/queues/prefix.js';
import type { Database } from '../../src/db/client.js';
import { freshDatabase, type TestDatabase } from './database.js';
import { testRedisUrl } from './services.js';

export const ADMIN_TOKEN = 'test-admin-token-0123456789';

export interface TestApp {
  app: App;
  runtime: Runtime;
  database: TestDatabase;
  config: Config;
  /** Registers a push tenant through the admin API and returns its id. */
  createTenant(auth: Record<string, unknown>, name?: string): Promise<string>;
  /** Pushes a batch through the admin API (the mirror writer) and returns the counts. */
  push(tenantId: string, items: unknown[]): Promise<{ inserted: number; updated: number; unchanged: number; deleted: number }>;
  /** One POST /contact_sync; returns status, headers and parsed body. */
  sync(body: unknown): Promise<{ statusCode: number; headers: Record<string, unknown>; body: any }>;
}

export const adminHeaders = { authorization: `Bearer ${ADMIN_TOKEN}` };

/** A process's environment for the tests: a database and queue prefix of their own, quiet logs. */
export async function testEnv(database: { url: string }, env: Record<string, string> = {}): Promise<Record<string, string>> {
  return {
    DATABASE_URL: database.url,
    REDIS_URL: await testRedisUrl(),
    QUEUE_PREFIX: newQueuePrefix('cbtest'),
    BRIDGE_SECRET: 'test-secret-test-secret-test-secret-0123',
    ADMIN_TOKEN,
    LOG_LEVEL: 'silent',
    // Shedding on event-loop delay is a timing: on a machine busy with other test files it sheds
    // requests of tests about something else. The overload tests set their own limits.
    OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0',
    // Each test process's internal metrics server on a port of its own (never the shared default).
    METRICS_PORT: '0',
    ...env,
  };
}

/**
 * A process built by the composition root as the server builds it, from its environment, on a
 * fresh database; its queue prefix is obliterated in teardown. `env` adds settings (ROLE, CRM,
 * the simulator's URL…); `overrides` are the runtime's (a logger, a pool through a fault proxy).
 */
export async function buildTestRuntime(t: Test, database: Database & { url: string }, env: Record<string, string>, overrides: RuntimeOverrides = {}): Promise<Runtime> {
  const config = loadConfig(await testEnv(database, env));
  // Straight to Redis: REDIS_URL may go through a fault proxy that is closed by then.
  const redisUrl = await testRedisUrl();
  t.teardown(() => obliterateQueuePrefix(redisUrl, config.QUEUE_PREFIX));
  const runtime = await buildRuntime(config, { database, ...overrides });
  t.teardown(() => runtime.close());
  return runtime;
}

/**
 * The API as the server runs it (ROLE=api) on a fresh database. No CRM connector unless `env`
 * enables one (CRM), so unknown credentials are refused without a CRM call.
 */
export async function buildTestApp(t: Test, env: Record<string, string> = {}, overrides: RuntimeOverrides = {}): Promise<TestApp> {
  const database = await freshDatabase(t);
  const runtime = await buildTestRuntime(t, database, { ROLE: 'api', CRM: 'none', ...env }, overrides);
  const app = runtime.app!;
  const { config } = runtime;

  return {
    app,
    runtime,
    database,
    config,
    async createTenant(auth, name = 'tenant') {
      const res = await app.inject({ method: 'POST', url: '/admin/tenants', headers: adminHeaders, payload: { name, auth } });
      if (res.statusCode !== 201) throw new Error(`createTenant: ${res.statusCode} ${res.body}`);
      return res.json().id as string;
    },
    async push(tenantId, items) {
      const res = await app.inject({ method: 'PUT', url: `/admin/tenants/${tenantId}/contacts`, headers: adminHeaders, payload: items });
      if (res.statusCode !== 200) throw new Error(`push: ${res.statusCode} ${res.body}`);
      return res.json();
    },
    async sync(body) {
      const res = await app.inject({ method: 'POST', url: config.SYNC_PATH, payload: body as object });
      return { statusCode: res.statusCode, headers: res.headers, body: res.json() };
    },
  };
}
