import fc from 'fast-check';
import t, { type Test } from 'tap';
import { sql } from 'drizzle-orm';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { TenantSummarySchema } from '../src/admin/tenant-summary.js';
import { ContactDetailSchema } from '../src/admin/contact-detail.js';
import { adminHeaders, buildTestApp, type TestApp } from './helpers/app.js';
import {
  assertProperty,
  errorShapeProblem,
  extraFields,
  fuzzSeed,
  hostileValue,
  hugeString,
  lastServerError,
  nastyString,
  rawPayload,
  toJson,
  watchCrashes,
} from './helpers/fuzz.js';

/**
 * The admin API (src/admin/: tenant registration, the tenant routes, the contacts push and
 * delete, the status page) against generated requests: hostile path parameters, query strings
 * and bodies. Every answer is a 4xx `{ error, message }` or a correct 2xx (checked against the
 * database), never a 5xx, never a crash. Bull Board's API under /admin/queues is a dependency's,
 * answering in its own shape: its auth and body limits are tested (tenant-isolation,
 * body-limits), not its handlers.
 */

const summaryCheck = TypeCompiler.Compile(TenantSummarySchema);
const detailCheck = TypeCompiler.Compile(ContactDetailSchema);

interface Answer {
  statusCode: number;
  contentType: unknown;
  body: string;
}

interface Fixture {
  h: TestApp;
  /** The two long-lived tenants the generated requests aim at. */
  ids: Record<'T1' | 'T2', string>;
  send(method: string, url: string, body?: { json: unknown } | { raw: Buffer; contentType: string | undefined }, headers?: Record<string, string>): Promise<Answer>;
  rows<T>(query: ReturnType<typeof sql>): Promise<T[]>;
}

async function fixture(t: Test): Promise<Fixture> {
  const h = await buildTestApp(t);
  const serverError = lastServerError(h.app);
  const ids = { T1: await h.createTenant({ api_key: 'admin-fuzz-1' }, 'One'), T2: await h.createTenant({ api_key: 'admin-fuzz-2' }, 'Two') };
  await h.push(ids.T1, [{ id: '1', name: 'Jane' }, { id: '2', name: 'Joe' }, { id: 'x', name: 'Ex' }]);
  await h.push(ids.T2, [{ id: '1', name: 'Other Jane' }]);
  return {
    h,
    ids,
    async send(method, url, body, headers = adminHeaders) {
      const res = await h.app.inject({
        method: method as 'GET',
        url,
        headers: {
          ...headers,
          ...(body === undefined ? {} : 'json' in body ? { 'content-type': 'application/json' } : body.contentType === undefined ? {} : { 'content-type': body.contentType }),
        },
        ...(body === undefined ? {} : { payload: 'json' in body ? toJson(body.json) : body.raw }),
      });
      const answer = { statusCode: res.statusCode, contentType: res.headers['content-type'], body: res.body };
      if (res.statusCode >= 500) answer.body += `\nserver side: ${serverError()}`;
      return answer;
    },
    async rows<T>(query: ReturnType<typeof sql>) {
      return (await h.database.db.execute(query)).rows as T[];
    },
  };
}

/** Every byte percent-encoded: a path segment that reaches the router as exactly these bytes. */
const pct = (s: string) => [...Buffer.from(s, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');

// Path segments as a hostile client writes them: bad escapes, an encoded lone surrogate (invalid
// UTF-8), an overlong NUL, traversal, encoded slashes.
const RAW_SEGMENTS = ['%', '%zz', '%00', '%ED%A0%80', '%C0%80', '%FF', '..', '.', '%2F', '%252F', 'a%2Fb', '%E2%80%AE', '~', "'", ';', ':', 'null'];

type Target = 'T1' | 'T2' | 'T1 upper' | 'victim' | { raw: string };
const tenantTarget: fc.Arbitrary<Target> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom<Target>('T1', 'T2') },
  { weight: 1, arbitrary: fc.constant<Target>('T1 upper') },
  { weight: 2, arbitrary: fc.uuid().map((u): Target => ({ raw: u })) },
  { weight: 2, arbitrary: nastyString.map((s): Target => ({ raw: pct(s) })) },
  { weight: 1, arbitrary: fc.constantFrom(...RAW_SEGMENTS).map((raw): Target => ({ raw })) },
);

