import { sql } from 'drizzle-orm';
import type { Db } from '../../../src/db/client.js';
import { MIN_KEY, type Key } from '../../../src/sync/cursor.js';
import { pageStatement } from '../../../src/sync/page-query.js';
import { progress } from '../progress.js';
import { median, summarize, type Summary } from '../stats.js';

export interface DepthPoint {
  /** Fraction of the tenant before the page: 0 is the first page, 1 the last. */
  depth: number;
  rowsBefore: number;
  keyset: Summary;
  offset: Summary;
}

export interface DepthFigures {
  points: DepthPoint[];
  rounds: number;
  /** Median over rounds of keyset p99 at the end ÷ keyset p99 at depth 0. */
  keysetEndOverStartP99: number;
  /** Median over rounds of OFFSET p50 at the end ÷ OFFSET p50 at depth 0. */
  offsetEndOverStartP50: number;
  /** Median over rounds of OFFSET p50 ÷ keyset p50 at the end. */
  offsetOverKeysetAtEnd: number;
}

/**
 * The same page (same rows, same JSON) fetched two ways at several depths: by key, as the sync
 * endpoint does, and by OFFSET, as a page-number API would. Timed from the application, result
 * parsing included, in interleaved rounds so a noisy moment hits both methods alike.
 */
export async function pageLatencyByDepth(
  db: Db,
  tenantId: string,
  { live, pageSize, depths, rounds, keysetSamples, offsetSamples }: {
    live: number;
    pageSize: number;
    depths: number[];
    rounds: number;
    keysetSamples: number;
    offsetSamples: number;
  },
): Promise<DepthFigures> {
  const targets = await Promise.all(
    depths.map(async (depth) => {
      const rowsBefore = Math.round(depth * Math.max(0, live - pageSize));
      return { depth, rowsBefore, key: await keyBefore(db, tenantId, rowsBefore) };
    }),
  );
  const samples = targets.map(() => ({ keyset: [] as number[], offset: [] as number[] }));
  const perRound = { keysetEnd: [] as number[], offsetEnd: [] as number[], offsetOverKeyset: [] as number[] };
  const bar = progress('page latency by depth', rounds * depths.length, 'depth×round');
  for (let r = 0; r < rounds; r++) {
    const round = targets.map(() => ({ keyset: [] as number[], offset: [] as number[] }));
    for (const [i, target] of targets.entries()) {
      for (let s = 0; s < keysetSamples; s++) round[i]!.keyset.push(await time(() => db.execute(pageStatement(tenantId, target.key, pageSize))));
      for (let s = 0; s < offsetSamples; s++) round[i]!.offset.push(await time(() => db.execute(offsetPage(tenantId, target.rowsBefore, pageSize))));
      samples[i]!.keyset.push(...round[i]!.keyset);
      samples[i]!.offset.push(...round[i]!.offset);
      bar.increment();
    }
    const first = round[0]!;
    const last = round[round.length - 1]!;
    perRound.keysetEnd.push(summarize(last.keyset).p99 / summarize(first.keyset).p99);
    perRound.offsetEnd.push(summarize(last.offset).p50 / summarize(first.offset).p50);
    perRound.offsetOverKeyset.push(summarize(last.offset).p50 / summarize(last.keyset).p50);
  }
  bar.stop();
  return {
    points: targets.map((t, i) => ({ depth: t.depth, rowsBefore: t.rowsBefore, keyset: summarize(samples[i]!.keyset), offset: summarize(samples[i]!.offset) })),
    rounds,
    keysetEndOverStartP99: median(perRound.keysetEnd),
    offsetEndOverStartP50: median(perRound.offsetEnd),
    offsetOverKeysetAtEnd: median(perRound.offsetOverKeyset),
  };
}

async function time(fn: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await fn();
  return performance.now() - started;
}

/** The key a keyset page starting after `rowsBefore` live contacts continues from. */
async function keyBefore(db: Db, tenantId: string, rowsBefore: number): Promise<Key> {
  if (rowsBefore === 0) return MIN_KEY;
  const { rows } = await db.execute<{ us: string; id: string }>(sql`
    SELECT (extract(epoch FROM updated_at) * 1000000)::bigint::text AS us, id
    FROM contacts WHERE tenant_id = ${tenantId} AND deleted_at IS NULL
    ORDER BY updated_at, id OFFSET ${rowsBefore - 1} LIMIT 1`);
  return { us: BigInt(rows[0]!.us), id: rows[0]!.id };
}

/** The same page as pageStatement builds (the stored documents, joined), found by counting rows instead of by key. */
function offsetPage(tenantId: string, rowsBefore: number, pageSize: number) {
  return sql`
    SELECT coalesce(string_agg(doc, ',' ORDER BY p.updated_at, p.id), '') AS docs
    FROM (
      SELECT doc, updated_at, id
      FROM contacts
      WHERE tenant_id = ${tenantId} AND deleted_at IS NULL
      ORDER BY updated_at, id
      OFFSET ${rowsBefore} LIMIT ${pageSize}
    ) p`;
}
