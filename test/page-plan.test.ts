import t from 'tap';
import { sql } from 'drizzle-orm';
import { freshDatabase } from './helpers/database.js';
import { createTenant } from '../src/tenants/repository.js';
import { deriveKeys } from '../src/tenants/keys.js';
import { pageStatement } from '../src/sync/page-query.js';
import { MIN_KEY } from '../src/sync/cursor.js';

interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Index Cond'?: string;
  Plans?: PlanNode[];
}
const nodes = (n: PlanNode): PlanNode[] => [n, ...(n.Plans ?? []).flatMap(nodes)];

// The sync page must be one index range scan at any depth of any tenant: a sort or a
// sequential scan here would make every page cost the whole tenant.
t.test('the page query is an index range scan at the start, middle and end of a large tenant', async (t) => {
  const { db } = await freshDatabase(t);
  const keys = deriveKeys('plan-test-secret-plan-test-secret-00');
  const big = await createTenant(db, keys, { name: 'big', crm: 'push', auth: { t: 'big' }, backfillComplete: true });
  const small = await createTenant(db, keys, { name: 'small', crm: 'push', auth: { t: 'small' }, backfillComplete: true });
  // Rows straight from SQL: the plan depends on the data's shape, not on how it was written.
  for (const [tenant, n] of [[big.id, 60_000], [small.id, 500]] as const) {
    await db.execute(sql`
      INSERT INTO contacts (tenant_id, id, name, emails, doc, updated_at, deleted_at)
      SELECT ${tenant}, 'c' || g, 'Name ' || g, ARRAY['c' || g || '@example.com'],
             json_build_object('id', 'c' || g, 'name', 'Name ' || g, 'emails', ARRAY['c' || g || '@example.com'])::text,
             timestamptz '2026-01-01' + g * interval '1 millisecond',
             CASE WHEN g % 50 = 0 THEN timestamptz '2026-01-01' + g * interval '1 millisecond' END
      FROM generate_series(1, ${n}) g`);
  }
  await db.execute(sql`ANALYZE contacts`);

  const depths: Array<[string, bigint]> = [
    ['start', MIN_KEY.us],
    ['middle', BigInt(Date.parse('2026-01-01T00:00:30Z')) * 1000n],
    ['end', BigInt(Date.parse('2026-01-01T00:00:59.990Z')) * 1000n],
  ];
  for (const [depth, us] of depths) {
    const res = await db.execute<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(
      sql`EXPLAIN (FORMAT JSON) ${pageStatement(big.id, { us, id: '' }, 1000)}`,
    );
    const all = nodes(res.rows[0]!['QUERY PLAN'][0]!.Plan);
    const scans = all.filter((n) => /Scan/.test(n['Node Type']));
    t.notOk(all.some((n) => n['Node Type'] === 'Sort' || n['Node Type'] === 'Seq Scan'), `${depth}: no sort, no sequential scan`);
    const page = scans.find((n) => n['Index Cond']?.includes('updated_at'));
    t.ok(page, `${depth}: the page is an index scan`);
    t.equal(page?.['Index Name'], 'contacts_sync_key', `${depth}: on (tenant_id, updated_at, id)`);
    t.match(page?.['Index Cond'], /tenant_id = .*ROW\(updated_at, id\) > ROW/, `${depth}: tenant and key both bound the range`);
  }
});
