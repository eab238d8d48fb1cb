import { sql } from 'drizzle-orm';
import type { Db } from '../../../src/db/client.js';
import { lookupIndexSql, type LookupQuery } from '../../../src/lookup/contact-lookup.js';
import { contactSearchKeys } from '../../../src/lookup/search-keys.js';
import { indexContactKeys } from '../../../src/mirror/key-indexer.js';
import { Prng } from '../../hubspot-sim/prng.js';
import { benchContact } from '../contacts.js';
import { progress } from '../progress.js';
import { summarize, type Summary } from '../stats.js';

export interface LookupFigures {
  /** Contacts in the tenant looked up. */
  contacts: number;
  /** The key indexer's catch-up over every tenant of the bench (all written before it ran). */
  index: { contacts: number; seconds: number; perSecond: number };
  /** GET /admin/tenants/:id/contacts as a client sees it (loopback HTTP, details and verdicts included), ms. */
  phone: Summary;
  email: Summary;
  name: Summary;
  /** EXPLAIN (ANALYZE) of a phone lookup's index part: it must be index scans. */
  phonePlan: string;
}

const REGION = 'US';

/** What a person would type for contact i: its phone punctuated, its email shouted, the start of its name. */
function queriesFor(i: number): Record<'phone' | 'email' | 'name', string> {
  const c = benchContact(i);
  const phone = c.phones![0]!.replace(/^\+1(\d{3})(\d{3})(\d{4})$/, '($1) $2-$3');
  const [first, last] = [c.name.split(' ')[0]!, c.name.split(' ').slice(1).join(' ')];
  return { phone, email: c.emails![0]!.toUpperCase(), name: `${first} ${last.slice(0, 3)}` };
}

/**
 * Lookups by phone, email and name on the big tenant, after the key indexer caught up with every
 * contact the bench wrote (its catch-up time is a figure too: a backfill's worth of keys).
 */
export async function lookupLatency(
  db: Db,
  opts: { baseUrl: string; adminToken: string; tenantId: string; contacts: number; samples: number },
): Promise<LookupFigures> {
  const started = performance.now();
  const indexed = await indexContactKeys(db, (c) => contactSearchKeys(c, REGION));
  const indexSeconds = (performance.now() - started) / 1000;
  await db.execute(sql`VACUUM (ANALYZE) contact_keys`);

  const rng = new Prng(16);
  const samples: Record<'phone' | 'email' | 'name', number[]> = { phone: [], email: [], name: [] };
  const bar = progress('lookups by phone, email and name', opts.samples * 3, 'requests');
  const headers = { authorization: `Bearer ${opts.adminToken}` };
  try {
    for (let s = 0; s < opts.samples; s++) {
      const i = rng.int(0, opts.contacts - 1);
      const id = String(100_000_000 + i);
      const queries = queriesFor(i);
      for (const kind of ['phone', 'email', 'name'] as const) {
        const param = kind === 'name' ? 'q' : kind;
        const url = `${opts.baseUrl}/admin/tenants/${opts.tenantId}/contacts?${new URLSearchParams({ [param]: queries[kind] }).toString()}`;
        const t0 = performance.now();
        const res = await fetch(url, { headers });
        const body = (await res.json()) as { contacts?: Array<{ id: string }> };
        samples[kind].push(performance.now() - t0);
        if (res.status !== 200 || !body.contacts) throw new Error(`lookup by ${kind}: HTTP ${res.status} ${JSON.stringify(body).slice(0, 300)}`);
        if (kind !== 'name' && !body.contacts.some((c) => c.id === id)) throw new Error(`lookup by ${kind} ${queries[kind]} did not find contact ${id}`);
        if (kind === 'name' && body.contacts.length === 0) throw new Error(`lookup by name ${queries.name} found nothing`);
        bar.increment();
      }
    }
  } finally {
    // A progress bar left running keeps the process alive.
    bar.stop();
  }

  const { rows: marks } = await db.execute<{ at: string; id: string }>(sql`
    SELECT indexed_at::text AS at, indexed_id AS id FROM contact_keys_state WHERE tenant_id = ${opts.tenantId}`);
  const query: LookupQuery = { by: 'phone', value: queriesFor(0).phone };
  const { rows: plan } = await db.execute<{ 'QUERY PLAN': string }>(
    sql`EXPLAIN (ANALYZE, COSTS OFF) ${lookupIndexSql(opts.tenantId, query, REGION, marks[0]!, 21)}`,
  );
  return {
    contacts: opts.contacts,
    index: { contacts: indexed, seconds: indexSeconds, perSecond: indexed / indexSeconds },
    phone: summarize(samples.phone),
    email: summarize(samples.email),
    name: summarize(samples.name),
    phonePlan: plan.map((r) => r['QUERY PLAN']).join('\n'),
  };
}
