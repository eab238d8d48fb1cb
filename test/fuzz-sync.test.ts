import fc from 'fast-check';
import t, { type Test } from 'tap';
import { sql } from 'drizzle-orm';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { Contact } from '../src/mirror/contact.js';
import { SyncResponseSchema } from '../src/sync/schema.js';
import { buildTestApp, type TestApp } from './helpers/app.js';
import {
  assertProperty,
  clientAddresses,
  deepValue,
  errorShapeProblem,
  extraFields,
  fuzzSeed,
  hostileValue,
  hugeString,
  lastServerError,
  nastyString,
  rawPayload,
  sameJson,
  toJson,
  watchCrashes,
} from './helpers/fuzz.js';
import { startSim } from './helpers/ingest.js';
import { syncRun } from './helpers/talkdesk.js';

/**
 * POST /contact_sync against generated bodies: every answer is a 4xx `{ error, message }` or a
 * correct 200 (it validates against the response schema, and its contacts are exactly those of
 * the tenant whose credentials were sent), never a 5xx, never a crash. Tokens are real ones,
 * taken from sync runs of two seeded tenants, then altered.
 */

type Auth = Record<string, unknown>;
type Meta = Record<string, unknown>;

const TENANTS: Record<'A' | 'B', { auth: Auth; contacts: Contact[] }> = {
  A: {
    auth: { api_key: 'fuzz-alpha-key' },
    contacts: [
      { id: '1', name: 'Jane Doe', title: 'CTO', emails: ['jane@example.com'], phones: ['+15555555555'], company: 'Example Corp.' },
      { id: '2', name: 'Zoë Ångström', address: '37, Famous St., New York, US', websites: ['www.example.com'] },
      { id: '😀-emoji-id', name: '😀 Smiley', twitter: 'smiley' },
      { id: 'shared', name: 'Alpha Shared' },
      { id: 'a-5', name: 'Five', url: 'https://example.com/5', photo_url: 'https://example.com/5.png' },
      { id: 'a-6', name: 'Six', phones: ['+442079460000', '+15550000006'] },
      { id: 'a-7', name: 'מרים כהן' },
    ],
  },
  B: {
    // The protocol's own sample credentials.
    auth: { username: 'someone@example.com', password: '605b32dd' },
    contacts: [
      { id: 'b-1', name: 'Bravo One', emails: ['one@bravo.example'] },
      { id: 'shared', name: 'Bravo Shared' },
      { id: 'b-3', name: 'Bravo Three', company: 'Bravo Widgets' },
      { id: 'b-4', name: 'Bravo Four' },
    ],
  },
};
const PAGE_SIZE = 3;

const responseCheck = TypeCompiler.Compile(SyncResponseSchema);
const TOKEN = /^v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

interface RealToken {
  tenant: 'A' | 'B';
  field: 'offset' | 'synchronization_checkpoint';
  token: string;
  /** The whole meta the token was meant to be sent with. */
  meta: Meta;
  /** The answer to (tenant's auth, meta), for comparison with what an altered token gets. */
  expected: unknown;
}

interface Fixture {
  h: TestApp;
  tokens: RealToken[];
  send(body: unknown, init?: { contentType?: string | undefined; raw?: Buffer }): Promise<{ statusCode: number; contentType: unknown; body: string }>;
}