const name = fc.oneof(
  { weight: 4, arbitrary: fc.string({ minLength: 1, maxLength: 40, unit: 'grapheme' }) },
  { weight: 2, arbitrary: nastyString },
  { weight: 1, arbitrary: hugeString },
  { weight: 2, arbitrary: hostileValue },
);

// Contacts for the push: valid ones, ones with one field broken or extra, tombstones, garbage.
const text = fc.oneof({ weight: 4, arbitrary: fc.string({ maxLength: 30, unit: 'grapheme' }) }, { weight: 1, arbitrary: nastyString });
const validContact = fc.record(
  {
    id: fc.oneof(fc.constantFrom('1', '2', 'x', 'new', '😀'), fc.string({ minLength: 1, maxLength: 20 })),
    name: fc.string({ minLength: 1, maxLength: 30, unit: 'grapheme' }),
    company: text,
    title: text,
    emails: fc.array(text, { maxLength: 3 }),
    phones: fc.array(text, { maxLength: 3 }),
    address: text,
    twitter: text,
    url: text,
  },
  { requiredKeys: ['id', 'name'] },
);
const CONTACT_KEYS = ['id', 'name', 'company', 'emails', 'phones', 'websites', 'photo_url', 'deleted'] as const;
const brokenContact = fc
  .tuple(validContact, fc.constantFrom(...CONTACT_KEYS, 'drop id', 'drop name', 'extra'), hostileValue, extraFields)
  .map(([c, key, value, extra]) => {
    const out: Record<string, unknown> = { ...c };
    if (key === 'drop id') delete out.id;
    else if (key === 'drop name') delete out.name;
    else if (key === 'extra') Object.assign(out, extra);
    else out[key] = value;
    return out;
  });
const tombstone = fc.record({ id: fc.oneof(fc.constantFrom('1', '2', 'x', 'never'), nastyString), deleted: fc.oneof({ weight: 5, arbitrary: fc.constant<unknown>(true) }, { weight: 1, arbitrary: hostileValue }) });
const pushBody = fc.oneof(
  { weight: 8, arbitrary: fc.array(fc.oneof({ weight: 5, arbitrary: validContact }, { weight: 2, arbitrary: brokenContact }, { weight: 2, arbitrary: tombstone }, { weight: 1, arbitrary: hostileValue }), { maxLength: 12 }) },
  { weight: 1, arbitrary: hostileValue },
  { weight: 1, arbitrary: fc.constant(Array.from({ length: 10_001 }, (_, i) => ({ id: String(i), name: 'n' }))) },
);

const registerBody = fc.oneof(
  { weight: 4, arbitrary: fc.record({ name, auth: fc.oneof(fc.dictionary(nastyString, hostileValue, { maxKeys: 3 }), hostileValue), crm: fc.oneof(fc.constant('hubspot'), hostileValue) }, { requiredKeys: [] }) },
  { weight: 3, arbitrary: fc.record({ name: fc.string({ minLength: 1, maxLength: 30 }), auth: fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 12 }), { minKeys: 1, maxKeys: 3 }) }) },
  { weight: 1, arbitrary: fc.tuple(fc.record({ name, auth: fc.constant({ api_key: 'admin-fuzz-1' }) }), extraFields).map(([b, extra]) => ({ ...extra, ...b })) },
  { weight: 1, arbitrary: hostileValue },
);

const queryValue = fc.oneof(
  fc.integer({ min: -5, max: 600 }).map(String),
  fc.constantFrom('', '0', '1', '50', '500', '501', '2147483647', '2147483648', '99999999999999999999', '1e300', '1.5', '-0', '0x10', 'NaN', 'Infinity', ' 1', '1 ', '١'),
  nastyString.map(pct),
);
const query = fc
  .array(fc.tuple(fc.constantFrom('limit', 'offset', 'page', 'extra', '__proto__'), queryValue), { maxLength: 4 })
  .map((pairs) => (pairs.length === 0 ? '' : `?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}`));

