import t, { type Test } from 'tap';
import { sql } from 'drizzle-orm';
import type { CountryCode } from 'libphonenumber-js/max';
import { buildPipedriveSim, type PipedriveSim } from '../harness/pipedrive-sim/server.js';
import { diff, diffCount, TalkdeskCopy } from '../harness/talkdesk/copy.js';
import { mapPipedrivePerson, type PipedrivePerson } from '../src/crm/pipedrive/mapping.js';
import type { Contact } from '../src/mirror/contact.js';
import { buildIngestStack, eventually } from './helpers/ingest.js';

const COMPANY = 7001;
const TOKEN = 'pd-ingest-token';

async function startPipedrive(t: Test, persons: number): Promise<PipedriveSim & { url: string }> {
  const sim = await buildPipedriveSim({ companies: [{ companyId: COMPANY, name: 'Acme Sales', domain: 'acme', tokens: [TOKEN], persons, windowLimit: 120 }] });
  await sim.app.listen({ port: 0, host: '127.0.0.1' });
  t.teardown(() => sim.app.close());
  return { ...sim, url: `http://127.0.0.1:${(sim.app.server.address() as { port: number }).port}` };
}

/** The simulator's persons, mapped exactly as the bridge maps them. */
function truth(sim: PipedriveSim): Map<string, Contact> {
  const orgs = new Map(sim.control.orgs().map((o) => [o.id, o.name]));
  return new Map(
    sim.control.persons().map((p) => [
      String(p.id),
      mapPipedrivePerson(p as PipedrivePerson, { companyDomain: 'acme', orgName: p.org_id === null ? undefined : orgs.get(p.org_id), defaultRegion: 'US' as CountryCode }),
    ]),
  );
}

t.test('a Pipedrive token onboards through /auth_validation, and Talkdesk syncs the company’s persons, then their changes', async (t) => {
  const sim = await startPipedrive(t, 700);
  // The HubSpot connector is not enabled: its base URL is never called.
  const h = await buildIngestStack(t, { url: 'http://127.0.0.1:9', control: undefined as never }, {
    CRM: 'pipedrive',
    PIPEDRIVE_BASE_URL: sim.url,
    PIPEDRIVE_OVERLAP_SECONDS: '0',
    SYNC_PAGE_SIZE: '250',
  });
  const validate = await h.app.inject({ method: 'POST', url: '/auth_validation', payload: { auth: { api_token: TOKEN } } });
  t.equal(validate.statusCode, 204);
  const { rows } = await h.database.db.execute<{ crm: string; crm_account_id: string; name: string }>(sql`SELECT crm, crm_account_id, name FROM tenants`);
  t.same(rows, [{ crm: 'pipedrive', crm_account_id: String(COMPANY), name: 'Acme Sales' }], 'the tenant is (pipedrive, company_id)');
  t.equal((await h.app.inject({ method: 'POST', url: '/auth_validation', payload: { auth: { api_token: 'not-a-pipedrive-token' } } })).statusCode, 401);

  const talkdesk = new TalkdeskCopy(h.sync, { api_token: TOKEN });
  await eventually('the backfill reaches Talkdesk', async () => {
    await talkdesk.sync();
    return talkdesk.checkpoint !== undefined && diffCount(diff(talkdesk.contacts, truth(sim))) === 0;
  });
  t.equal(talkdesk.contacts.size, 700);

  const [a, b] = sim.control.persons();
  sim.control.editPerson(a!.id, { name: 'Edited Person', job_title: 'New title' });
  const org = sim.control.createOrg('Old Org');
  sim.control.editPerson(b!.id, { org_id: org.id });
  const [created] = sim.control.createPersons([{ name: '  Brand New ', phones: [{ value: '(415) 555-0132', primary: true, label: 'work' }] }]);
  await eventually('the edits reach Talkdesk', async () => {
    await talkdesk.sync();
    return diffCount(diff(talkdesk.contacts, truth(sim))) === 0 && talkdesk.contacts.has(String(created!.id));
  });
  // A rename touches no person: the organizations pass re-maps them.
  sim.control.renameOrg(org.id, 'Renamed Org', { at: Date.now() + 2_000 });
  await eventually('the rename reaches Talkdesk', async () => {
    await talkdesk.sync();
    return talkdesk.contacts.get(String(b!.id))?.company === 'Renamed Org';
  });
  t.match(talkdesk.contacts.get(String(a!.id)), { name: 'Edited Person', title: 'New title', url: `https://acme.pipedrive.com/person/${a!.id}` });
  t.match(talkdesk.contacts.get(String(created!.id)), { name: 'Brand New', phones: ['+14155550132'] });
  t.notMatch(sim.control.requests.map((r) => r.query).join('&'), /api_token|pd-ingest-token/, 'the token never went into a URL');
  t.equal(sim.control.stats().byStatus['429'] ?? 0, 0, 'and no call was over the limit');

  // The token is revoked in Pipedrive: its 401 marks the tenant credentials_failed, as HubSpot's does.
  sim.control.revokeToken(TOKEN);
  await eventually('credentials_failed', async () => {
    const r = await h.database.db.execute<{ status: string }>(sql`SELECT status FROM tenants`);
    return r.rows[0]!.status === 'credentials_failed';
  });
  t.equal((await h.sync({ auth: { api_token: TOKEN }, meta: {} })).statusCode, 401, 'and Talkdesk is answered 401 until credentials verify again');
});