async function fixture(t: Test): Promise<Fixture> {
  const h = await buildTestApp(t, { SYNC_PAGE_SIZE: String(PAGE_SIZE) });
  const serverError = lastServerError(h.app);
  for (const tenant of Object.values(TENANTS)) {
    const id = await h.createTenant(tenant.auth);
    await h.push(id, tenant.contacts);
    await h.push(id, [{ id: 'gone', name: 'Soon deleted' }]);
    await h.push(id, [{ id: 'gone', deleted: true }]);
  }
  const nextAddress = clientAddresses();
  const send: Fixture['send'] = async (body, init = {}) => {
    const contentType = init.raw === undefined ? 'application/json' : init.contentType;
    const res = await h.app.inject({
      method: 'POST',
      url: h.config.SYNC_PATH,
      remoteAddress: nextAddress(),
      headers: contentType === undefined ? {} : { 'content-type': contentType },
      payload: init.raw ?? toJson(body),
    });
    const answer = { statusCode: res.statusCode, contentType: res.headers['content-type'], body: res.body };
    if (res.statusCode >= 500) answer.body += `\nserver side: ${serverError()}`;
    return answer;
  };

  // Real tokens: every offset and checkpoint of a full run and of an incremental run (from a
  // plain timestamp, so that it has pages) of each tenant. A full run records the deletions it
  // reflected; after that, answers to the same request no longer change.
  const collected: Array<Omit<RealToken, 'expected'>> = [];
  for (const tenant of ['A', 'B'] as const) {
    for (const start of [{}, { synchronization_checkpoint: '2000-01-01 00:00:00 UTC' }]) {
      let meta: Meta = start;
      for (;;) {
        const res = await send({ auth: TENANTS[tenant].auth, meta });
        if (res.statusCode !== 200) throw new Error(`a sync run of ${tenant} failed: ${JSON.stringify(meta)} ${res.statusCode} ${res.body}`);
        const page = JSON.parse(res.body);
        if (page.synchronization_checkpoint) {
          collected.push({ tenant, field: 'synchronization_checkpoint', token: page.synchronization_checkpoint, meta: { synchronization_checkpoint: page.synchronization_checkpoint } });
        }
        if (!page.next_offset) break;
        meta = { ...start, offset: page.next_offset };
        collected.push({ tenant, field: 'offset', token: page.next_offset, meta });
      }
    }
  }
  const tokens: RealToken[] = [];
  for (const c of collected) {
    const res = await send({ auth: TENANTS[c.tenant].auth, meta: c.meta });
    if (res.statusCode !== 200) throw new Error(`a real token was refused: ${res.body}`);
    tokens.push({ ...c, expected: JSON.parse(res.body) });
  }
  return { h, tokens, send };
}

/** Undefined when the answer is a proper refusal or a correct page; otherwise what is wrong. */
function answerProblem(sent: unknown, res: { statusCode: number; contentType: unknown; body: string }): string | undefined {
  if (res.statusCode !== 200) return errorShapeProblem(res.statusCode, res.contentType, res.body);
  const page = JSON.parse(res.body) as { contacts: Contact[]; next_offset?: string; synchronization_checkpoint?: string };
  if (!responseCheck.Check(page)) return `a 200 that does not validate: ${[...responseCheck.Errors(page)].map((e) => `${e.path} ${e.message}`).join('; ')}`;
  const auth = (sent as { auth?: unknown }).auth;
  const owner = (['A', 'B'] as const).find((k) => sameJson(auth, TENANTS[k].auth));
  if (!owner) return `a 200 for credentials of no tenant: ${JSON.stringify(auth)?.slice(0, 200)}`;
  const mine = new Map(TENANTS[owner].contacts.map((c) => [c.id, c]));
  for (const contact of page.contacts) {
    if (!sameJson(contact, mine.get(contact.id))) return `tenant ${owner} was sent a contact not its own: ${JSON.stringify(contact)}`;
  }
  if (new Set(page.contacts.map((c) => c.id)).size !== page.contacts.length) return 'a contact twice in one page';
  if (page.contacts.length > PAGE_SIZE) return `a page of ${page.contacts.length}`;
  for (const token of [page.next_offset, page.synchronization_checkpoint]) {
    if (token !== undefined && !TOKEN.test(token)) return `a token that is not v1: ${token}`;
  }
  return undefined;
}

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const tokenChar = fc.oneof(
  fc.constantFrom(...BASE64URL.split('')),
  fc.constantFrom('.', '=', '+', '/', '!', ' ', '\u0000', '\ud800', 'é', '😀', '%'),
);