const contactId = fc.oneof(
  fc.constantFrom('1', '2', 'x', 'new', 'never').map(pct),
  nastyString.map(pct),
  fc.constantFrom(...RAW_SEGMENTS),
  hugeString.map((s) => pct(s.slice(0, 700))),
);

type Op =
  | { op: 'register'; body: unknown }
  | { op: 'list'; query: string }
  | { op: 'get' | 'pause' | 'resume' | 'resync' | 'delete'; target: Target }
  | { op: 'rename'; target: Target; body: unknown }
  | { op: 'push'; target: Target; body: unknown }
  | { op: 'deleteContact'; target: Target; contactId: string; query: string }
  | { op: 'getContact'; target: Target; contactId: string }
  | { op: 'statusPage'; query: string }
  | { op: 'badAuth'; authorization: string; route: 'list' | 'push' };

const operation: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: registerBody.map((body): Op => ({ op: 'register', body })) },
  { weight: 2, arbitrary: query.map((q): Op => ({ op: 'list', query: q })) },
  { weight: 3, arbitrary: fc.record({ op: fc.constantFrom('get' as const, 'pause' as const, 'resume' as const, 'resync' as const), target: tenantTarget }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('delete' as const), target: fc.oneof(tenantTarget.filter((x) => x !== 'T1' && x !== 'T2' && x !== 'T1 upper'), fc.constant<Target>('victim')) }) },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('rename' as const),
      target: tenantTarget,
      body: fc.oneof(fc.record({ name }), fc.tuple(fc.record({ name }), extraFields).map(([b, e]) => ({ ...e, ...b })), hostileValue),
    }),
  },
  { weight: 8, arbitrary: fc.record({ op: fc.constant('push' as const), target: tenantTarget, body: pushBody }) },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('deleteContact' as const),
      target: tenantTarget,
      contactId,
      query: fc.oneof(
        fc.constantFrom('', '?erase=true', '?erase=false', '?erase=1', '?erase=', '?erase=true&erase=false', '?erase[]=true', '?erase=TRUE'),
        nastyString.map((v) => `?erase=${pct(v)}`),
      ),
    }),
  },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('getContact' as const), target: tenantTarget, contactId }) },
  { weight: 1, arbitrary: query.map((q): Op => ({ op: 'statusPage', query: q })) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('badAuth' as const),
      authorization: fc.oneof(
        fc.constantFrom('Bearer', 'Bearer ', 'Bearer wrong', 'Basic', 'Basic !!!', 'Basic Og==', 'Basic dGVzdA==', 'bearer  x', 'Token x', ''),
        nastyString.map((s) => `Bearer ${s}`).filter((s) => /^[\t\x20-\x7e\x80-\xff]*$/.test(s)),
      ),
      route: fc.constantFrom('list' as const, 'push' as const),
    }),
  },
);

