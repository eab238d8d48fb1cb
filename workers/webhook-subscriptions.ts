import type pg from 'pg';
import type { Logger } from 'pino';
import type { Db } from '../src/db/client.js';
import type { ConnectorRegistry } from '../src/crm/registry.js';
import { CrmUnauthorizedError } from '../src/crm/errors.js';
import { workingCredentials } from '../src/tenants/credentials.js';
import type { BridgeKeys } from '../src/tenants/keys.js';
import { getTenant } from '../src/tenants/repository.js';
import {
  createSubscription,
  deleteSubscription,
  markSubscribed,
  recordSubscriptionError,
  retireSubscriptions,
  subscriptionSecret,
  subscriptionsIn,
  subscriptionUrl,
  tenantsWithoutSubscription,
} from '../src/webhooks/subscriptions.js';

export interface SubscriptionDeps {
  db: Db;
  pool: pg.Pool;
  keys: BridgeKeys;
  connectors: ConnectorRegistry;
  log: Logger;
  /** PUBLIC_URL: where the CRMs deliver; unset, nothing is subscribed (polling only). */
  publicUrl: string | undefined;
}

/** Advisory-lock namespace of this task: one process runs it at a time. */
export const SUBSCRIPTIONS_LOCK = 0x1c70;

export interface SubscriptionRound {
  subscribed: number;
  removed: number;
  failed: number;
}

/**
 * One round of the workers' webhook subscriptions, run periodically (a failed call is retried by
 * the next round): every ingesting tenant of a CRM whose webhooks are per account gets a
 * subscription when PUBLIC_URL is set; a tenant deleted, or whose credentials all failed, loses
 * its subscription. One process at a time (an advisory lock), so no two make one tenant's.
 */
export async function runSubscriptionRound(deps: SubscriptionDeps): Promise<SubscriptionRound | undefined> {
  const session = await deps.pool.connect();
  try {
    const { rows } = await session.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, 0) AS ok', [SUBSCRIPTIONS_LOCK]);
    if (!rows[0]!.ok) return undefined;
    try {
      return await round(deps);
    } finally {
      await session.query('SELECT pg_advisory_unlock($1, 0)', [SUBSCRIPTIONS_LOCK]).catch(() => {});
    }
  } finally {
    session.release();
  }
}

async function round(deps: SubscriptionDeps): Promise<SubscriptionRound> {
  const { db, keys, connectors, log } = deps;
  const out: SubscriptionRound = { subscribed: 0, removed: 0, failed: 0 };
  await retireSubscriptions(db);

  for (const s of await subscriptionsIn(db, 'removing')) {
    const connector = connectors.get(s.crm);
    // Another process, with this CRM enabled, removes it.
    if (!connector?.unsubscribeWebhooks) continue;
    try {
      const secret = subscriptionSecret(keys, s);
      await connector.unsubscribeWebhooks({ accountId: s.accountId, auth: secret.auth }, { url: deps.publicUrl ? subscriptionUrl(deps.publicUrl, s) : '', crmWebhookId: s.crmWebhookId });
      await deleteSubscription(db, s.id);
      out.removed++;
    } catch (err) {
      if (err instanceof CrmUnauthorizedError) {
        // The token that made it no longer works: nobody can remove it now. Its deliveries are
        // refused (401) from here on, which the CRM ends up disabling.
        await deleteSubscription(db, s.id);
        out.removed++;
        continue;
      }
      out.failed++;
      await recordSubscriptionError(db, s.id, (err as Error).message);
      log.warn({ tenantId: s.tenantId, err: (err as Error).message }, 'could not remove a webhook subscription; will retry');
    }
  }

  if (deps.publicUrl === undefined) return out;
  const crms = connectors.kinds.filter((k) => connectors.get(k)!.subscribeWebhooks !== undefined);
  for (const t of await tenantsWithoutSubscription(db, crms)) {
    const tenant = await getTenant(db, t.id);
    if (!tenant) continue;
    const [newest] = await workingCredentials(db, keys, tenant);
    if (!newest) continue;
    await createSubscription(db, keys, t, newest.auth);
  }
  for (const s of await subscriptionsIn(db, 'subscribing')) {
    const connector = connectors.get(s.crm);
    if (!connector?.subscribeWebhooks) continue;
    try {
      const secret = subscriptionSecret(keys, s);
      const id = await connector.subscribeWebhooks(
        { accountId: s.accountId, auth: secret.auth },
        { url: subscriptionUrl(deps.publicUrl, s), user: secret.user, password: secret.password },
      );
      await markSubscribed(db, s.id, id);
      out.subscribed++;
      log.info({ tenantId: s.tenantId, crm: s.crm }, 'webhooks subscribed');
    } catch (err) {
      out.failed++;
      await recordSubscriptionError(db, s.id, (err as Error).message);
      log.warn({ tenantId: s.tenantId, err: (err as Error).message }, 'could not subscribe webhooks; will retry');
    }
  }
  return out;
}