type Mutation =
  | { kind: 'replace' | 'insert'; at: number; char: string }
  | { kind: 'delete' | 'truncate'; at: number }
  | { kind: 'flipBit'; at: number; bit: number }
  | { kind: 'swapMac' | 'swapPayload'; other: number }
  | { kind: 'editPayload'; edit: string }
  | { kind: 'version'; version: string };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constantFrom('replace' as const, 'insert' as const), at: fc.nat(), char: tokenChar }),
  fc.record({ kind: fc.constantFrom('delete' as const, 'truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('flipBit' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constantFrom('swapMac' as const, 'swapPayload' as const), other: fc.nat() }),
  fc.record({ kind: fc.constant('editPayload' as const), edit: fc.constantFrom('t+1', 't-1', 't=huge', 't=number', 'i=other', 'i=missing', 'h', 'w', 'n=big', 'array', 'not-json') }),
  fc.record({ kind: fc.constant('version' as const), version: fc.constantFrom('v2', 'V1', 'v0', '', 'v1.v1') }),
);

function mutate(token: string, m: Mutation, others: string[]): string {
  const [version = '', payload = '', mac = ''] = token.split('.');
  switch (m.kind) {
    case 'replace':
      return token.slice(0, m.at % token.length) + m.char + token.slice((m.at % token.length) + 1);
    case 'insert':
      return token.slice(0, m.at % (token.length + 1)) + m.char + token.slice(m.at % (token.length + 1));
    case 'delete':
      return token.slice(0, m.at % token.length) + token.slice((m.at % token.length) + 1);
    case 'truncate':
      return token.slice(0, m.at % token.length);
    case 'flipBit': {
      const bytes = Buffer.from(token, 'utf8');
      bytes[m.at % bytes.length]! ^= 1 << m.bit;
      return bytes.toString('utf8');
    }
    case 'swapMac':
      return `${version}.${payload}.${others[m.other % others.length]!.split('.')[2]}`;
    case 'swapPayload':
      return `${version}.${others[m.other % others.length]!.split('.')[1]}.${mac}`;
    case 'version':
      return `${m.version}.${payload}.${mac}`;
    case 'editPayload': {
      const data = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
      const edits: Record<string, () => unknown> = {
        't+1': () => ({ ...data, t: String(BigInt(String(data.t)) + 1n) }),
        't-1': () => ({ ...data, t: String(BigInt(String(data.t)) - 1n) }),
        't=huge': () => ({ ...data, t: '99999999999999999999999' }),
        't=number': () => ({ ...data, t: Number(data.t) }),
        'i=other': () => ({ ...data, i: 'b-1' }),
        'i=missing': () => ({ t: data.t }),
        h: () => ({ ...data, h: '0' }),
        w: () => ({ ...data, w: 1 }),
        'n=big': () => ({ ...data, n: 2 ** 60 }),
        array: () => [data],
        'not-json': () => undefined,
      };
      const edited = edits[m.edit]!();
      const text = edited === undefined ? '{"t":' : JSON.stringify(edited);
      return `${version}.${Buffer.from(text).toString('base64url')}.${mac}`;
    }
  }
}

t.test('POST /contact_sync answers every generated body with a 4xx JSON error or a correct 200', async (t) => {
  const seed = fuzzSeed(t);
  const crashes = watchCrashes(t);
  const f = await fixture(t);
  const realTokens = f.tokens.map((r) => r.token);
  t.ok(f.tokens.filter((r) => r.field === 'offset').length >= 4, `${f.tokens.length} real tokens`);
  let requests = 0;
  const statuses = new Map<string, number>();
  const check = async (body: unknown, init?: Parameters<Fixture['send']>[1]) => {
    requests++;
    const res = await f.send(body, init);
    const key = res.statusCode === 200 ? '200' : `${res.statusCode} ${errorCode(res.body)}`;
    statuses.set(key, (statuses.get(key) ?? 0) + 1);
    return { res, problem: answerProblem(init?.raw ? parseOrUndefined(init.raw) : body, res) };
  };

  // Structured bodies: each part valid, missing, of the wrong type, huge, deep, or hostile text.
  const anyToken = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...realTokens) },
    { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...realTokens), mutation).map(([tok, m]) => mutate(tok, m, realTokens)) },
    { weight: 1, arbitrary: fc.date({ noInvalidDate: true }).map((d) => d.toISOString()) },
    { weight: 1, arbitrary: fc.stringMatching(/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?\s*(Z|UTC|GMT|[+-]\d{2}(:?\d{2})?)?$/) },
    { weight: 1, arbitrary: fc.constantFrom(null, '', 'v1..', 'v1.e30.AAAA') },
    { weight: 2, arbitrary: hostileValue },
  );
  const auth = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(TENANTS.A.auth, TENANTS.B.auth) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom(TENANTS.A.auth, TENANTS.B.auth), extraFields).map(([a, extra]) => ({ ...a, ...extra })) },
    { weight: 1, arbitrary: hostileValue.map((v) => ({ api_key: v })) },
    { weight: 1, arbitrary: fc.dictionary(nastyString, hostileValue, { maxKeys: 4 }) },
    { weight: 1, arbitrary: deepValue.map((v) => ({ api_key: v })) },
    { weight: 2, arbitrary: hostileValue },
  );
  const meta = fc.oneof(
    { weight: 4, arbitrary: fc.record({ synchronization_checkpoint: anyToken, offset: anyToken, context: hostileValue }, { requiredKeys: [] }) },
    { weight: 1, arbitrary: fc.tuple(fc.record({ offset: anyToken }, { requiredKeys: [] }), extraFields).map(([m, extra]) => ({ ...extra, ...m })) },
    { weight: 2, arbitrary: hostileValue },
  );
  // A valid request (a tenant's credentials with one of its real tokens, or none) with at most
  // one part broken: a page unless the broken part is one the endpoint reads.
  const PARTS = ['none', 'auth', 'auth key', 'auth extra', 'meta', 'offset', 'checkpoint', 'context', 'meta extra', 'body extra', 'no auth', 'no meta'] as const;
  const oneBroken = fc
    .record({ real: fc.option(fc.constantFrom(...f.tokens), { nil: undefined }), tenant: fc.constantFrom('A' as const, 'B' as const), part: fc.constantFrom(...PARTS), value: hostileValue, key: nastyString })
    .map(({ real, tenant, part, value, key }) => {
      const b: Record<string, unknown> = { auth: { ...TENANTS[real?.tenant ?? tenant].auth }, meta: { ...(real?.meta ?? {}) } };
      const authOf = b.auth as Record<string, unknown>;
      const metaOf = b.meta as Record<string, unknown>;
      if (part === 'auth') b.auth = value;
      if (part === 'auth key') authOf[Object.keys(authOf)[0]!] = value;
      if (part === 'auth extra') authOf[key] = value;
      if (part === 'meta') b.meta = value;
      if (part === 'offset') metaOf.offset = value;
      if (part === 'checkpoint') metaOf.synchronization_checkpoint = value;
      if (part === 'context') metaOf.context = value;
      if (part === 'meta extra') metaOf[key] = value;
      if (part === 'body extra') b[key] = value;
      if (part === 'no auth') delete b.auth;
      if (part === 'no meta') delete b.meta;
      return b;
    });
  const body = fc.oneof(
    { weight: 6, arbitrary: oneBroken },
    { weight: 6, arbitrary: fc.record({ auth, meta }, { requiredKeys: [] }) },
    { weight: 1, arbitrary: fc.tuple(fc.record({ auth, meta }), extraFields).map(([b, extra]) => ({ ...extra, ...b })) },
    { weight: 1, arbitrary: fc.record({ auth: hugeString, meta }) },
    { weight: 1, arbitrary: hostileValue },
  );
  await assertProperty(
    t,
    'structured bodies',
    fc.asyncProperty(body, async (b) => {
      const { problem } = await check(b);
      if (problem) throw new Error(problem);
    }),
    { seed, numRuns: 1_200 },
  );

  // Real tokens altered: refused, or (when the alteration is one the decoder reads past, such as
  // a character base64 ignores) the very page the original token gets; never another page, and
  // never a page for another tenant's credentials.
  const altered = fc.record({
    index: fc.nat({ max: f.tokens.length - 1 }),
    mutation,
    into: fc.constantFrom('own field', 'own field', 'own field', 'other field'),
    as: fc.constantFrom('own tenant', 'own tenant', 'own tenant', 'other tenant'),
  });
  await assertProperty(
    t,
    'altered real tokens',
    fc.asyncProperty(altered, async ({ index, mutation: m, into, as }) => {
      const real = f.tokens[index]!;
      const token = mutate(real.token, m, realTokens);
      const field = into === 'own field' ? real.field : real.field === 'offset' ? 'synchronization_checkpoint' : 'offset';
      const tenant = as === 'own tenant' ? real.tenant : real.tenant === 'A' ? 'B' : 'A';
      const sent = { auth: TENANTS[tenant].auth, meta: { ...real.meta, [field]: token } };
      const { res, problem } = await check(sent);
      if (problem) throw new Error(problem);
      if (res.statusCode === 200) {
        if (tenant !== real.tenant) throw new Error(`${real.tenant}'s ${real.field} was accepted for ${tenant}: ${token}`);
        if (!sameJson(JSON.parse(res.body), real.expected)) throw new Error(`an altered ${real.field} got another page: ${token}`);
      }
    }),
    { seed, numRuns: 1_000 },
  );

  // Every single character of every real token, replaced: byte by byte.
  let replaced = 0;
  let sameMeaning = 0;
  for (const real of f.tokens.slice(0, 4)) {
    for (let at = 0; at < real.token.length; at++) {
      const original = real.token[at]!;
      const char = BASE64URL[(BASE64URL.indexOf(original) + 17) % BASE64URL.length] ?? 'A';
      const token = real.token.slice(0, at) + char + real.token.slice(at + 1);
      const sent = { auth: TENANTS[real.tenant].auth, meta: { ...real.meta, [real.field]: token } };
      const { res, problem } = await check(sent);
      replaced++;
      if (problem) t.fail(`${real.field} with character ${at} replaced: ${problem}`);
      if (res.statusCode === 200) {
        sameMeaning++;
        t.ok(sameJson(JSON.parse(res.body), real.expected), `${real.field} with character ${at} replaced: the same page or none`);
      }
    }
  }
  // Only the last character of a 16-byte MAC carries bits base64 drops; everything else counts.
  t.ok(sameMeaning <= 4, `${replaced} single-character replacements, ${sameMeaning} read as the original`);

  // Raw payloads: not JSON, truncated JSON, wrong content types, invalid UTF-8.
  await assertProperty(
    t,
    'raw payloads',
    fc.asyncProperty(rawPayload({ auth: TENANTS.A.auth, meta: { offset: f.tokens.find((r) => r.tenant === 'A' && r.field === 'offset')!.token } }), async ({ contentType, payload }) => {
      const { problem } = await check(undefined, { contentType, raw: payload });
      if (problem) throw new Error(problem);
    }),
    { seed, numRuns: 600 },
  );

  t.ok(requests >= 3_000, `${requests} generated requests`);
  t.comment(`answers: ${[...statuses].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ×${n}`).join(', ')}`);
  t.ok((statuses.get('200') ?? 0) >= 200, 'a good share of the requests got as far as a page');
  t.same(crashes(), [], 'no unhandled rejection, no uncaught exception');

  // Still serving: a full run of A after all that is exactly A's contacts.
  const run = await syncRun(f.h.sync, TENANTS.A.auth);
  t.same(run.contacts.map((c) => c.id).sort(), TENANTS.A.contacts.map((c) => c.id).sort(), 'the app still answers a full run correctly');
});

// Regression (issue 13): a valid token in another wrapping (an extra field) took over its
// tenant, and a token with a line break or a control character reached the HTTP client and came
// back as a 503 (retried by Talkdesk for ever) with the token in its message.
t.test("auth variants of a valid HubSpot token are 4xx without a CRM call, and the token still syncs unverified", async (t) => {
  const seed = fuzzSeed(t);
  const crashes = watchCrashes(t);
  const TOKEN = 'pat-na1-91d91373-8e94-4872-893c-e7d080224a56';
  const VALID = { access_token: TOKEN };
  const sim = await startSim(t, { portals: [{ portalId: 7401, tokens: [TOKEN] }] });
  // ROLE=api: no workers, so every request the simulator sees is a verification.
  const h = await buildTestApp(t, { CRM: 'hubspot', HUBSPOT_BASE_URL: sim.url });
  const serverError = lastServerError(h.app);
  const nextAddress = clientAddresses();
  const post = async (url: string, payload: unknown) => {
    const res = await h.app.inject({ method: 'POST', url, remoteAddress: nextAddress(), headers: { 'content-type': 'application/json' }, payload: toJson(payload) });
    return { statusCode: res.statusCode, contentType: res.headers['content-type'], body: res.statusCode >= 500 ? `${res.body}\nserver side: ${serverError()}` : res.body };
  };
  const crmCalls = () => sim.control.stats().requests;

  t.equal((await post('/auth_validation', { auth: VALID })).statusCode, 204, 'the valid token onboards');
  const verified = crmCalls();
  t.ok(verified >= 1, `with ${verified} CRM calls`);

  // Characters no token has: control characters, line breaks, whitespace, non-ASCII.
  const BREAKERS = ['\n', '\r', '\r\n', '\t', ' ', '\u0000', '\u0001', '\u001b', '\u007f', '\u0085', '\u00a0', '\u2028', '\u2029', '\ufeff', 'é', '😀', '\ud800'];
  const broken = fc
    .record({ at: fc.nat({ max: TOKEN.length }), how: fc.constantFrom('insert', 'replace', 'prefix', 'suffix'), char: fc.constantFrom(...BREAKERS) })
    .map(({ at, how, char }) => ({
      access_token:
        how === 'prefix' ? char + TOKEN : how === 'suffix' ? TOKEN + char : TOKEN.slice(0, at) + char + TOKEN.slice(how === 'replace' ? at + 1 : at),
    }));
  const variant = fc
    .oneof(
      // extra fields beside a valid token
      { weight: 3, arbitrary: extraFields.filter((e) => Object.keys(e).length > 0).map((extra) => ({ ...VALID, ...extra })) },
      // the token of the wrong type
      { weight: 2, arbitrary: hostileValue.filter((v) => typeof v !== 'string').map((v) => ({ access_token: v })) },
      // control characters and line breaks in the token
      { weight: 3, arbitrary: broken },
      { weight: 1, arbitrary: nastyString.filter((x) => /[^\x21-\x7e]/.test(x)).map((x) => ({ access_token: `${TOKEN}${x}` })) },
      // nested, wrapped or renamed
      {
        weight: 2,
        arbitrary: fc.constantFrom<unknown>(
          { access_token: VALID },
          { access_token: [TOKEN] },
          { access_token: { value: TOKEN } },
          { access_token: TOKEN, nested: VALID },
          { auth: VALID },
          [VALID],
          TOKEN,
          { access_token: `Bearer ${TOKEN}` },
          { Access_Token: TOKEN },
          { 'access_token ': TOKEN },
          { accessToken: TOKEN },
          { '': TOKEN },
          { access_token: '' },
          { access_token: 'x'.repeat(1_025) },
        ),
      },
      { weight: 1, arbitrary: deepValue.map((v) => ({ access_token: v })) },
      { weight: 1, arbitrary: hostileValue },
    )
    // Never the valid auth itself (sameJson would recurse through deepValue's thousands of levels).
    .filter((auth) => !(auth !== null && typeof auth === 'object' && !Array.isArray(auth) && Object.keys(auth).length === 1 && (auth as Auth).access_token === TOKEN));

  const statuses = new Map<string, number>();
  await assertProperty(
    t,
    'auth variants of a valid token',
    fc.asyncProperty(variant, fc.constantFrom(h.config.SYNC_PATH, '/auth_validation'), async (auth, url) => {
      const before = crmCalls();
      const res = await post(url, url === '/auth_validation' ? { auth } : { auth, meta: {} });
      const key = `${url} ${res.statusCode} ${errorCode(res.body)}`;
      statuses.set(key, (statuses.get(key) ?? 0) + 1);
      const problem = errorShapeProblem(res.statusCode, res.contentType, res.body);
      if (problem) throw new Error(problem);
      if (crmCalls() !== before) throw new Error(`the CRM was called (${crmCalls() - before} requests)`);
      if (res.body.includes(TOKEN)) throw new Error(`the answer repeats the token: ${res.body.slice(0, 300)}`);
    }),
    { seed, numRuns: 250 },
  );
  t.comment(`answers: ${[...statuses].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ×${n}`).join(', ')}`);
  t.same(crashes(), [], 'no unhandled rejection, no uncaught exception');

  const after = await post(h.config.SYNC_PATH, { auth: VALID, meta: {} });
  t.equal(after.statusCode, 200, 'the valid token still syncs');
  t.equal(crmCalls(), verified, 'and nothing since its onboarding made a CRM call: it was not verified again');
  const tenants = (await h.database.db.execute<{ n: number }>(sql`SELECT count(*)::int AS n FROM tenants`)).rows[0]!.n;
  t.equal(tenants, 1, 'no variant made a tenant');
});

function errorCode(body: string): string {
  try {
    return String((JSON.parse(body) as { error?: unknown }).error);
  } catch {
    return 'not JSON';
  }
}

function parseOrUndefined(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8').replace(/^\ufeff/, ''));
  } catch {
    return undefined;
  }
}
