import t from 'tap';
import { DelayedError } from 'bullmq';
import { sql } from 'drizzle-orm';
import pino from 'pino';
import { Type } from '@sinclair/typebox';
import { freshDatabase } from './helpers/database.js';
import { processWebhook, type WebhookJobHandle } from '../workers/webhooks.js';
import { INGEST_LOCK } from '../workers/ingest.js';
import { ConnectorRegistry } from '../src/crm/registry.js';
import type { Connector } from '../src/crm/connector.js';
import type { MirrorChange } from '../src/mirror/writer.js';
import { createTenant } from '../src/tenants/repository.js';
import { deriveKeys } from '../src/tenants/keys.js';

const keys = deriveKeys('webhook-worker-secret-webhook-worker-secret');

t.test("a webhook job writes its connector's changes as 'webhook', and waits while an ingest pass holds the tenant", async (t) => {
  const { db, pool } = await freshDatabase(t);
  const tenant = await createTenant(db, keys, { name: 'fake', crm: 'fake', crmAccountId: 'acct', auth: { token: 'x' }, backfillComplete: true });
  const seen: unknown[][] = [];
  const connector = {
    kind: 'fake',
    authSchema: Type.Object({ token: Type.String() }),
    async webhookChanges(_account: unknown, events: readonly unknown[]): Promise<MirrorChange[]> {
      seen.push([...events]);
      return [{ id: 'c1', name: 'From a webhook', source_updated_at: '2026-01-01T00:00:00.000Z' }];
    },
  } as unknown as Connector;
  const delayed: number[] = [];
  const job: WebhookJobHandle = {
    data: { tenantId: tenant.id, events: [{ objectId: 1 }] },
    moveToDelayed: async (at: number) => void delayed.push(at),
  };
  const deps = { db, pool, keys, connectors: new ConnectorRegistry([connector]), log: pino({ level: 'silent' }) };

  // An ingest pass holds the tenant (workers/ingest.ts takes this lock for the whole pass).
  const pass = await pool.connect();
  t.teardown(() => pass.release());
  await pass.query('SELECT pg_advisory_lock($1, hashtext($2))', [INGEST_LOCK, tenant.id]);
  await t.rejects(processWebhook(job, 'token', deps), DelayedError, 'busy tenant: the job comes back later');
  t.equal(delayed.length, 1);
  t.same(seen, [], 'without reading the CRM');
  const { rows: none } = await db.execute(sql`SELECT 1 FROM contacts`);
  t.equal(none.length, 0, 'nor writing');

  await pass.query('SELECT pg_advisory_unlock($1, hashtext($2))', [INGEST_LOCK, tenant.id]);
  t.match(await processWebhook(job, 'token', deps), { events: 1, inserted: 1 });
  t.same(seen, [[{ objectId: 1 }]]);
  const { rows } = await db.execute<{ source: string }>(sql`SELECT source FROM contact_history WHERE contact_id = 'c1'`);
  t.same(rows, [{ source: 'webhook' }]);
  const { rows: locks } = await db.execute(sql`SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid = ${INGEST_LOCK} AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`);
  t.equal(locks.length, 0, 'and the tenant is free again');
});
