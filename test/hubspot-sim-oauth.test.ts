import t, { type Test } from 'tap';
import http from 'node:http';
import { Client, Signature } from '@hubspot/api-client';
import { buildHubSpotSim, type HubSpotSimOptions } from '../harness/hubspot-sim/server.js';

/**
 * The simulator's OAuth, batch read and webhooks, driven through the official client
 * (`oauth.tokensApi`, `crm.contacts.batchApi`) and checked with its own `Signature.isValid`: what
 * the bridge's OAuth connections and webhook endpoint will be built against.
 */

const PORTAL = 9101;
const APP = { appId: 555_001, clientId: 'client-id-1', clientSecret: 'client-secret-1' };
const REDIRECT = 'https://bridge.example.com/hubspot/oauth/callback';

async function startSim(t: Test, options: HubSpotSimOptions = {}) {
  let now = Date.now();
  const clock = { now: () => now, advance: (ms: number) => (now += ms) };
  const sim = await buildHubSpotSim({ portals: [{ portalId: PORTAL, tokens: ['pat-private'], contacts: 3 }], apps: [APP], clock: clock.now, ...options });
  const basePath = await sim.app.listen({ port: 0, host: '127.0.0.1' });
  t.teardown(() => sim.app.close());
  const client = (accessToken?: string) => new Client({ basePath, numberOfApiCallRetries: 0, ...(accessToken ? { accessToken } : {}) });
  return { ...sim, basePath, client, clock };
}

async function failure(p: Promise<unknown>): Promise<{ code: number; body: any }> {
  try {
    await p;
  } catch (err) {
    return err as { code: number; body: any };
  }
  throw new Error('expected the call to fail');
}

/** The authorize page, which approves at once: the code it redirects with. */
async function authorize(basePath: string, scope: string, state = 'st-1'): Promise<{ code: string; location: URL }> {
  const url = `${basePath}/oauth/authorize?${new URLSearchParams({ client_id: APP.clientId, redirect_uri: REDIRECT, scope, state })}`;
  const res = await fetch(url, { redirect: 'manual' });
  if (res.status !== 302) throw new Error(`authorize answered ${res.status}: ${await res.text()}`);
  const location = new URL(res.headers.get('location')!);
  return { code: location.searchParams.get('code')!, location };
}

