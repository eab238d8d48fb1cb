import t from 'tap';
import { sql } from 'drizzle-orm';
import { deriveKeys } from '../src/tenants/keys.js';
import { decryptCredentials, encryptCredentials } from '../src/tenants/credential-cipher.js';
import { adminHeaders } from './helpers/app.js';
import { buildIngestStack, eventually, startSim } from './helpers/ingest.js';
import { syncRun } from './helpers/talkdesk.js';

const PORTAL = 7301;
const PRODUCTION = { access_token: 'pat-production' };
const SANDBOX = { access_token: 'pat-sandbox' };

/** How many account-details calls (verifications) the simulator has answered, whatever their status. */
function accountInfoCalls(stats: { byEndpoint: Record<string, Record<string, number> | undefined> }): number {
  return Object.values(stats.byEndpoint['account-info'] ?? {}).reduce((a, b) => a + b, 0);
}

async function tenantCount(h: Awaited<ReturnType<typeof buildIngestStack>>): Promise<number> {
  return (await h.database.db.execute<{ n: number }>(sql`SELECT count(*)::int AS n FROM tenants`)).rows[0]!.n;
}

t.test('two Talkdesk accounts on one portal both sync, neither displacing the other nor re-verified on each call', async (t) => {
  const sim = await startSim(t, { portals: [{ portalId: PORTAL, tokens: [PRODUCTION.access_token, SANDBOX.access_token], contacts: 40 }] });
  const h = await buildIngestStack(t, sim, { SYNC_PAGE_SIZE: '25' });

  t.equal((await h.sync({ auth: PRODUCTION, meta: {} })).statusCode, 200, 'production onboards the portal');
  await eventually('the backfill completes', async () => (await syncRun(h.sync, PRODUCTION)).checkpoint !== undefined);
  t.equal((await h.app.inject({ method: 'POST', url: '/auth_validation', payload: { auth: SANDBOX } })).statusCode, 204, 'the sandbox account activates');
  t.equal(await tenantCount(h), 1, 'one tenant: the portal');

  // Ingest keeps polling meanwhile; verification is the account-details call, which only
  // verification makes: its count must not move while both copies sync.
  const verifications = () => accountInfoCalls(sim.control.stats());
  const before = verifications();
  const production = await syncRun(h.sync, PRODUCTION);
  const sandbox = await syncRun(h.sync, SANDBOX);
  t.equal(production.contacts.length, 40, 'production still syncs every contact');
  t.equal(sandbox.contacts.length, 40, 'and so does the sandbox');
  for (let i = 0; i < 3; i++) await h.sync({ auth: PRODUCTION, meta: {} });
  t.equal(verifications(), before, 'neither credential was verified again');

  const summary = (await h.app.inject({ method: 'GET', url: `/admin/tenants/${(await h.database.db.execute<{ id: string }>(sql`SELECT id FROM tenants`)).rows[0]!.id}`, headers: adminHeaders })).json();
  t.equal(summary.credentials.length, 2, 'the tenant lists both credentials');
  t.same(summary.credentials.map((c: { status: string }) => c.status), ['working', 'working']);
  t.notMatch(JSON.stringify(summary), /pat-production|pat-sandbox/, 'never their values');
});

t.test('each Talkdesk copy has its own deletion record: one full run says nothing of the other copy', async (t) => {
  const sim = await startSim(t, { portals: [{ portalId: PORTAL, tokens: [PRODUCTION.access_token, SANDBOX.access_token], contacts: 10 }] });
  const h = await buildIngestStack(t, sim, { DELETE_RECONCILE_SECONDS: '1' });
  t.equal((await h.sync({ auth: PRODUCTION, meta: {} })).statusCode, 200);
  await eventually('the backfill completes', async () => (await syncRun(h.sync, PRODUCTION)).checkpoint !== undefined);
  const production = await syncRun(h.sync, PRODUCTION);
  const sandbox = await syncRun(h.sync, SANDBOX);

  const gone = sim.control.liveContacts({ portalId: PORTAL })[0]!.id;
  sim.control.archiveContacts([gone], { portalId: PORTAL });
  await eventually('the deletion reaches the mirror', async () =>
    (await h.database.db.execute<{ n: number }>(sql`SELECT count(*)::int AS n FROM contacts WHERE deleted_at IS NOT NULL`)).rows[0]!.n === 1);

  // Production's incremental run finds the tombstone: no checkpoint, so its next run is a full one.
  t.equal((await syncRun(h.sync, PRODUCTION, production.checkpoint!)).checkpoint, undefined, 'production: deletions pending, checkpoint withheld');
  const productionFull = await syncRun(h.sync, PRODUCTION);
  t.notOk(productionFull.contacts.some((c) => c.id === gone), "production's full run replaces its copy without the deleted contact");
  t.type((await syncRun(h.sync, PRODUCTION, productionFull.checkpoint!)).checkpoint, 'string', 'production: nothing pending any more');

  // The sandbox copy still holds the contact: production's full run must not count for it.
  t.equal((await syncRun(h.sync, SANDBOX, sandbox.checkpoint!)).checkpoint, undefined, 'sandbox: its deletion is still pending');
});

