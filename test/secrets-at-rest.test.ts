import { randomBytes, randomUUID } from 'node:crypto';
import { Job, Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { sql } from 'drizzle-orm';
import t, { type Test } from 'tap';
import { createLogger } from '../src/logging.js';
import { ADMIN_TOKEN, adminHeaders } from './helpers/app.js';
import { pgDump, recordRedisCommands, redisContents } from './helpers/at-rest.js';
import { queuePrefix, startBridgeProcess } from './helpers/bridge-process.js';
import { freshDatabase } from './helpers/database.js';
import { eventually, startSim } from './helpers/ingest.js';
import { findSecrets } from './helpers/secret-encodings.js';
import { testRedisUrl } from './helpers/services.js';
import { syncRun } from './helpers/talkdesk.js';

const PORTAL = 62515;
// Recognisable and random, so a match can only be this run's credential. The pushed secret has
// characters that URL and form encoding change.
const HUBSPOT_TOKEN = `pat-na1-${randomUUID()}`;
const PUSHED_SECRET = `k-${randomBytes(12).toString('hex')}+/ é=&?`;
const SECRETS = { 'HubSpot token': HUBSPOT_TOKEN, 'pushed secret': PUSHED_SECRET };

/**
 * Every job's data as the code hands it to BullMQ, through every way in: adds, scheduler
 * templates (whose data BullMQ copies into each job it spawns) and updates.
 */
function recordJobData(t: Test): unknown[] {
  const seen: unknown[] = [];
  const queue = Queue.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;
  const job = Job.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;
  const wrap = (target: Record<string, (...args: unknown[]) => unknown>, method: string, dataOf: (args: unknown[]) => unknown[]) => {
    const original = target[method]!;
    target[method] = function (this: unknown, ...args: unknown[]) {
      seen.push(...dataOf(args));
      return original.apply(this, args);
    };
    t.teardown(() => {
      target[method] = original;
    });
  };
  wrap(queue, 'add', (args) => [args[1]]);
  wrap(queue, 'addBulk', (args) => (args[0] as Array<{ data: unknown }>).map((j) => j.data));
  wrap(queue, 'upsertJobScheduler', (args) => [(args[2] as { data?: unknown } | undefined)?.data]);
  wrap(job, 'updateData', (args) => [args[0]]);
  return seen;
}

t.test('no credential is stored or logged in any form: PostgreSQL, Redis (even briefly), logs', async (t) => {
  const jobData = recordJobData(t);
  const redisUrl = await testRedisUrl();
  const monitor = await recordRedisCommands(redisUrl);
  t.teardown(monitor.stop);
  const logLines: string[] = [];
  const logger = createLogger('trace', { write: (line: string) => void logLines.push(line) });

  const sim = await startSim(t, { portals: [{ portalId: PORTAL, tokens: [HUBSPOT_TOKEN], contacts: 250 }] });
  const database = await freshDatabase(t);
  const prefix = await queuePrefix(t, redisUrl);
  const bridge = await startBridgeProcess(
    t,
    database,
    { BRIDGE_SECRET: randomBytes(24).toString('base64url'), REDIS_URL: redisUrl, QUEUE_PREFIX: prefix, HUBSPOT_BASE_URL: sim.url, SYNC_INTERVAL_SECONDS: '1', SYNC_PAGE_SIZE: '100', HUBSPOT_SEARCH_OVERLAP_SECONDS: '0' },
    logger,
  );
  const { app } = bridge;
  const hubspot = { access_token: HUBSPOT_TOKEN };
  const pushed = { api_key: PUSHED_SECRET };

  // Onboarding through the real path, errors included: HubSpot failing the first verification.
  sim.control.failNext({ count: 1, status: 502 });
  t.equal((await app.inject({ method: 'POST', url: '/auth_validation', payload: { auth: hubspot } })).statusCode, 503);
  t.equal((await app.inject({ method: 'POST', url: '/auth_validation', payload: { auth: hubspot } })).statusCode, 204);
  // The backfill meets a 5xx and a 429 on its way, so the workers' error paths log too.
  sim.control.failNext({ count: 2, status: 500 });
  sim.control.rateLimitNext({ count: 1, retryAfterSeconds: 1 });
  t.equal((await bridge.sync({ auth: hubspot, meta: {} })).statusCode, 200);
  await eventually('the backfill completes', async () => (await syncRun(bridge.sync, hubspot)).checkpoint !== undefined);
  const run = await syncRun(bridge.sync, hubspot);
  t.equal(run.contacts.length, 250);
  sim.control.editContact(sim.control.liveContacts({ portalId: PORTAL })[0]!.id, { firstname: 'Edited' });
  await eventually('an incremental pass', async () => (await syncRun(bridge.sync, hubspot, run.checkpoint)).contacts.length > 0);

  // A tenant pushed through the admin API, with its own secret credentials.
  const created = await app.inject({ method: 'POST', url: '/admin/tenants', headers: adminHeaders, payload: { name: 'pushed', auth: pushed } });
  t.equal(created.statusCode, 201);
  const pushedId = created.json().id as string;
  await app.inject({ method: 'PUT', url: `/admin/tenants/${pushedId}/contacts`, headers: adminHeaders, payload: [{ id: 'p1', name: 'Pushed' }] });
  t.equal((await syncRun(bridge.sync, pushed)).contacts.length, 1);

  // Requests carrying the credentials that fail: each is an error path that could log its body.
  for (const body of [
    { auth: hubspot, meta: { synchronization_checkpoint: 'v1.not.valid' } },
    { auth: hubspot, meta: { offset: 17 } },
    { auth: pushed, meta: { offset: 'v1.forged.token' } },
    { auth: { ...pushed, extra: 1 }, meta: {} },
    { auth: [HUBSPOT_TOKEN], meta: {} },
  ]) {
    const res = await app.inject({ method: 'POST', url: '/contact_sync', payload: body });
    t.ok(res.statusCode >= 400 && res.statusCode < 500, `refused: ${res.statusCode}`);
  }
  t.equal((await app.inject({ method: 'POST', url: '/admin/tenants', headers: adminHeaders, payload: { name: 'again', auth: pushed } })).statusCode, 409);

  // Revoked at HubSpot: the workers' 401 path, then Talkdesk's retries with the dead token.
  sim.control.revokeToken(HUBSPOT_TOKEN);
  await eventually('the tenant is marked credentials_failed', async () => {
    const { rows } = await database.db.execute<{ status: string }>(sql`SELECT status FROM tenants WHERE crm = 'hubspot'`);
    return rows[0]!.status === 'credentials_failed';
  });
  t.equal((await bridge.sync({ auth: hubspot, meta: {} })).statusCode, 401);
  await bridge.close();

  // What there is to search.
  const redis = new Redis(redisUrl);
  t.teardown(() => redis.disconnect());
  const dump = await pgDump(database.url);
  const stored = await redisContents(redis);
  const logs = logLines.join('');
  const commands = monitor.commands().join('\n');
  const tenantIds = (await database.db.execute<{ id: string }>(sql`SELECT id FROM tenants`)).rows.map((r) => r.id);

  // Each source really holds what the search is meant to look through.
  t.ok(tenantIds.length === 2 && tenantIds.every((id) => dump.includes(id)), 'the dump has both tenants');
  t.match(dump, /COPY public\.contacts /, 'and the contacts table data');
  t.ok(stored.text.includes(`${prefix}:ingest:`), `Redis holds the queue (${stored.keys} keys)`);
  t.ok(commands.includes(prefix) && /evalsha/i.test(commands), `MONITOR saw the queue's commands (${monitor.commands().length})`);
  const roles = new Set(logLines.map((l) => (JSON.parse(l) as { role?: string }).role));
  t.ok(roles.has('api') && roles.has('worker'), `logs from the API and the workers (${logLines.length} lines)`);
  t.ok(jobData.length > 0, `job data captured as added (${jobData.length})`);

  const secretsAndAdmin = { ...SECRETS, 'admin token': ADMIN_TOKEN };
  t.same(findSecrets(dump, SECRETS, 'pg_dump'), [], 'pg_dump: no credential in any encoding');
  t.same(findSecrets(stored.text, SECRETS, 'Redis keys and values'), [], 'Redis: no credential in any key or value');
  t.same(findSecrets(commands, SECRETS, 'Redis commands'), [], 'Redis: no credential in any command, not even briefly');
  t.same(findSecrets(logs, secretsAndAdmin, 'logs'), [], 'logs at trace level: no credential, nor the admin token');

  for (const data of jobData) {
    t.same(Object.keys(data as object).sort(), ['kind', 'tenantId'], `job data is a kind and a tenant id: ${JSON.stringify(data)}`);
    t.ok(tenantIds.includes((data as { tenantId: string }).tenantId));
  }
  t.same(findSecrets(JSON.stringify(jobData), SECRETS, 'job data'), []);

  // The search can fail: the same collectors and search find the token wherever it is planted.
  const token = Buffer.from(JSON.stringify({ auth: hubspot }));
  await database.db.execute(sql.raw(`CREATE TABLE planted (b bytea, t text)`));
  await database.db.execute(sql`INSERT INTO planted VALUES (${token}, ${token.toString('base64')})`);
  const plantedKey = `${prefix}:planted`;
  t.teardown(() => redis.del(plantedKey, `${plantedKey}:h`, `${plantedKey}:s`).then(() => {}));
  await redis.set(plantedKey, token.toString('base64url'));
  await redis.hset(`${plantedKey}:h`, 'field', encodeURIComponent(PUSHED_SECRET));
  await redis.xadd(`${plantedKey}:s`, '*', 'data', token.toString('hex'));
  logger.info({ note: token.toString('hex') }, 'planted');
  const found = (haystack: string, secret: string, encoding: string) =>
    findSecrets(haystack, { planted: secret }, 'planted').some((f) => f.encoding.startsWith(encoding));
  const plantedDump = await pgDump(database.url);
  t.ok(found(plantedDump, HUBSPOT_TOKEN, 'hex') && found(plantedDump, HUBSPOT_TOKEN, 'base64'), 'planted in PostgreSQL (bytea, base64 text): found');
  const plantedRedis = (await redisContents(redis)).text;
  t.ok(found(plantedRedis, HUBSPOT_TOKEN, 'base64url'), 'planted in a Redis string: found');
  t.ok(found(plantedRedis, HUBSPOT_TOKEN, 'hex'), 'in a stream entry: found');
  t.ok(found(plantedRedis, PUSHED_SECRET, 'url'), 'in a hash field: found');
  const plantedCommands = monitor.commands().join('\n');
  t.ok(found(plantedCommands, HUBSPOT_TOKEN, 'base64url') && found(plantedCommands, PUSHED_SECRET, 'url'), 'in Redis commands: found');
  t.ok(found(logLines.join(''), HUBSPOT_TOKEN, 'hex'), 'in a log line: found');
});