t.test('OAuth through the official client: code exchange, expiry, refresh, revocation, uninstall', async (t) => {
  const { basePath, client, clock, control } = await startSim(t);
  const { code, location } = await authorize(basePath, 'crm.objects.contacts.read oauth');
  t.equal(`${location.origin}${location.pathname}`, REDIRECT, 'the authorize page redirects to redirect_uri');
  t.equal(location.searchParams.get('state'), 'st-1', 'with the state');

  const tokens = await client().oauth.tokensApi.create('authorization_code', code, REDIRECT, APP.clientId, APP.clientSecret);
  t.match(tokens, { tokenType: 'bearer', expiresIn: 1800, accessToken: /^[A-Za-z0-9_-]{100,}$/, refreshToken: /^[0-9a-f-]{36}$/ });
  const again = await failure(client().oauth.tokensApi.create('authorization_code', code, REDIRECT, APP.clientId, APP.clientSecret));
  t.match(again, { code: 400, body: { status: 'BAD_AUTH_CODE', error: 'invalid_grant' } }, 'a code is good for one exchange');

  const page = await client(tokens.accessToken).crm.contacts.basicApi.getPage(10);
  t.equal(page.results.length, 3, 'the access token reads the portal it was installed in');
  const write = await failure(client(tokens.accessToken).crm.contacts.basicApi.create({ properties: { firstname: 'X' }, associations: [] }));
  t.match(write, { code: 403, body: { category: 'MISSING_SCOPES' } }, 'with the scopes it was granted, no more');
  const info = await client().oauth.accessTokensApi.get(tokens.accessToken);
  t.match(info, { hubId: PORTAL, appId: APP.appId, tokenType: 'access', expiresIn: 1800 });
  t.same([...info.scopes].sort(), ['crm.objects.contacts.read', 'oauth']);

  clock.advance(1800_000);
  const expired = await failure(client(tokens.accessToken).crm.contacts.basicApi.getPage(10));
  t.match(expired, { code: 401, body: { status: 'error', category: 'EXPIRED_AUTHENTICATION', message: /^The OAuth token used to make this call expired 0 minute\(s\) ago\.$/ } });
  t.match(await failure(client().oauth.accessTokensApi.get(tokens.accessToken)), { code: 404 }, 'an expired token has no info');

  const refreshed = await client().oauth.tokensApi.create('refresh_token', undefined, undefined, APP.clientId, APP.clientSecret, tokens.refreshToken);
  t.equal(refreshed.refreshToken, tokens.refreshToken, 'the refresh token stays the same');
  t.not(refreshed.accessToken, tokens.accessToken, 'a new access token');
  t.equal((await client(refreshed.accessToken).crm.contacts.basicApi.getPage(10)).results.length, 3, 'which works');
  t.match(control.oauth.stats(), { codeExchanges: 1, refreshes: 1, refreshesByInstall: { [`${APP.appId}:${PORTAL}`]: 1 } });

  const wrongSecret = await failure(client().oauth.tokensApi.create('refresh_token', undefined, undefined, APP.clientId, 'nope', tokens.refreshToken));
  t.match(wrongSecret, { code: 400, body: { status: 'BAD_CLIENT_SECRET', error: 'invalid_client' } });
  t.match(await client().oauth.refreshTokensApi.get(tokens.refreshToken), { hubId: PORTAL, clientId: APP.clientId, tokenType: 'refresh' });

  await client().oauth.refreshTokensApi.archive(tokens.refreshToken);
  const revoked = await failure(client().oauth.tokensApi.create('refresh_token', undefined, undefined, APP.clientId, APP.clientSecret, tokens.refreshToken));
  t.match(revoked, { code: 400, body: { status: 'BAD_REFRESH_TOKEN', error: 'invalid_grant', message: 'missing or invalid refresh token' } });
  t.equal((await client(refreshed.accessToken).crm.contacts.basicApi.getPage(1)).results.length, 1, 'access tokens already issued live out their time');

  // A second install, then the customer uninstalls the app: its tokens stop working at once.
  const second = await client().oauth.tokensApi.create('authorization_code', (await authorize(basePath, 'crm.objects.contacts.read')).code, REDIRECT, APP.clientId, APP.clientSecret);
  t.same(control.oauth.installedPortals(APP.appId), [PORTAL]);
  t.equal(control.oauth.uninstall(APP.appId, PORTAL), 2, 'every install of the app in the portal');
  t.same(control.oauth.installedPortals(APP.appId), []);
  t.match(await failure(client(second.accessToken).crm.contacts.basicApi.getPage(1)), { code: 401, body: { category: 'INVALID_AUTHENTICATION' } });
  t.match(
    await failure(client().oauth.tokensApi.create('refresh_token', undefined, undefined, APP.clientId, APP.clientSecret, second.refreshToken)),
    { code: 400, body: { error: 'invalid_grant' } },
  );
  t.match(control.oauth.stats().refused, { BAD_AUTH_CODE: 1, BAD_CLIENT_SECRET: 1, BAD_REFRESH_TOKEN: 2 });
  const unknownClient = await fetch(`${basePath}/oauth/authorize?client_id=nobody&redirect_uri=${encodeURIComponent(REDIRECT)}&scope=oauth`, { redirect: 'manual' });
  t.equal(unknownClient.status, 400, 'the authorize page refuses an unknown client');
});

t.test('OAuth tokens issued with a short life expire while a private-app token keeps working', async (t) => {
  const { basePath, client, clock, control } = await startSim(t, { accessTokenTtlSeconds: 5 });
  const tokens = await client().oauth.tokensApi.create('authorization_code', (await authorize(basePath, 'crm.objects.contacts.read')).code, REDIRECT, APP.clientId, APP.clientSecret);
  t.equal(tokens.expiresIn, 5);
  clock.advance(5_000);
  t.match(await failure(client(tokens.accessToken).crm.contacts.basicApi.getPage(1)), { code: 401, body: { category: 'EXPIRED_AUTHENTICATION' } });
  t.equal((await client('pat-private').crm.contacts.basicApi.getPage(1)).results.length, 1);
  const res = await fetch(`${basePath}/__sim/oauth/config`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ accessTokenTtlSeconds: 60 }) });
  t.same(await res.json(), { accessTokenTtlSeconds: 60 });
  const next = await client().oauth.tokensApi.create('refresh_token', undefined, undefined, APP.clientId, APP.clientSecret, tokens.refreshToken);
  t.equal(next.expiresIn, 60, 'the lifetime can be changed while running');
  t.equal(control.stats().unauthenticated, 1, 'the expired call counts as unauthenticated');
});