t.test('a refused credential is set aside: the workers move to the newest that works, and the tenant stops only when none does', async (t) => {
  const sim = await startSim(t, { portals: [{ portalId: PORTAL, tokens: [PRODUCTION.access_token, SANDBOX.access_token], contacts: 10 }] });
  const h = await buildIngestStack(t, sim);
  t.equal((await h.sync({ auth: PRODUCTION, meta: {} })).statusCode, 200);
  await eventually('the backfill completes', async () => (await syncRun(h.sync, PRODUCTION)).checkpoint !== undefined);
  t.equal((await h.sync({ auth: SANDBOX, meta: {} })).statusCode, 200, 'a second credential joins');
  const statusOf = async () => (await h.database.db.execute<{ status: string }>(sql`SELECT status FROM tenants`)).rows[0]!.status;
  const credentialStatus = async (label: string) =>
    (await h.database.db.execute<{ status: string }>(sql`SELECT c.status FROM credentials c ORDER BY created_at`)).rows.map((r) => r.status)[label === 'first' ? 0 : 1];

  // The newest (sandbox) is revoked in HubSpot: the next pass is refused, then goes on with production.
  sim.control.revokeToken(SANDBOX.access_token);
  await eventually('the sandbox credential is set aside', async () => (await credentialStatus('second')) === 'failed');
  const edited = sim.control.liveContacts({ portalId: PORTAL })[0]!;
  sim.control.editContact(edited.id, { firstname: 'StillIngested' });
  await eventually('ingest goes on with the production credential', async () =>
    (await h.database.db.execute<{ name: string }>(sql`SELECT name FROM contacts WHERE id = ${edited.id}`)).rows[0]!.name.startsWith('StillIngested'));
  t.equal(await statusOf(), 'active', 'the tenant is still active');
  t.equal((await h.sync({ auth: SANDBOX, meta: {} })).statusCode, 401, 'the refused credential gets 401');
  t.equal((await h.sync({ auth: PRODUCTION, meta: {} })).statusCode, 200, 'the working one syncs');

  sim.control.revokeToken(PRODUCTION.access_token);
  await eventually('with no credential left the tenant stops', async () => (await statusOf()) === 'credentials_failed');
});

t.test('an operator lists and revokes credentials; a revoked one is unknown from then on', async (t) => {
  const sim = await startSim(t, { portals: [{ portalId: PORTAL, tokens: [PRODUCTION.access_token, SANDBOX.access_token], contacts: 5 }] });
  const h = await buildIngestStack(t, sim);
  t.equal((await h.sync({ auth: PRODUCTION, meta: {} })).statusCode, 200);
  t.equal((await h.sync({ auth: SANDBOX, meta: {} })).statusCode, 200);
  const id = (await h.database.db.execute<{ id: string }>(sql`SELECT id FROM tenants`)).rows[0]!.id;
  const listed = (await h.app.inject({ method: 'GET', url: `/admin/tenants/${id}`, headers: adminHeaders })).json().credentials as Array<{ id: string; label: string }>;
  t.equal(listed.length, 2);
  const sandboxId = listed[1]!.id;
  t.equal((await h.app.inject({ method: 'DELETE', url: `/admin/tenants/${id}/credentials/${sandboxId}`, headers: adminHeaders })).statusCode, 204);
  t.equal((await h.app.inject({ method: 'DELETE', url: `/admin/tenants/${id}/credentials/${sandboxId}`, headers: adminHeaders })).statusCode, 404, 'gone');
  const calls = sim.control.stats().requests;
  // Unknown again: it may onboard afresh, as any new credential would (it is still valid in HubSpot).
  const again = await h.sync({ auth: SANDBOX, meta: {} });
  t.equal(again.statusCode, 200);
  t.ok(sim.control.stats().requests > calls, 'a revoked credential is verified again before it is used');
  t.equal((await h.sync({ auth: PRODUCTION, meta: {} })).statusCode, 200, 'the other credential never stopped working');
});

t.test('POST /auth_validation on a known credential is remembered for minutes: a flood is not a flood of CRM calls', async (t) => {
  const sim = await startSim(t, { portals: [{ portalId: PORTAL, tokens: [PRODUCTION.access_token], contacts: 5 }] });
  const h = await buildIngestStack(t, sim, {}, { workers: false });
  t.equal((await h.app.inject({ method: 'POST', url: '/auth_validation', payload: { auth: PRODUCTION } })).statusCode, 204);
  const calls = sim.control.stats().requests;
  for (let i = 0; i < 20; i++) {
    t.equal((await h.app.inject({ method: 'POST', url: '/auth_validation', payload: { auth: PRODUCTION } })).statusCode, 204);
  }
  t.equal(sim.control.stats().requests, calls, 'no CRM call for the 20 validations');
});

t.test('credential ciphertexts: a truncated tag and a row swapped to another tenant do not open', async (t) => {
  const keys = deriveKeys('cipher-secret-cipher-secret-cipher-secret');
  const alpha = { tenantId: '00000000-0000-4000-8000-00000000000a', crm: 'hubspot', accountId: '1' };
  const bravo = { tenantId: '00000000-0000-4000-8000-00000000000b', crm: 'hubspot', accountId: '2' };
  const stored = encryptCredentials(keys, { access_token: 'secret' }, alpha);
  t.same(decryptCredentials(keys, stored, alpha), { access_token: 'secret' }, 'opens for its own tenant');
  t.throws(() => decryptCredentials(keys, stored, bravo), { name: 'UnreadableCredentialsError' }, "another tenant's row does not open it");
  t.throws(() => decryptCredentials(keys, stored, { ...alpha, accountId: '2' }), { name: 'UnreadableCredentialsError' }, 'nor another account');
  const parts = stored.split('.');
  parts[3] = Buffer.from(parts[3]!, 'base64url').subarray(0, 4).toString('base64url');
  t.throws(() => decryptCredentials(keys, parts.join('.'), alpha), { name: 'UnreadableCredentialsError' }, 'a 4-byte tag is refused');
});
