import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { eq, sql } from 'drizzle-orm';
import t from 'tap';
import { credentials, tenants } from '../src/db/schema.js';
import { createLogger } from '../src/logging.js';
import { CursorCodec } from '../src/sync/cursor.js';
import { authDigest } from '../src/tenants/auth-digest.js';
import { decryptCredentials } from '../src/tenants/credential-cipher.js';
import { bindingOf } from '../src/tenants/credentials.js';
import { deriveKeys } from '../src/tenants/keys.js';
import { adminHeaders } from './helpers/app.js';
import { freshDatabase } from './helpers/database.js';
import { queuePrefix, startBridgeProcess, type BridgeProcess } from './helpers/bridge-process.js';
import { eventually, startSim } from './helpers/ingest.js';
import { testRedisUrl } from './helpers/services.js';
import { syncRun } from './helpers/talkdesk.js';
import { FROM_SOURCE } from '../harness/from-source.js';

const SECRET_A = 'rotation-secret-A-rotation-secret-A-0001';
const SECRET_B = 'rotation-secret-B-rotation-secret-B-0002';
const PORTAL = 62515;
const HUBSPOT = { access_token: 'pat-na1-rotation-token' };
const PUSHED = { api_key: 'k-rotation-pushed' };

const rotateCli = fileURLToPath(new URL('../src/tenants/rotate-secret-cli.ts', import.meta.url));

/** The operator's command, as a process of its own with the server's environment. */
function runRotateCli(env: Record<string, string>, args: string[] = []) {
  return new Promise<{ code: number | null; report: Record<string, unknown>; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [...FROM_SOURCE, rotateCli, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      try {
        resolve({ code, report: JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as Record<string, unknown>, stderr });
      } catch (err) {
        reject(new Error(`${(err as Error).message}: ${stdout} ${stderr}`));
      }
    });
  });
}

