// `node --import tsx harness/bench/writer-ab.ts <other writer.ts> [contacts] [rounds]`: this tree's
// mirror writer against another (e.g. the previous commit's, extracted with git archive) on one
// database, batch for batch in alternation, so a busy machine slows both alike. Inserts, changed
// rewrites; prints each side's total time in the writer and the ratio.
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { deriveKeys } from '../../src/tenants/keys.js';
import { createTenant } from '../../src/tenants/repository.js';
import { writeContacts, type WriteCounts } from '../../src/mirror/writer.js';
import type { Contact } from '../../src/mirror/contact.js';
import { benchContact } from './contacts.js';
import { createBenchDatabase } from './database.js';
import { benchServices } from './services.js';

type Write = (db: unknown, tenantId: string, batch: Contact[]) => Promise<WriteCounts>;
const otherPath = process.argv[2];
if (!otherPath) throw new Error('usage: writer-ab.ts <other writer.ts> [contacts] [rounds]');
const other = (await import(pathToFileURL(resolve(otherPath)).href)) as { writeContacts: (...a: unknown[]) => Promise<WriteCounts> };
const total = Number(process.argv[3] ?? 100_000);
const rounds = Number(process.argv[4] ?? 2);
const batchSize = 10_000;

const sides: Record<string, Write> = {
  // The other writer may take a source or not; extra arguments are ignored by one that does not.
  other: (db, id, b) => other.writeContacts(db, id, b, other.writeContacts.length >= 5 ? 'admin_push' : undefined),
  this: (db, id, b) => writeContacts(db as never, id, b, 'admin_push'),
};
const database = await createBenchDatabase(benchServices().adminUrl, 4);
try {
  const keys = deriveKeys('bench-secret-bench-secret-bench-secret');
  const ms: Record<string, Record<string, number>> = { other: {}, this: {} };
  for (let r = 0; r < rounds; r++) {
    const tenants: Record<string, string> = {};
    for (const side of Object.keys(sides)) {
      tenants[side] = (await createTenant(database.db, keys, { name: `${side}${r}`, crm: 'push', auth: { api_key: `${side}${r}` }, backfillComplete: true })).id;
    }
    for (const [phase, version, expect] of [['inserts', 0, 'inserted'], ['changed', 1, 'updated'], ['changed again', 2, 'updated']] as const) {
      for (let start = 0; start < total; start += batchSize) {
        const batch = Array.from({ length: Math.min(batchSize, total - start) }, (_, k) => benchContact(start + k, version));
        // Alternate which side goes first, so neither always meets a warmer cache.
        const order = (start / batchSize) % 2 === 0 ? ['other', 'this'] : ['this', 'other'];
        for (const side of order) {
          const t0 = performance.now();
          const counts = await sides[side]!(database.db, tenants[side]!, batch);
          ms[side]![phase] = (ms[side]![phase] ?? 0) + performance.now() - t0;
          if (counts[expect] !== batch.length) throw new Error(`${side} ${phase}: ${JSON.stringify(counts)}`);
        }
      }
    }
  }
  for (const phase of Object.keys(ms.this!)) {
    const a = ms.other![phase]!;
    const b = ms.this![phase]!;
    const rate = (x: number) => Math.round((total * rounds) / (x / 1000)).toLocaleString('en-US');
    console.log(`${phase.padEnd(14)} other ${rate(a).padStart(7)}/s   this ${rate(b).padStart(7)}/s   this/other time ${(b / a).toFixed(3)}`);
  }
} finally {
  // An autovacuum worker on the database can refuse the forced drop; the figures are printed by then.
  await database.drop().catch((err: Error) => console.error(`could not drop the bench database: ${err.message}`));
}