t.test('batch read through the official client, as HubSpot answers it', async (t) => {
  const { client, control } = await startSim(t);
  const [a, b, c] = control.liveContacts().map((x) => x.id);
  control.archiveContacts([c!]);
  const api = client('pat-private').crm.contacts.batchApi;
  const all = await api.read({ inputs: [{ id: a! }, { id: b! }], properties: ['firstname', 'hs_merged_object_ids'], propertiesWithHistory: [] });
  t.same(all.results.map((r) => r.id).sort(), [a!, b!].sort());
  t.same(Object.keys(all.results[0]!.properties).sort(), ['createdate', 'firstname', 'hs_merged_object_ids', 'hs_object_id', 'lastmodifieddate']);
  t.equal(all.status, 'COMPLETE');
  t.notOk('errors' in all && all.errors, 'no errors when every id is found');

  const mixed = await api.read({ inputs: [{ id: a! }, { id: c! }, { id: '424242' }], properties: ['firstname'], propertiesWithHistory: [] });
  t.same(mixed.results.map((r) => r.id), [a!], 'archived contacts are not read without archived=true');
  t.match(mixed, { numErrors: 1, errors: [{ category: 'OBJECT_NOT_FOUND', context: { ids: [c!, '424242'] } }] }, 'a 207 names what was not found');
  const archived = await api.read({ inputs: [{ id: c! }, { id: a! }], properties: [], propertiesWithHistory: [] }, true);
  t.same(archived.results.map((r) => [r.id, r.archived]), [[c!, true]], 'archived=true reads archived ones only');

  control.mergeContacts(a!, b!);
  const merged = await api.read({ inputs: [{ id: a! }, { id: b! }], properties: ['hs_merged_object_ids'], propertiesWithHistory: [] });
  t.same(merged.results.map((r) => [r.id, r.properties.hs_merged_object_ids]), [[b!, a!]], 'a merged-away id reads as its survivor, once');

  const tooMany = await failure(api.read({ inputs: Array.from({ length: 101 }, (_, i) => ({ id: String(i + 1) })), properties: [], propertiesWithHistory: [] }));
  t.match(tooMany, { code: 400, body: { category: 'VALIDATION_ERROR' } }, 'at most 100 inputs');
  t.match(control.stats().byEndpoint['contacts.batch-read'], { 200: 2, 207: 2, 400: 1 });
  const scoped = await failure(client('nobody').crm.contacts.batchApi.read({ inputs: [{ id: a! }], properties: [], propertiesWithHistory: [] }));
  t.equal(scoped.code, 401, 'behind the same gateway as every CRM endpoint');
});

