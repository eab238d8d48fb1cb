import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'drizzle-orm';
import type { Db } from '../../src/db/client.js';
import type { Contact } from '../../src/mirror/contact.js';
import { diff, diffCount } from '../talkdesk/copy.js';
import type { CrmWorld } from './crms.js';

// What the run waits for, read from the bridge's own state (PostgreSQL) and the CRM's, never
// from a guess at how long something takes.

/** The bridge's tenant of each portal. */
export async function tenantsByPortal(db: Db): Promise<Map<number, string>> {
  const { rows } = await db.execute<{ id: string; portal: string }>(sql`SELECT id, crm_account_id AS portal FROM tenants`);
  return new Map(rows.map((r) => [Number(r.portal), r.id]));
}

/**
 * The tenant's live mirrored contacts in Talkdesk's shape (absent fields left out), read with a
 * query of its own: the run judges the sync endpoint, so it does not borrow the endpoint's code.
 */
async function mirrorOf(db: Db, tenantId: string): Promise<Map<string, Contact>> {
  const { rows } = await db.execute<{ c: Contact }>(sql`
    SELECT json_strip_nulls(json_build_object(
      'id', id, 'name', name, 'company', company, 'title', title, 'emails', emails, 'phones', phones,
      'photo_url', photo_url, 'address', address, 'websites', websites, 'twitter', twitter, 'url', url)) AS c
    FROM contacts WHERE tenant_id = ${tenantId} AND deleted_at IS NULL`);
  return new Map(rows.map(({ c }) => [c.id, c]));
}

/** Waits until every tenant's first backfill has completed, so the rounds start with ingest flowing. */
export async function waitForBackfill(db: Db, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await db.execute<{ pending: string }>(sql`SELECT count(*) AS pending FROM tenants WHERE backfill_completed_at IS NULL`);
    if (rows[0]!.pending === '0') return;
    if (Date.now() > until) throw new Error('the first backfill did not complete');
    await sleep(200);
  }
}

/**
 * Waits until ingest has caught up: every write is visible to HubSpot's search, and every
 * tenant's mirror holds exactly the CRM's live contacts, mapped, field for field. Returns the
 * seconds it took, or null when the deadline passed first (ingest lost or stuck on something).
 */
export async function waitForCatchUp(db: Db, crms: CrmWorld, tenants: Map<number, string>, timeoutMs: number): Promise<number | null> {
  const started = Date.now();
  for (const portalId of tenants.keys()) await crms.settled(portalId);
  for (;;) {
    let caughtUp = true;
    for (const [portalId, tenantId] of tenants) {
      try {
        if (diffCount(diff(await mirrorOf(db, tenantId), crms.truth(portalId))) > 0) caughtUp = false;
      } catch {
        caughtUp = false;
      }
      if (!caughtUp) break;
    }
    if (caughtUp) return (Date.now() - started) / 1000;
    if (Date.now() - started > timeoutMs) return null;
    await sleep(250);
  }
}

/**
 * Waits until every Talkdesk copy (credential) may have a deletion-driven full resync again (DELETION_RESYNC_SECONDS
 * since its last one), so the final incremental run applies the deletion rule rather than
 * deferring it.
 */
export async function waitForDeletionWindow(db: Db, windowSeconds: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await db.execute<{ waiting: string }>(sql`
      SELECT count(*) AS waiting FROM credentials
      WHERE last_deletion_resync_at > now() - make_interval(secs => ${windowSeconds})`);
    if (rows[0]!.waiting === '0') return;
    if (Date.now() > until) throw new Error('the deletion resync window never passed');
    await sleep(200);
  }
}


/**
 * For a run whose ingest never caught up: each contact where the mirror and the CRM still differ,
 * with both sides' times, to start the investigation from (a handful per tenant).
 */
export async function describeLag(db: Db, crms: CrmWorld, tenants: Map<number, string>): Promise<string[]> {
  const lines: string[] = [];
  for (const [portalId, tenantId] of tenants) {
    const d = diff(await mirrorOf(db, tenantId), crms.truth(portalId));
    for (const id of [...d.missing, ...d.stale, ...d.deletedButPresent].slice(0, 5)) {
      const { rows } = await db.execute<Record<string, unknown>>(sql`
        SELECT updated_at::text, source_updated_at::text, deleted_at::text FROM contacts WHERE tenant_id = ${tenantId} AND id = ${id}`);
      lines.push(
        `${portalId}/${id}: CRM ${crms.describe(portalId, id)}; ` +
          `mirror ${rows[0] ? JSON.stringify(rows[0]) : 'has no row'}`,
      );
    }
  }
  return lines;
}