t.test('the admin API answers every generated request with a 4xx JSON error or a correct 2xx', async (t) => {
  const seed = fuzzSeed(t);
  const crashes = watchCrashes(t);
  const f = await fixture(t);
  let requests = 0;
  const statuses = new Map<string, number>();
  const count = (op: string, res: Answer) => {
    requests++;
    const key = `${op} ${res.statusCode}`;
    statuses.set(key, (statuses.get(key) ?? 0) + 1);
  };

  const idOf = async (target: Target): Promise<string> => {
    if (typeof target === 'object') return target.raw;
    if (target === 'T1 upper') return f.ids.T1.toUpperCase();
    if (target === 'victim') return f.h.createTenant({ victim: `${requests}-${Math.random()}` }, 'victim');
    return f.ids[target];
  };

  await assertProperty(
    t,
    'admin requests',
    fc.asyncProperty(operation, async (op) => {
      const problem = await runOperation(f, op, idOf, count);
      if (problem) throw new Error(problem);
    }),
    { seed, numRuns: 2_000 },
  );

  // Raw payloads on the routes that read a body.
  const bodyRoutes = [
    { method: 'POST', url: () => '/admin/tenants', valid: { name: 'raw', auth: { k: 'raw' } } },
    { method: 'PATCH', url: () => `/admin/tenants/${f.ids.T2}`, valid: { name: 'Two' } },
    { method: 'PUT', url: () => `/admin/tenants/${f.ids.T2}/contacts`, valid: [{ id: '1', name: 'Other Jane' }] },
  ];
  for (const route of bodyRoutes) {
    await assertProperty(
      t,
      `raw payloads to ${route.method} ${route.url()}`,
      fc.asyncProperty(rawPayload(route.valid), async ({ contentType, payload }) => {
        const res = await f.send(route.method, route.url(), { raw: payload, contentType });
        count(`raw ${route.method}`, res);
        if (res.statusCode >= 200 && res.statusCode < 300) return;
        const problem = errorShapeProblem(res.statusCode, res.contentType, res.body);
        if (problem) throw new Error(problem);
      }),
      { seed, numRuns: 200 },
    );
  }

  t.ok(requests >= 2_000, `${requests} generated requests`);
  t.comment(`answers: ${[...statuses].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ×${n}`).join(', ')}`);
  for (const op of ['register 201', 'rename 200', 'push 200', 'deleteContact 204', 'getContact 200', 'list 200', 'get 200', 'delete 204']) {
    t.ok((statuses.get(op) ?? 0) > 0, `some requests succeeded: ${op}`);
  }
  t.same(crashes(), [], 'no unhandled rejection, no uncaught exception');
  const still = await f.send('GET', `/admin/tenants/${f.ids.T1}`);
  t.equal(still.statusCode, 200, 'the admin API still answers');
});

/** Sends one generated request; undefined when the answer is a proper refusal or a correct 2xx. */
async function runOperation(f: Fixture, op: Op, idOf: (t: Target) => Promise<string>, count: (op: string, res: Answer) => void): Promise<string | undefined> {
  let res: Answer;
  let correct: (() => Promise<string | undefined>) | undefined;
  switch (op.op) {
    case 'register':
      res = await f.send('POST', '/admin/tenants', { json: op.body });
      correct = async () => {
        if (res.statusCode !== 201) return `status ${res.statusCode}`;
        const { id } = JSON.parse(res.body) as { id: string };
        const [row] = await f.rows<{ name: string; crm: string }>(sql`SELECT name, crm FROM tenants WHERE id = ${id}`);
        const sent = op.body as { name: string; crm?: unknown };
        if (row?.name !== sent.name || row.crm !== 'push') return `registered ${JSON.stringify(row)} for ${JSON.stringify(sent.name)}`;
        return undefined;
      };
      break;
    case 'list':
      res = await f.send('GET', `/admin/tenants${op.query}`);
      correct = async () => {
        const page = JSON.parse(res.body) as { tenants: unknown[]; total: number; limit: number; offset: number };
        if (!page.tenants.every((s) => summaryCheck.Check(s))) return 'a summary that does not validate';
        const [{ n }] = (await f.rows<{ n: number }>(sql`SELECT count(*)::int AS n FROM tenants`)) as [{ n: number }];
        if (page.total !== n) return `total ${page.total}, ${n} tenants`;
        if (page.tenants.length > page.limit || page.tenants.length !== Math.max(0, Math.min(page.limit, n - page.offset))) return `${page.tenants.length} tenants for limit ${page.limit} offset ${page.offset}`;
        return undefined;
      };
      break;
    case 'get': {
      const id = await idOf(op.target);
      res = await f.send('GET', `/admin/tenants/${id}`);
      correct = async () => {
        const summary = JSON.parse(res.body) as { id: string };
        if (!summaryCheck.Check(summary)) return 'a summary that does not validate';
        return summary.id === id.toLowerCase() ? undefined : `asked for ${id}, got ${summary.id}`;
      };
      break;
    }
    case 'pause':
    case 'resume':
    case 'resync': {
      const id = await idOf(op.target);
      res = await f.send('POST', `/admin/tenants/${id}/${op.op}`);
      correct = async () => {
        if (op.op === 'resync') return 'a pushed tenant was resynced';
        const answer = JSON.parse(res.body) as { id: string; status: string };
        const [row] = await f.rows<{ status: string }>(sql`SELECT status FROM tenants WHERE id = ${answer.id}`);
        const expected = op.op === 'pause' ? 'paused' : 'active';
        if (answer.id !== id || answer.status !== expected || row?.status !== expected) return `${op.op}: ${res.body}, stored ${row?.status}`;
        return undefined;
      };
      break;
    }
    case 'delete': {
      const id = await idOf(op.target);
      res = await f.send('DELETE', `/admin/tenants/${id}`);
      correct = async () => {
        const left = await f.rows(sql`SELECT 1 FROM tenants WHERE id = ${id}`);
        return res.statusCode === 204 && left.length === 0 ? undefined : `deleted ${id}: ${res.statusCode}, ${left.length} left`;
      };
      break;
    }
    case 'rename': {
      const id = await idOf(op.target);
      res = await f.send('PATCH', `/admin/tenants/${id}`, { json: op.body });
      correct = async () => {
        const summary = JSON.parse(res.body) as { id: string; name: string };
        const sent = (op.body as { name: string }).name;
        const [row] = await f.rows<{ name: string }>(sql`SELECT name FROM tenants WHERE id = ${summary.id}`);
        if (!summaryCheck.Check(summary) || summary.name !== sent || row?.name !== sent) return `renamed to ${JSON.stringify(sent)}: ${res.body.slice(0, 200)}`;
        return undefined;
      };
      break;
    }
    case 'push': {
      const id = await idOf(op.target);
      res = await f.send('PUT', `/admin/tenants/${id}/contacts`, { json: op.body });
      correct = () => pushWasWritten(f, id, op.body as Array<Record<string, unknown>>, res);
      break;
    }
    case 'deleteContact': {
      const id = await idOf(op.target);
      res = await f.send('DELETE', `/admin/tenants/${id}/contacts/${op.contactId}${op.query}`);
      correct = async () => {
        let contactId: string;
        try {
          contactId = decodeURIComponent(op.contactId);
        } catch {
          return `a contact id that does not decode was deleted: ${op.contactId}`;
        }
        const [row] = await f.rows<{ deleted: boolean; name: string; history: number }>(sql`
          SELECT deleted_at IS NOT NULL AS deleted, name,
                 (SELECT count(*)::int FROM contact_history h WHERE h.tenant_id = c.tenant_id AND h.contact_id = c.id) AS history
          FROM contacts c WHERE tenant_id = ${id} AND id = ${contactId}`);
        if (res.statusCode !== 204 || !row?.deleted) return `deleted contact ${contactId}: ${res.statusCode}, row ${JSON.stringify(row)}`;
        const erased = new URLSearchParams(op.query).getAll('erase');
        if (erased.length === 1 && erased[0] === 'true' && (row.name !== '' || row.history !== 0)) return `erased contact ${contactId} left ${JSON.stringify(row)}`;
        return undefined;
      };
      break;
    }
    case 'getContact': {
      const id = await idOf(op.target);
      res = await f.send('GET', `/admin/tenants/${id}/contacts/${op.contactId}`);
      correct = async () => {
        const detail = JSON.parse(res.body) as { id: string; contact: { name?: string } };
        const [row] = await f.rows<{ name: string }>(sql`SELECT name FROM contacts WHERE tenant_id = ${id} AND id = ${detail.id}`);
        if (!detailCheck.Check(detail)) return `a detail that does not validate: ${res.body.slice(0, 200)}`;
        if (decodeURIComponent(op.contactId) !== detail.id || !row || (detail.contact.name ?? '') !== row.name) return `asked for ${op.contactId}, got ${res.body.slice(0, 200)}`;
        return undefined;
      };
      break;
    }
    case 'statusPage':
      res = await f.send('GET', `/admin${op.query}`);
      correct = async () => (String(res.contentType).startsWith('text/html') && res.body.includes('</html>') ? undefined : 'not the status page');
      break;
    case 'badAuth':
      res =
        op.route === 'list'
          ? await f.send('GET', '/admin/tenants', undefined, { authorization: op.authorization })
          : await f.send('PUT', `/admin/tenants/${f.ids.T1}/contacts`, { json: [{ id: '1', deleted: true }] }, { authorization: op.authorization });
      correct = async () => 'answered without the admin token';
      break;
  }
  count(op.op, res);
  // A '.' or '..' tenant segment is resolved before routing (/admin/tenants/.. is /admin/, whose
  // answer is a redirect to the status page): another route answered, not this one.
  const dotSegment = 'target' in op && typeof op.target === 'object' && (op.target.raw === '.' || op.target.raw === '..');
  if (dotSegment && res.statusCode >= 200 && res.statusCode < 400) return undefined;
  if (res.statusCode >= 200 && res.statusCode < 300) return correct();
  const problem = errorShapeProblem(res.statusCode, res.contentType, res.body);
  if (problem) return problem;
  if (op.op === 'badAuth' && res.statusCode !== 401) return `a bad Authorization header got ${res.statusCode}`;
  return undefined;
}

/** After a 200, the last item for each id is what the tenant's mirror holds. */
async function pushWasWritten(f: Fixture, tenantId: string, items: Array<Record<string, unknown>>, res: Answer): Promise<string | undefined> {
  const counts = JSON.parse(res.body) as Record<string, number>;
  const last = new Map(items.map((item) => [item.id as string, item]));
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  if (total > last.size) return `counts ${res.body} for ${last.size} ids`;
  for (const [id, item] of last) {
    const [row] = await f.rows<{ name: string; deleted: boolean }>(sql`SELECT name, deleted_at IS NOT NULL AS deleted FROM contacts WHERE tenant_id = ${tenantId} AND id = ${id}`);
    if (item.deleted === true) {
      if (row && !row.deleted) return `tombstone ${JSON.stringify(id)} is live`;
    } else if (!row || row.deleted || row.name !== String(item.name).trim()) {
      return `contact ${JSON.stringify(id)} stored as ${JSON.stringify(row)}, pushed ${JSON.stringify(item.name)}`;
    }
  }
  return undefined;
}

// Regression: the router's default 100-character limit on path parameters answered 414 to
// DELETE …/contacts/:contactId for ids of 101 to 512 characters, which the push accepts.
t.test('a contact id of any length the push accepts can be deleted through its route', async (t) => {
  const h = await buildTestApp(t);
  const tenant = await h.createTenant({ api_key: 'long-ids' });
  const ids = ['a'.repeat(512), '😀'.repeat(256), 'é'.repeat(512)];
  await h.push(tenant, ids.map((id) => ({ id, name: 'Long' })));
  for (const id of ids) {
    const res = await h.app.inject({ method: 'DELETE', url: `/admin/tenants/${tenant}/contacts/${encodeURIComponent(id)}`, headers: adminHeaders });
    t.equal(res.statusCode, 204, `an id of ${id.length} code units`);
  }
  const tooLong = await h.app.inject({ method: 'DELETE', url: `/admin/tenants/${tenant}/contacts/${'a'.repeat(513)}`, headers: adminHeaders });
  t.equal(tooLong.statusCode, 414, 'one longer than any contact id');
  t.same(Object.keys(tooLong.json()).sort(), ['error', 'message'], 'answered as { error, message }');
  const badUrl = await h.app.inject({ method: 'DELETE', url: `/admin/tenants/${tenant}/contacts/%E0%A4%A`, headers: adminHeaders });
  t.equal(badUrl.statusCode, 400, 'a path that does not decode');
  t.same(Object.keys(badUrl.json()).sort(), ['error', 'message'], 'answered as { error, message }');
});
