import { createServer } from 'node:net';
import t from 'tap';
import { loadConfig } from '../src/config.js';
import { createConnectors } from '../src/crm/registry.js';
import { HubSpotApi } from '../src/crm/hubspot/client.js';
import { HubSpotConnector, type HubSpotConnectorOptions } from '../src/crm/hubspot/connector.js';
import { CrmRateLimitedError, CrmUnauthorizedError, CrmUnavailableError } from '../src/crm/errors.js';
import { RollingWindowLimiter } from '../src/crm/rate-limiter.js';
import { buildIngestStack, eventually, startSim, type Sim } from './helpers/ingest.js';
import { syncRun } from './helpers/talkdesk.js';

/**
 * Verification of HubSpot credentials, written as the attacks of issue 13 that reach the CRM
 * layer: a token of the portal that may not read contacts, malformed tokens that used to come
 * back as a CRM outage with the token in the message, and one account's flood of verifications
 * holding up every other account's.
 */

function connector(sim: Pick<Sim, 'url'>, options: Partial<HubSpotConnectorOptions> = {}): HubSpotConnector {
  return new HubSpotConnector({
    baseUrl: sim.url,
    timeoutMs: 2_000,
    tenSecondLimit: 100,
    searchPerSecondLimit: 5,
    overlapSeconds: 0,
    defaultRegion: 'US',
    limiter: new RollingWindowLimiter(),
    ...options,
  });
}

const requestsOf = (sim: Sim, portalId: number) => sim.control.stats().portals[String(portalId)]?.requests ?? 0;
const callsTo = (sim: Sim, portalId: number, endpoint: string) => sim.control.stats().portals[String(portalId)]?.byEndpoint[endpoint] ?? {};

t.test('a token of a known portal that may not read contacts is refused by verify', async (t) => {
  // The attack: a private app made with only a tickets scope (or any other app's token) passes
  // GET /account-info/v3/details, which used to be the whole verification.
  const sim = await startSim(t, {
    portals: [
      {
        portalId: 7301,
        tokens: ['pat-na1-full'],
        scopedTokens: [
          { token: 'pat-na1-tickets-only', scopes: ['tickets'] },
          { token: 'pat-na1-write-only', scopes: ['crm.objects.contacts.write'] },
          { token: 'pat-na1-reads-contacts', scopes: ['crm.objects.contacts.read'] },
        ],
        contacts: 3,
      },
    ],
  });
  const hubspot = connector(sim);

  t.same(await hubspot.verify({ access_token: 'pat-na1-full' }), { accountId: '7301', accountName: 'HubSpot 7301', allows: ['contacts.read'] });
  t.same(
    await hubspot.verify({ access_token: 'pat-na1-reads-contacts' }),
    { accountId: '7301', accountName: 'HubSpot 7301', allows: ['contacts.read'] },
    'the one scope ingest needs is enough',
  );

  sim.control.resetStats();
  for (const token of ['pat-na1-tickets-only', 'pat-na1-write-only']) {
    const err = await hubspot.verify({ access_token: token }).catch((e: unknown) => e);
    t.type(err, CrmUnauthorizedError, `${token} is refused`);
    t.match((err as Error).message, /403 MISSING_SCOPES, needs crm\.objects\.contacts\.read/, 'and the log line says why');
  }
  t.same(callsTo(sim, 7301, 'account-info'), { 200: 2 }, 'the account details alone let both through');
  t.same(callsTo(sim, 7301, 'contacts.list'), { 403: 2 }, 'the contact read refused both, and served no contact');
});

