import { sql } from 'drizzle-orm';
import type { Db } from '../../../src/db/client.js';
import { writeContacts } from '../../../src/mirror/writer.js';
import type { BridgeKeys } from '../../../src/tenants/keys.js';
import { createTenant } from '../../../src/tenants/repository.js';
import { benchContact } from '../contacts.js';
import { progress } from '../progress.js';

export interface WriterHistoryFigures {
  contacts: number;
  /** Contacts per second with history recorded (the writer as it ships) and with its rows dropped. */
  inserts: { withHistory: number; without: number; ratio: number };
  changed: { withHistory: number; without: number; ratio: number };
}

/**
 * The writer's price for its history (contact_history rows written in the same transaction),
 * measured as the writer ships against the same writer whose history rows are dropped before they
 * reach the table (a BEFORE INSERT trigger, on the second tenant only), batch for batch in
 * alternation so that a busy machine slows both alike. The lookup's key index costs the writer
 * nothing: it is kept off the write path (mirror/key-indexer.ts), and nothing of it is in here.
 */
export async function writerHistoryCost(db: Db, keys: BridgeKeys, contacts: number, batchSize: number): Promise<WriterHistoryFigures> {
  const tenant = async (name: string) => (await createTenant(db, keys, { name, crm: 'push', auth: { api_key: name }, backfillComplete: true })).id;
  const withHistory = await tenant('bench-history-on');
  const without = await tenant('bench-history-off');
  await db.execute(sql.raw(`
    CREATE OR REPLACE FUNCTION bench_drop_history() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NULL; END'`));
  await db.execute(sql.raw(`
    CREATE TRIGGER bench_drop_history BEFORE INSERT ON contact_history FOR EACH ROW
    WHEN (NEW.tenant_id = '${without}') EXECUTE FUNCTION bench_drop_history()`));
  const ms: Record<'inserts' | 'changed', { on: number; off: number }> = { inserts: { on: 0, off: 0 }, changed: { on: 0, off: 0 } };
  const bar = progress('writer with history vs without', contacts * 4, 'contacts');
  try {
    for (const [phase, version, expect] of [['inserts', 0, 'inserted'], ['changed', 1, 'updated']] as const) {
      for (let start = 0; start < contacts; start += batchSize) {
        const batch = Array.from({ length: Math.min(batchSize, contacts - start) }, (_, k) => benchContact(start + k, version, 3));
        const order = (start / batchSize) % 2 === 0 ? (['on', 'off'] as const) : (['off', 'on'] as const);
        for (const side of order) {
          const t0 = performance.now();
          const counts = await writeContacts(db, side === 'on' ? withHistory : without, batch, 'admin_push');
          ms[phase][side] += performance.now() - t0;
          if (counts[expect] !== batch.length) throw new Error(`writer ${side} ${phase}: ${JSON.stringify(counts)}`);
          bar.increment(batch.length);
        }
      }
    }
  } finally {
    bar.stop();
    await db.execute(sql`DROP TRIGGER bench_drop_history ON contact_history`);
    await db.execute(sql`DROP FUNCTION bench_drop_history()`);
  }
  const { rows } = await db.execute<{ n: string }>(sql`SELECT count(*) AS n FROM contact_history WHERE tenant_id = ${without}`);
  if (Number(rows[0]!.n) !== 0) throw new Error('the history-less side recorded history');
  const rate = (msTotal: number) => contacts / (msTotal / 1000);
  const figures = (p: { on: number; off: number }) => ({ withHistory: rate(p.on), without: rate(p.off), ratio: rate(p.on) / rate(p.off) });
  return { contacts, inserts: figures(ms.inserts), changed: figures(ms.changed) };
}