t.test('BRIDGE_SECRET rotation: nothing made under the old secret stops working, and everything moves to the new one', async (t) => {
  const sim = await startSim(t, { portals: [{ portalId: PORTAL, tokens: [HUBSPOT.access_token], contacts: 30 }] });
  const database = await freshDatabase(t);
  const redisUrl = await testRedisUrl();
  const env = {
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: await queuePrefix(t, redisUrl),
    HUBSPOT_BASE_URL: sim.url,
    SYNC_INTERVAL_SECONDS: '1',
    HUBSPOT_SEARCH_OVERLAP_SECONDS: '0',
    DELETION_RESYNC_SECONDS: '0',
  };
  const db = database.db;
  // Each tenant here has one credential: its row holds the digest and the ciphertext.
  const row = async (id: string) => (await db.select().from(credentials).where(eq(credentials.tenantId, id)))[0]!;
  const bindingOfTenant = async (id: string) => bindingOf((await db.select().from(tenants).where(eq(tenants.id, id)))[0]!);
  const nameOf = async (tenantId: string, id: string) =>
    (await db.execute<{ name: string }>(sql`SELECT name FROM contacts WHERE tenant_id = ${tenantId} AND id = ${id}`)).rows[0]?.name;

  // Under secret A: a HubSpot tenant onboarded by its token, a pushed one, and Talkdesk's checkpoints.
  const a = await startBridgeProcess(t, database, { ...env, BRIDGE_SECRET: SECRET_A });
  t.equal((await a.app.inject({ method: 'POST', url: '/auth_validation', payload: { auth: HUBSPOT } })).statusCode, 204);
  const created = await a.app.inject({ method: 'POST', url: '/admin/tenants', headers: adminHeaders, payload: { name: 'pushed', auth: PUSHED } });
  const pushedId = created.json().id as string;
  await a.app.inject({ method: 'PUT', url: `/admin/tenants/${pushedId}/contacts`, headers: adminHeaders, payload: [{ id: 'p1', name: 'Pushed One' }] });
  await eventually('the backfill completes', async () => (await syncRun(a.sync, HUBSPOT)).checkpoint !== undefined);
  const hubspotRun = await syncRun(a.sync, HUBSPOT);
  t.equal(hubspotRun.contacts.length, 30);
  const pushedRun = await syncRun(a.sync, PUSHED);
  const [hubspotId] = (await db.select({ id: tenants.id }).from(tenants).where(eq(tenants.crm, 'hubspot'))).map((r) => r.id);
  const beforeHubspot = await row(hubspotId!);
  const beforePushed = await row(pushedId);
  await a.close();

  // Restart with BRIDGE_SECRET=B and BRIDGE_SECRET_PREVIOUS=A.
  const edited = sim.control.liveContacts({ portalId: PORTAL })[0]!;
  sim.control.editContact(edited.id, { firstname: 'Rotated' });
  const logLines: string[] = [];
  const logger = createLogger('info', { write: (line: string) => void logLines.push(line) });
  const ab = await startBridgeProcess(t, database, { ...env, BRIDGE_SECRET: SECRET_B, BRIDGE_SECRET_PREVIOUS: SECRET_A }, logger);

  // Before Talkdesk calls at all, the workers open A's ciphertext and ingest the edit.
  await eventually('the workers ingest under the new configuration', async () => (await nameOf(hubspotId!, edited.id))?.startsWith('Rotated') ?? false);
  t.equal((await row(hubspotId!)).secret, beforeHubspot.secret, 'the workers read the credentials as they were under A');

  const incremental = await syncRun(ab.sync, HUBSPOT, hubspotRun.checkpoint);
  t.same(incremental.contacts.map((c) => c.id), [edited.id], "Talkdesk's checkpoint from before the rotation still works, and the tenant authenticates");
  t.ok(logLines.some((l) => l.includes('token signed under BRIDGE_SECRET_PREVIOUS accepted')), 'and is logged as one only the previous secret verifies');
  const underB = deriveKeys(SECRET_B);
  t.ok(new CursorCodec(underB.cursorTokens).decodeCheckpoint(hubspotId!, incremental.checkpoint!), 'the new checkpoint is signed with B');
  t.throws(() => new CursorCodec(deriveKeys(SECRET_A).cursorTokens).decodeCheckpoint(hubspotId!, incremental.checkpoint!), { code: 'INVALID_CHECKPOINT' });

  const afterUse = await row(hubspotId!);
  t.not(afterUse.secret, beforeHubspot.secret, 'first use rewrote the ciphertext');
  t.notSame(afterUse.digest, beforeHubspot.digest, 'and the digest');
  t.same(afterUse.digest, authDigest(underB.authDigest, HUBSPOT), 'the digest is under B');
  t.same(decryptCredentials(underB, afterUse.secret, await bindingOfTenant(hubspotId!)), HUBSPOT, 'the credentials open with B alone');
  t.equal((await row(pushedId)).secret, beforePushed.secret, 'a credential not used yet is still under A');

  // The operator's one-shot rewrite takes the rest, and says when nothing is left.
  const cliEnv = { DATABASE_URL: database.url, BRIDGE_SECRET: SECRET_B, BRIDGE_SECRET_PREVIOUS: SECRET_A };
  const pending = await runRotateCli(cliEnv, ['--check']);
  t.match(pending, { code: 1, report: { credentials: 2, current: 1, pending: 1, rewritten: 0, unreadable: [], complete: false } }, '--check: one credential left');
  t.equal((await row(pushedId)).secret, beforePushed.secret, '--check writes nothing');
  t.match(await runRotateCli(cliEnv), { code: 0, report: { rewritten: 1, pending: 0, complete: true } });
  t.match(await runRotateCli(cliEnv, ['--check']), { code: 0, report: { credentials: 2, current: 2, pending: 0, complete: true } }, 'rotation complete');
  const pushedAfter = await row(pushedId);
  t.same(pushedAfter.digest, authDigest(underB.authDigest, PUSHED));
  t.same(decryptCredentials(underB, pushedAfter.secret, await bindingOfTenant(pushedId)), PUSHED);
  const pushedIncremental = await syncRun(ab.sync, PUSHED, pushedRun.checkpoint);
  t.same(pushedIncremental.contacts, [], 'the pushed tenant authenticates and its old checkpoint works');
  await ab.close();

  // BRIDGE_SECRET_PREVIOUS removed: B alone serves both tenants and keeps ingesting.
  sim.control.editContact(edited.id, { firstname: 'AfterRotation' });
  const b = await startBridgeProcess(t, database, { ...env, BRIDGE_SECRET: SECRET_B });
  await eventually('the workers ingest under B alone', async () => (await nameOf(hubspotId!, edited.id))?.startsWith('AfterRotation') ?? false);
  const last = await syncRun(b.sync, HUBSPOT, incremental.checkpoint);
  t.same(last.contacts.map((c) => c.id), [edited.id], 'the checkpoint issued during the rotation works under B alone');
  t.same((await syncRun(b.sync, PUSHED, pushedIncremental.checkpoint)).contacts, []);
  const stale = await b.sync({ auth: HUBSPOT, meta: { synchronization_checkpoint: hubspotRun.checkpoint } });
  t.match(stale, { statusCode: 400, body: { error: 'INVALID_CHECKPOINT' } }, 'a checkpoint only A signed is refused once A is gone');
});

t.test('a rotation leaves no tenant answering twice for the same credentials', async (t) => {
  const database = await freshDatabase(t);
  const redisUrl = await testRedisUrl();
  const env = { REDIS_URL: redisUrl, QUEUE_PREFIX: await queuePrefix(t, redisUrl) };
  const register = (p: BridgeProcess) =>
    p.app.inject({ method: 'POST', url: '/admin/tenants', headers: adminHeaders, payload: { name: 'again', auth: PUSHED } });
  const a = await startBridgeProcess(t, database, { ...env, BRIDGE_SECRET: SECRET_A });
  t.equal((await register(a)).statusCode, 201);
  await a.close();
  const ab = await startBridgeProcess(t, database, { ...env, BRIDGE_SECRET: SECRET_B, BRIDGE_SECRET_PREVIOUS: SECRET_A });
  const again = await register(ab);
  t.equal(again.statusCode, 409, 'the credentials are registered, under the previous secret');
  t.equal(again.json().error, 'DUPLICATE_CREDENTIALS');
  const { rows } = await database.db.execute<{ n: string }>(sql`SELECT count(*) AS n FROM tenants`);
  t.equal(rows[0]!.n, '1');
});
