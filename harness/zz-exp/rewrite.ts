import { sql } from 'drizzle-orm';
import { writeContacts } from '../../src/mirror/writer.js';
import { deriveKeys } from '../../src/tenants/keys.js';
import { createTenant } from '../../src/tenants/repository.js';
import { createBenchDatabase } from '../bench/database.js';
import { httpWriter, inProcessWriter, rewrite, writeRange } from '../bench/phases/ingest.js';
import { startServer } from '../bench/server-process.js';
import { benchServices } from '../bench/services.js';

const N = Number(process.env.N ?? 200_000);
const R = Number(process.env.R ?? 100_000);
const VAC = process.env.VAC === '1';
const services = benchServices();
const database = await createBenchDatabase(services.adminUrl, 10);
const SECRET = 'bench-secret-bench-secret-bench-secret';
const keys = deriveKeys(SECRET);
const server = await startServer({ DATABASE_URL: database.url, REDIS_URL: services.redisUrl, BRIDGE_SECRET: SECRET, ADMIN_TOKEN: 'bench-admin-token-0123456789', QUEUE_PREFIX: 'cbexp', LOG_LEVEL: 'warn' });
try {
  const main = await createTenant(database.db, keys, { name: 'm', crm: 'push', auth: { api_key: 'm' }, backfillComplete: true });
  const h = await createTenant(database.db, keys, { name: 'h', crm: 'push', auth: { api_key: 'h' }, backfillComplete: true });
  const ip = inProcessWriter((b) => writeContacts(database.db, main.id, b));
  await writeRange('load', ip, { from: 0, to: N, version: 0, batchSize: 10000, expect: 'inserted' });
  const hw = httpWriter(server.baseUrl, 'bench-admin-token-0123456789', h.id);
  await writeRange('loadh', hw, { from: 0, to: N, version: 0, batchSize: 10000, expect: 'inserted' });
  if (VAC) await database.db.execute(sql`VACUUM (ANALYZE) contacts`);
  const a = await rewrite('ip', ip, R, 10000, 1);
  const b = await rewrite('http', hw, R, 10000, 1);
  console.log(JSON.stringify({ VAC, ip: [a.unchanged.seconds, a.changed.seconds, a.ratio], http: [b.unchanged.seconds, b.changed.seconds, b.ratio] }));
  // a second round on the same rows, now settled
  const a2 = await rewrite("ip2", ip, R, 10000, 2);
  const b2 = await rewrite("http2", hw, R, 10000, 2);
  console.log(JSON.stringify({ round: 2, ip: [a2.unchanged.seconds, a2.changed.seconds, a2.ratio], http: [b2.unchanged.seconds, b2.changed.seconds, b2.ratio] }));
} finally {
  await server.stop();
  await database.drop();
}