// Regression (issue 13): a token with a line break or a control character reached the HTTP
// client, whose header check failed with "Bearer <token> is not a legal HTTP header value"; that
// came back as 503 CRM_UNAVAILABLE (retried by Talkdesk for ever) with the token in its message.
const MALFORMED: Array<[string, unknown]> = [
  ['an empty string', ''],
  ['a space', 'pat-na1-abc def'],
  ['a leading space', ' pat-na1-abc'],
  ['a trailing line break', 'pat-na1-abc\n'],
  ['a CRLF and a header', 'pat-na1-abc\r\nX-Injected: 1'],
  ['a tab', 'pat-na1-abc\t'],
  ['NUL', 'pat-na1-abc\u0000'],
  ['DEL', 'pat-na1-abc\u007f'],
  ['a non-ASCII letter', 'pat-na1-abcé'],
  ['an emoji', 'pat-na1-😀'],
  ['a lone surrogate', 'pat-na1-\ud800'],
  ['a line separator', 'pat-na1-abc\u2028'],
  ['a quote', 'pat-na1-"abc"'],
  ['a comma', 'pat-na1-a,b'],
  ['padding in the middle', 'ab=cd'],
  ['too long', 'a'.repeat(1025)],
  ['a number', 7],
  ['null', null],
  ['a boolean', true],
  ['an array', ['pat-na1-abc']],
  ['an object', { token: 'pat-na1-abc' }],
];
const WELL_FORMED = [
  'demo-token',
  'pat-na1-91d91373-8e94-4872-893c-e7d080224a56',
  'pat-eu1-91d91373-8e94-4872-893c-e7d080224a56',
  // An OAuth access token, as HubSpot's token metadata documents one.
  'CKDZpunPLhICAQEYs-gDIIGOBii1hQIyGQAf3xBKEgsYjYMJVvlHEz9tFHAwSq1TQAM40s0D',
  'base64+with/slashes==',
  'a.b~c_d',
  'x'.repeat(1024),
];

t.test('malformed tokens match no connector and never reach HubSpot', async (t) => {
  const sim = await startSim(t, { portals: [{ portalId: 7303, tokens: ['pat-na1-abc'] }] });
  const registry = createConnectors(loadConfig({ DATABASE_URL: 'postgres://x@h/d', REDIS_URL: 'redis://h', BRIDGE_SECRET: 'x'.repeat(32), HUBSPOT_BASE_URL: sim.url }));
  const hubspot = registry.get('hubspot')!;
  for (const token of WELL_FORMED) t.equal(registry.forAuth({ access_token: token })?.kind, 'hubspot', `well-formed: ${token.slice(0, 60)}`);
  sim.control.resetStats();
  for (const [what, token] of MALFORMED) {
    t.equal(registry.forAuth({ access_token: token }), undefined, `${what}: no connector (so 401 without a CRM call)`);
    // A tenant's stored auth reaches verify without the registry: held to the same shape.
    const err = await hubspot.verify({ access_token: token } as Record<string, unknown>).catch((e: unknown) => e);
    t.type(err, CrmUnauthorizedError, `${what}: verify refuses it as credentials`);
    if (typeof token === 'string' && token !== '') t.notOk((err as Error).message.includes(token), `${what}: not in the message`);
    if (typeof token === 'string') {
      const options = { baseUrl: sim.url, timeoutMs: 1_000, tenSecondLimit: 100, searchPerSecondLimit: 5, limiter: new RollingWindowLimiter() };
      t.throws(() => new HubSpotApi(token, 'k', options), CrmUnauthorizedError, `${what}: the client will not send it`);
    }
  }
  t.equal(sim.control.stats().requests, 0, 'no request reached the simulator');
  t.equal(sim.control.stats().unauthenticated, 0);
});

