import type { Test } from 'tap';
import { buildApp, type App, type AppDeps } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config.js';
import { freshDatabase, type TestDatabase } from './database.js';

export const ADMIN_TOKEN = 'test-admin-token-0123456789';

export interface TestApp {
  app: App;
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

export type ExtraDeps = (config: Config, database: TestDatabase) => Promise<Pick<AppDeps, 'connector' | 'ingest' | 'queue' | 'metrics' | 'checkRedis' | 'logger'>>;

/**
 * The same app the server runs, on a fresh database, configured as the server would be from
 * env. `extra` adds the CRM connector and the ingest queues for the tests that need them.
 */
export async function buildTestApp(t: Test, env: Record<string, string> = {}, extra?: ExtraDeps): Promise<TestApp> {
  const database = await freshDatabase(t);
  const config = loadConfig({
    DATABASE_URL: database.url,
    REDIS_URL: 'redis://127.0.0.1:6379',
    BRIDGE_SECRET: 'test-secret-test-secret-test-secret-0123',
    ADMIN_TOKEN,
    LOG_LEVEL: 'silent',
    ...env,
  });
  const app = await buildApp({ config, db: database.db, ...(extra ? await extra(config, database) : {}) });
  t.teardown(() => app.close());
  const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

  return {
    app,
    database,
    config,
    async createTenant(auth, name = 'tenant') {
      const res = await app.inject({ method: 'POST', url: '/admin/tenants', headers: admin, payload: { name, auth } });
      if (res.statusCode !== 201) throw new Error(`createTenant: ${res.statusCode} ${res.body}`);
      return res.json().id as string;
    },
    async push(tenantId, items) {
      const res = await app.inject({ method: 'PUT', url: `/admin/tenants/${tenantId}/contacts`, headers: admin, payload: items });
      if (res.statusCode !== 200) throw new Error(`push: ${res.statusCode} ${res.body}`);
      return res.json();
    },
    async sync(body) {
      const res = await app.inject({ method: 'POST', url: config.SYNC_PATH, payload: body as object });
      return { statusCode: res.statusCode, headers: res.headers, body: res.json() };
    },
  };
}
