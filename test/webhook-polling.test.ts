import t from 'tap';
import { sql } from 'drizzle-orm';
import { freshDatabase } from './helpers/database.js';
import { processTick } from '../workers/tick.js';
import { createTenant } from '../src/tenants/repository.js';
import { deriveKeys } from '../src/tenants/keys.js';
import { ensureIngestState, recordRun, recordWebhooksReceived } from '../src/tenants/ingest-state.js';
import type { IngestScheduler } from '../src/ingest/scheduler.js';

const keys = deriveKeys('webhook-polling-secret-webhook-polling');

t.test('a tenant whose webhooks arrive is polled at WEBHOOK_POLL_INTERVAL_SECONDS; when they stop, at the usual interval again', async (t) => {
  const { db } = await freshDatabase(t);
  const tenant = await createTenant(db, keys, { name: 'hs', crm: 'hubspot', crmAccountId: '1', auth: { access_token: 'x' }, backfillComplete: true });
  const requested: string[] = [];
  const scheduler = {
    requestIngest: async (_id: string, kind: string) => void requested.push(kind),
    deactivate: async () => {},
  } as unknown as IngestScheduler;
  const tick = () => processTick(tenant.id, { db, scheduler, reconcileEverySeconds: 3600, webhookPollEverySeconds: 600 });
  await ensureIngestState(db, tenant.id);
  await recordRun(db, tenant.id, { success: true, reconciled: true });

  t.same(await tick(), { requested: 'incremental' }, 'no webhooks: every tick polls');
  await recordWebhooksReceived(db, [tenant.id]);
  t.match(await tick(), { skipped: /webhooks arrive/ }, 'webhooks arrive and a poll succeeded within the interval: the tick waits');
  await db.execute(sql`UPDATE ingest_state SET last_success_at = now() - interval '11 minutes' WHERE tenant_id = ${tenant.id}`);
  t.same(await tick(), { requested: 'incremental' }, 'the slower interval has passed: a poll');
  await recordRun(db, tenant.id, { success: true });
  await db.execute(sql`UPDATE ingest_state SET webhooks_received_at = now() - interval '11 minutes' WHERE tenant_id = ${tenant.id}`);
  t.same(await tick(), { requested: 'incremental' }, 'webhooks stopped arriving: polling is back to every tick');
  t.same(requested, ['incremental', 'incremental', 'incremental']);
});
