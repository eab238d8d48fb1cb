// `node --import tsx harness/bench/writer-speed.ts [contacts] [rounds]`: the mirror writer alone, on a
// fresh database of the tests' server: inserts, unchanged rewrites and changed rewrites of the same
// contacts in batches of 10,000, best of `rounds`. A quick before/after check of a change to the
// writer, without the whole of `npm run bench`.
import { deriveKeys } from '../../src/tenants/keys.js';
import { createTenant } from '../../src/tenants/repository.js';
import { writeContacts } from '../../src/mirror/writer.js';
import { createBenchDatabase } from './database.js';
import { benchServices } from './services.js';
import { inProcessWriter, writeRange, type WriteRun } from './phases/ingest.js';

const total = Number(process.argv[2] ?? 100_000);
const rounds = Number(process.argv[3] ?? 3);
const batchSize = 10_000;

const database = await createBenchDatabase(benchServices().adminUrl, 4);
try {
  const keys = deriveKeys('bench-secret-bench-secret-bench-secret');
  const best: Record<string, WriteRun> = {};
  const keep = (label: string, run: WriteRun) => {
    if (!best[label] || run.perSecond > best[label].perSecond) best[label] = run;
  };
  for (let r = 0; r < rounds; r++) {
    const tenant = await createTenant(database.db, keys, { name: `w${r}`, crm: 'push', auth: { api_key: `w${r}` }, backfillComplete: true });
    const writer = inProcessWriter((b) => writeContacts(database.db, tenant.id, b, 'admin_push'));
    keep('inserts', await writeRange('inserts', writer, { from: 0, to: total, version: 0, batchSize, expect: 'inserted' }));
    keep('unchanged', await writeRange('unchanged', writer, { from: 0, to: total, version: 0, batchSize, expect: 'unchanged' }));
    keep('changed', await writeRange('changed', writer, { from: 0, to: total, version: 1, batchSize, expect: 'updated' }));
  }
  for (const [label, run] of Object.entries(best)) {
    console.log(`${label.padEnd(10)} ${Math.round(run.perSecond).toLocaleString('en-US').padStart(8)} contacts/s (${run.seconds.toFixed(2)} s)`);
  }
} finally {
  await database.drop();
}