t.test('CRM errors say what failed, never the token, the URL or the host', async (t) => {
  const TOKEN = 'pat-na1-scrub-me-0123456789';
  const sim = await startSim(t, { portals: [{ portalId: 7304, tokens: [TOKEN], contacts: 2 }] });
  const port = new URL(sim.url).port;
  const options = (baseUrl: string) => ({ baseUrl, timeoutMs: 300, tenSecondLimit: 100, searchPerSecondLimit: 5, limiter: new RollingWindowLimiter() });
  const api = new HubSpotApi(TOKEN, '7304', options(sim.url));
  const messages: Array<[string, Error]> = [];
  const failure = async (what: string, p: Promise<unknown>, type: new (...args: never[]) => Error) => {
    const err = await p.then(
      () => new Error('it succeeded'),
      (e: unknown) => e as Error,
    );
    t.type(err, type, what);
    messages.push([what, err]);
  };

  sim.control.failNext({ count: 3, status: 503 });
  await failure('a 503 on the list', api.listContacts(['email'], undefined, false), CrmUnavailableError);
  await failure('a 503 on account details', api.accountDetails(), CrmUnavailableError);
  await failure('a 503 on search', api.searchContacts({ filterGroups: [], sorts: [], limit: 1 }, ['email']), CrmUnavailableError);
  sim.control.setDelay({ ms: 1_000 });
  await failure('a stalled list', api.listContacts(['email'], undefined, false), CrmUnavailableError);
  await failure('stalled account details', api.accountDetails(), CrmUnavailableError);
  await failure('a stalled contact read', api.readsContacts(), CrmUnavailableError);
  sim.control.setDelay({ ms: 0 });
  await failure('a 400 that quotes what it was sent', api.listContacts(['email'], 'not-a-cursor', false), Error);
  await failure('a 401', new HubSpotApi('pat-na1-unknown-token', 'x', options(sim.url)).accountDetails(), CrmUnauthorizedError);

  // A port nothing listens on: the connection is refused.
  const closed = await new Promise<number>((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
  const refusedUrl = `http://127.0.0.1:${closed}`;
  const refused = new HubSpotApi(TOKEN, 'r', options(refusedUrl));
  await failure('a refused connection (list)', refused.listContacts(['email'], undefined, false), CrmUnavailableError);
  await failure('a refused connection (account details)', refused.accountDetails(), CrmUnavailableError);
  await failure('a refused verification', connector({ url: refusedUrl }).verify({ access_token: TOKEN }), CrmUnavailableError);

  const secrets = [TOKEN, sim.url, refusedUrl, '127.0.0.1', `:${port}`, `:${closed}`, 'http://'];
  for (const [what, err] of messages) {
    t.same(secrets.filter((secret) => err.message.includes(secret)), [], `${what}: "${err.message}" names no token, URL or host`);
  }
  t.match(messages.find(([w]) => w === 'a refused connection (list)')![1].message, /^HubSpot unreachable \(ECONNREFUSED\)$/, 'the kind of failure is kept');
  t.match(messages.find(([w]) => w === 'a stalled list')![1].message, /^HubSpot did not answer within 300 ms$/);
});

t.test("one account's flood of verifications leaves another account's answering", async (t) => {
  const FLOOD = 7305;
  const CALM = 7306;
  const sim = await startSim(t, {
    portals: [
      { portalId: FLOOD, tokens: ['pat-na1-flood'] },
      { portalId: CALM, tokens: ['pat-na1-calm', 'pat-na1-calm-2'] },
    ],
  });
  const hubspot = connector(sim);
  // HubSpot's own 429s usually carry no Retry-After: the ten-second window it names is the wait.
  sim.control.rateLimitNext({ portalId: FLOOD, count: 10_000 });

  const first = await hubspot.verify({ access_token: 'pat-na1-flood' }).catch((e: unknown) => e);
  t.type(first, CrmRateLimitedError, 'the flooding account is told to wait');
  t.ok((first as CrmRateLimitedError).retryAfterMs > 0);

  // The flood goes on, ten at a time, for as long as the other account's verification takes.
  let calmDone = false;
  const calm = hubspot.verify({ access_token: 'pat-na1-calm' }).finally(() => {
    calmDone = true;
  });
  let refused = 0;
  while (!calmDone) {
    const round = await Promise.allSettled(Array.from({ length: 10 }, () => hubspot.verify({ access_token: 'pat-na1-flood' })));
    for (const r of round) {
      if (r.status === 'fulfilled' || !(r.reason instanceof CrmRateLimitedError)) throw new Error(`a flood verification was not refused: ${String(r.status === 'rejected' ? r.reason : 'ok')}`);
      refused++;
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  t.same(await calm, { accountId: String(CALM), accountName: `HubSpot ${CALM}`, allows: ['contacts.read'] }, 'the other account verifies');
  t.ok(refused >= 10, `while the flood was being refused (${refused} refusals, each a 503 with Retry-After upstream)`);
  t.equal(requestsOf(sim, FLOOD), 1, 'and only the first of the flood reached HubSpot: its 429 paused that token alone');
  t.ok((await hubspot.verify({ access_token: 'pat-na1-calm-2' })).allows?.includes('contacts.read'), 'a new token of the calm account verifies as well');
});

t.test("a verified account's flood spends its own share, never another account's budget", async (t) => {
  const sim = await startSim(t, {
    portals: [
      { portalId: 7307, tokens: ['pat-na1-busy'] },
      { portalId: 7308, tokens: ['pat-na1-other'] },
    ],
  });
  const hubspot = connector(sim);
  await hubspot.verify({ access_token: 'pat-na1-busy' });
  sim.control.resetStats();

  const outcomes = await Promise.all(
    Array.from({ length: 40 }, () => hubspot.verify({ access_token: 'pat-na1-busy' }).then(() => 'ok', (e: unknown) => (e instanceof CrmRateLimitedError ? 'refused' : String(e)))),
  );
  const ok = outcomes.filter((o) => o === 'ok').length;
  t.equal(ok + outcomes.filter((o) => o === 'refused').length, 40, 'each verification succeeded or was told to retry');
  t.ok(ok >= 1 && ok <= 9, `at most a tenth of the account's ten-second budget went to verifications (${ok})`);
  t.equal(callsTo(sim, 7307, 'account-info')[200], undefined, 'a token verified before is not looked up again');
  t.equal(requestsOf(sim, 7307), ok, 'refused verifications sent nothing');
  t.ok((await hubspot.verify({ access_token: 'pat-na1-other' })).allows, 'another account verifies at once');
});

t.test('tokens never seen before share a small cap, with a deadline', async (t) => {
  const sim = await startSim(t, { portals: [1, 2, 3, 4].map((i) => ({ portalId: 7310 + i, tokens: [`pat-na1-new-${i}`] })) });
  const hubspot = connector(sim, { verifyTenSecondLimit: 3, verifyMaxWaitMs: 2_000 });
  for (const i of [1, 2, 3]) t.equal((await hubspot.verify({ access_token: `pat-na1-new-${i}` })).accountId, String(7310 + i));
  sim.control.resetStats();
  const over = await hubspot.verify({ access_token: 'pat-na1-new-4' }).catch((e: unknown) => e);
  t.type(over, CrmRateLimitedError, 'a fourth new token within ten seconds waits past the deadline: told to retry');
  t.ok((over as CrmRateLimitedError).retryAfterMs > 2_000 && (over as CrmRateLimitedError).retryAfterMs <= 10_001, `Retry-After of the cap (${(over as CrmRateLimitedError).retryAfterMs} ms)`);
  t.equal(sim.control.stats().requests, 0, 'without calling HubSpot');
  t.equal((await hubspot.verify({ access_token: 'pat-na1-new-1' })).accountId, '7311', 'a token whose portal is known does not need the cap');

  // A pause shorter than the deadline is waited out.
  const patient = connector(sim, { verifyMaxWaitMs: 3_000 });
  sim.control.rateLimitNext({ portalId: 7314, count: 1, retryAfterSeconds: 1 });
  t.type(await patient.verify({ access_token: 'pat-na1-new-4' }).catch((e: unknown) => e), CrmRateLimitedError, 'the 429 itself is answered');
  t.equal((await patient.verify({ access_token: 'pat-na1-new-4' })).accountId, '7314', 'the next verification waits out its one second');
});

t.test('through the app: the low-scope token of a known portal gets 401 and no contact', async (t) => {
  const sim = await startSim(t, {
    portals: [{ portalId: 7320, tokens: ['pat-na1-owner'], scopedTokens: [{ token: 'pat-na1-tickets-app', scopes: ['tickets'] }], contacts: 5 }],
  });
  const h = await buildIngestStack(t, sim);
  const validate = (auth: unknown) => h.app.inject({ method: 'POST', url: '/auth_validation', payload: { auth } });
  t.equal((await validate({ access_token: 'pat-na1-owner' })).statusCode, 204);
  await eventually('the backfill completes', async () => (await syncRun(h.sync, { access_token: 'pat-na1-owner' })).checkpoint !== undefined);

  const low = { access_token: 'pat-na1-tickets-app' };
  const synced = await h.sync({ auth: low, meta: {} });
  t.equal(synced.statusCode, 401, 'the sync is refused');
  t.equal(synced.body.contacts, undefined, 'with no contact');
  t.equal((await validate(low)).statusCode, 401, 'and so is its validation');
  t.same(sim.control.stats().portals['7320']!.byEndpoint['contacts.list']?.[403], 1, 'one contact read refused it (the failure is remembered)');
  const owner = await syncRun(h.sync, { access_token: 'pat-na1-owner' });
  t.equal(owner.contacts.length, 5, "the portal's own token still syncs everything");
});

t.test('through the app: malformed tokens are 401 without a CRM call, and the answer does not repeat them', async (t) => {
  const sim = await startSim(t, { portals: [{ portalId: 7321, tokens: ['pat-na1-abc'] }] });
  const h = await buildIngestStack(t, sim, {}, { workers: false });
  sim.control.resetStats();
  let n = 0;
  for (const [what, token] of MALFORMED) {
    for (const url of ['/auth_validation', h.config.SYNC_PATH]) {
      const res = await h.app.inject({ method: 'POST', url, remoteAddress: `10.9.0.${++n}`, payload: { auth: { access_token: token }, meta: {} } });
      const repeated = typeof token === 'string' && token.length > 3 && res.body.includes(token);
      t.ok(res.statusCode === 401 && !repeated, `${what} at ${url}: ${res.statusCode} ${res.json().error}${repeated ? ', repeating the token' : ''}`);
    }
  }
  t.equal(sim.control.stats().requests, 0, 'HubSpot was never called');
});

t.test("through the app: a validation flood on one account leaves another account's onboarding answering", async (t) => {
  const sim = await startSim(t, {
    portals: [
      { portalId: 7322, tokens: ['pat-na1-flooder'] },
      { portalId: 7323, tokens: ['pat-na1-newcomer'] },
    ],
  });
  const h = await buildIngestStack(t, sim, {}, { workers: false });
  let n = 0;
  const validate = (token: string) =>
    h.app.inject({ method: 'POST', url: '/auth_validation', remoteAddress: `10.8.${n >> 8}.${++n & 255}`, payload: { auth: { access_token: token } } });
  // A cheap portal's token the bridge has not seen, from many addresses, while HubSpot answers
  // that portal with 429s (without Retry-After, as HubSpot's own 429s usually are).
  sim.control.rateLimitNext({ portalId: 7322, count: 10_000 });
  const flooderCalls = () => sim.control.stats().portals['7322']?.requests ?? 0;
  // The first is answered 429 (requests already in flight when it arrives cannot be recalled,
  // so the flood starts once it has).
  t.equal((await validate('pat-na1-flooder')).statusCode, 503, 'the flooding account is told to retry');
  const before = flooderCalls();

  let newcomerDone = false;
  const newcomer = validate('pat-na1-newcomer').finally(() => {
    newcomerDone = true;
  });
  const flood: number[] = [];
  let withoutRetryAfter = 0;
  while (!newcomerDone) {
    for (const res of await Promise.all(Array.from({ length: 10 }, () => validate('pat-na1-flooder')))) {
      flood.push(res.statusCode);
      if (!(Number(res.headers['retry-after']) >= 1)) withoutRetryAfter++;
    }
  }
  t.equal((await newcomer).statusCode, 204, 'the other account onboards');
  t.ok(flood.length >= 10, `while the flood went on (${flood.length} validations: ${[...new Set(flood)].join(', ')})`);
  t.ok(flood.every((s) => s === 503), 'each flood validation is told to retry at once, never held');
  t.equal(withoutRetryAfter, 0, 'each with Retry-After');
  t.equal(before, 1, 'after one call to HubSpot');
  t.equal(flooderCalls() - before, 0, "and none of the flood reached HubSpot: that 429 paused that token alone, not everyone's verifications");
});