interface Received {
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A little server that receives webhook deliveries; `status` says what it answers next. */
async function receiver(t: Test) {
  const received: Received[] = [];
  const answers: number[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ url: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.statusCode = answers.shift() ?? 204;
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const { port } = server.address() as { port: number };
  return { received, answers, url: `http://127.0.0.1:${port}/hubspot/webhooks?tenant=a%20b` };
}

const events = (r: Received[]) => r.flatMap((x) => JSON.parse(x.body) as Array<Record<string, any>>);

t.test('webhooks: signed v3 batches that Signature.isValid accepts, every contact event type', async (t) => {
  const { control } = await startSim(t, { clock: Date.now, webhooks: { retryDelayMs: 20 } });
  const target = await receiver(t);
  const { subscriptionIds } = control.webhooks.addTarget({
    appId: APP.appId,
    targetUrl: target.url,
    portalIds: [PORTAL],
    subscriptions: [
      { subscriptionType: 'contact.creation' },
      { subscriptionType: 'contact.propertyChange', propertyName: 'firstname' },
      { subscriptionType: 'contact.deletion' },
      { subscriptionType: 'contact.restore' },
      { subscriptionType: 'contact.merge' },
      { subscriptionType: 'contact.privacyDeletion' },
    ],
  });
  const [made] = control.createContacts([{ firstname: 'Web', lastname: 'Hook' }]);
  const [x, y, z] = control.liveContacts().map((c) => c.id);
  control.editContact(x!, { firstname: 'Renamed', jobtitle: 'not subscribed' });
  control.archiveContacts([y!]);
  control.restoreContacts([y!]);
  control.mergeContacts(z!, x!);
  control.privacyDeleteContacts([y!]);
  await control.webhooks.settled();

  t.ok(target.received.length >= 1, 'deliveries arrived');
  for (const r of target.received) {
    const valid = Signature.isValid({
      signatureVersion: 'v3',
      signature: String(r.headers['x-hubspot-signature-v3']),
      clientSecret: APP.clientSecret,
      requestBody: r.body,
      url: target.url,
      method: 'POST',
      timestamp: Number(r.headers['x-hubspot-request-timestamp']),
    });
    t.ok(valid, 'Signature.isValid (v3) accepts the delivery');
    t.ok(Signature.isValid({ signatureVersion: 'v1', signature: String(r.headers['x-hubspot-signature']), clientSecret: APP.clientSecret, requestBody: r.body }), 'and v1');
    t.notOk(
      Signature.isValid({ signatureVersion: 'v3', signature: String(r.headers['x-hubspot-signature-v3']), clientSecret: 'another-secret', requestBody: r.body, url: target.url, method: 'POST', timestamp: Number(r.headers['x-hubspot-request-timestamp']) }),
      'a different secret does not',
    );
    t.notOk(
      Signature.isValid({ signatureVersion: 'v3', signature: String(r.headers['x-hubspot-signature-v3']), clientSecret: APP.clientSecret, requestBody: `${r.body} `, url: target.url, method: 'POST', timestamp: Number(r.headers['x-hubspot-request-timestamp']) }),
      'nor a changed body',
    );
    t.equal(r.url, '/hubspot/webhooks?tenant=a%20b');
  }
  const got = events(target.received);
  t.same(
    got.map((e) => [e.subscriptionType, e.objectId, e.propertyName ?? null]),
    [
      ['contact.creation', Number(made!.id), null],
      ['contact.propertyChange', Number(made!.id), 'firstname'],
      ['contact.propertyChange', Number(x!), 'firstname'],
      ['contact.deletion', Number(y!), null],
      ['contact.restore', Number(y!), null],
      ['contact.merge', Number(x!), null],
      ['contact.privacyDeletion', Number(y!), null],
    ],
    'one event per subscribed change, in order when nothing is faulty',
  );
  for (const e of got) {
    t.match(e, { portalId: PORTAL, appId: APP.appId, attemptNumber: 0, eventId: Number, subscriptionId: Number, occurredAt: Number, changeSource: String });
    t.ok(subscriptionIds.includes(e.subscriptionId), 'a subscription id of the target');
  }
  t.match(got[2], { propertyValue: 'Renamed' });
  t.match(got[5], { primaryObjectId: Number(x!), mergedObjectIds: [Number(z!)], newObjectId: Number(x!) });
  t.equal(new Set(got.map((e) => e.eventId)).size, got.length, 'event ids are distinct');
  t.match(control.webhooks.stats(), { eventsQueued: 7, eventsDelivered: 7, dropped: 0, duplicated: 0, abandoned: 0 });
});

t.test('webhook faults: dropped, duplicated, retried with attemptNumber, reordered', async (t) => {
  const { control } = await startSim(t, { clock: Date.now, webhooks: { retryDelayMs: 20, maxAttempts: 3 } });
  const target = await receiver(t);
  control.webhooks.addTarget({ appId: APP.appId, targetUrl: target.url, portalIds: [PORTAL], subscriptions: [{ subscriptionType: 'contact.creation' }] });
  const create = async (n: number) => {
    control.createContacts(Array.from({ length: n }, (_, i) => ({ firstname: `N${i}` })));
    await control.webhooks.settled();
  };

  control.webhooks.setFaults({ dropNext: 1 });
  await create(2);
  t.equal(target.received.length, 0, 'a dropped batch never arrives');
  t.match(control.webhooks.stats(), { dropped: 1, eventsQueued: 2 });

  control.webhooks.setFaults({ duplicateNext: 1 });
  await create(1);
  t.equal(target.received.length, 2, 'a duplicated batch arrives twice');
  t.equal(target.received[0]!.body, target.received[1]!.body);

  control.webhooks.setFaults({});
  target.received.length = 0;
  target.answers.push(500, 503);
  await create(1);
  t.same(events(target.received).map((e) => e.attemptNumber), [0, 1, 2], 'a failed delivery is retried, attemptNumber counting up');
  t.equal(new Set(events(target.received).map((e) => e.eventId)).size, 1, 'the same event each time');

  target.received.length = 0;
  target.answers.push(500, 500, 500);
  await create(1);
  t.equal(target.received.length, 3, 'at most maxAttempts');
  t.equal(control.webhooks.stats().abandoned, 1, 'then abandoned');

  target.received.length = 0;
  control.webhooks.setFaults({ reorder: true });
  await create(20);
  const ids = events(target.received).map((e) => e.eventId);
  t.equal(ids.length, 20, 'every event once');
  t.notSame(ids, [...ids].sort((a, b) => a - b), 'but not in the order they happened');
});

t.test('webhooks from OAuth installs only: an app hears the portals where it is installed', async (t) => {
  const { basePath, client, control } = await startSim(t, { clock: Date.now });
  const target = await receiver(t);
  const res = await fetch(`${basePath}/__sim/webhooks/targets`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ appId: APP.appId, targetUrl: target.url, subscriptions: [{ subscriptionType: 'contact.creation' }] }),
  });
  t.equal(res.status, 200);
  control.createContacts([{ firstname: 'Before install' }]);
  await control.webhooks.settled();
  t.equal(target.received.length, 0, 'not installed: nothing');
  await client().oauth.tokensApi.create('authorization_code', (await authorize(basePath, 'crm.objects.contacts.read')).code, REDIRECT, APP.clientId, APP.clientSecret);
  control.createContacts([{ firstname: 'After install' }]);
  const settled = await fetch(`${basePath}/__sim/webhooks/settle`, { method: 'POST' });
  t.match(await settled.json(), { eventsDelivered: 1 });
  t.equal(events(target.received).length, 1, 'installed: its events');
});
