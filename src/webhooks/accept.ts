import { and, eq, inArray } from 'drizzle-orm';
import type { Executor } from '../db/client.js';
import { tenants } from '../db/schema.js';
import type { Metrics } from '../metrics/registry.js';
import { recordWebhooksReceived } from '../tenants/ingest-state.js';
import type { WebhookEnqueue } from './enqueue.js';

export interface AcceptDeps {
  db: Executor;
  enqueue: WebhookEnqueue;
  metrics?: Metrics;
}

export interface Accepted {
  /** Events queued, for tenants of this bridge. */
  queued: number;
  /** Events of accounts that are no tenant here: counted and dropped. */
  unknown: number;
}

/**
 * What every CRM's webhook route does once a delivery is authenticated and its events grouped
 * by CRM account: queue each known account's events for its tenant's workers, note that the
 * tenant's webhooks arrive (its polling may slow down), and count and drop the rest. One query
 * finds the tenants, whatever the number of accounts in the delivery.
 */
export async function acceptEvents(deps: AcceptDeps, crm: string, byAccount: ReadonlyMap<string, readonly unknown[]>): Promise<Accepted> {
  const accounts = [...byAccount.keys()];
  if (accounts.length === 0) return { queued: 0, unknown: 0 };
  const known = await deps.db
    .select({ id: tenants.id, accountId: tenants.crmAccountId })
    .from(tenants)
    .where(and(eq(tenants.crm, crm), inArray(tenants.crmAccountId, accounts)));
  const tenantOf = new Map(known.map((t) => [t.accountId!, t.id]));
  let queued = 0;
  let unknown = 0;
  for (const [accountId, events] of byAccount) {
    const tenantId = tenantOf.get(accountId);
    if (tenantId === undefined) {
      unknown += events.length;
      continue;
    }
    await deps.enqueue.enqueue(tenantId, events);
    queued += events.length;
  }
  await recordWebhooksReceived(deps.db, [...tenantOf.values()]);
  if (queued > 0) deps.metrics?.webhookEvents.inc({ crm, result: 'queued' }, queued);
  if (unknown > 0) deps.metrics?.webhookEvents.inc({ crm, result: 'unknown_account' }, unknown);
  return { queued, unknown };
}
