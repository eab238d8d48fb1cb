import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import type { Test } from 'tap';

/**
 * Shared pieces of the fuzz tests (fuzz-sync, fuzz-admin): the seed, hostile values, raw
 * payloads, the error shape every refusal must have, and a watch for crashes.
 */

/** The fixed seed, or FUZZ_SEED to replay a failure or explore; printed either way. */
export function fuzzSeed(t: Test): number {
  const given = process.env.FUZZ_SEED;
  const seed = given === undefined || given === '' ? 20_251_125 : Number(given);
  if (!Number.isSafeInteger(seed)) throw new Error(`FUZZ_SEED must be an integer, not ${given}`);
  t.comment(`fuzz seed ${seed} (replay with FUZZ_SEED=${seed})`);
  return seed;
}

/**
 * Runs a property; a failure reports its seed and path (replayable with fc.assert's `seed` and
 * `path`), the shrunk input and what was wrong with the answer.
 */
export async function assertProperty<Ts>(
  t: Test,
  name: string,
  property: fc.IAsyncProperty<Ts>,
  options: { seed: number; numRuns: number },
): Promise<void> {
  const details = await fc.check(property, { seed: options.seed, numRuns: options.numRuns });
  if (!details.failed) {
    t.pass(`${name}: ${details.numRuns} runs`);
    return;
  }
  const input = fc.stringify(details.counterexample);
  const error = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
  t.fail(
    `${name}: failed after ${details.numRuns} runs (seed ${details.seed}, path "${details.counterexamplePath}")\n` +
      `  input: ${input.length > 1_500 ? `${input.slice(0, 1_500)}… (${input.length} characters)` : input}\n` +
      `  ${error}`,
  );
}

// Characters that break naive code: NUL (PostgreSQL text), lone and reversed surrogates (UTF-8
// encoders, JSON parsers), noncharacters, a byte-order mark, bidi overrides, combining marks,
// astral characters, quotes and escapes, and strings our own parsers give meaning to.
const SPECIALS = [
  '\u0000', '\u0001', '\u007f', '\ud800', '\udbff', '\udc00', '\udfff', '\udc00\ud800', '\ufffe', '\uffff', '\ufeff',
  '\u202e', '\u200b', '\u2028', 'e\u0301', '😀', '\u{10ffff}', 'ß', 'İ', '"', '\\', '\n', '\r\n', '\t', '%00', '%',
  '../', '{}', '[]', "'", '<script>', '${x}', '__proto__', 'constructor', 'prototype', 'v1.', 'v1', '.', 'null',
  'NaN', '-1', '1e999', '2012-11-20 23:01:00 UTC', '9999-12-31T23:59:59.999999+23:59', '0000-00-00 00:00',
];

/** Short strings full of the characters that break naive code. */
export const nastyString: fc.Arbitrary<string> = fc
  .array(fc.oneof(fc.constantFrom(...SPECIALS), fc.string({ unit: 'binary', maxLength: 6 }), fc.string({ maxLength: 6 })), { maxLength: 10 })
  .map((parts) => parts.join(''));

/** Strings from 1,000 to 40,000 code units: over most schema maxima and some body limits. */
export const hugeString: fc.Arbitrary<string> = fc
  .tuple(fc.constantFrom('a', '😀', '\u0000', '\ud800', 'x"\\', 'é'), fc.integer({ min: 1_000, max: 40_000 }))
  .map(([unit, length]) => unit.repeat(Math.ceil(length / unit.length)));

/** A value nested up to 8,000 levels deep (a 16 KiB body holds about that many): arrays, objects or both. */
export const deepValue: fc.Arbitrary<unknown> = fc
  .tuple(fc.integer({ min: 2, max: 8_000 }), fc.constantFrom('array', 'object', 'mixed'), fc.constantFrom<unknown>('x', 1, null, true, {}, []))
  .map(([depth, shape, leaf]) => {
    let value = leaf;
    for (let i = 0; i < depth; i++) {
      const asArray = shape === 'array' || (shape === 'mixed' && i % 2 === 0);
      value = asArray ? [value] : { k: value };
    }
    // fast-check prints a counterexample recursively: a short description keeps the report
    // (and the stack) intact. Non-enumerable, so JSON.stringify does not see it.
    Object.defineProperty(value, fc.toStringMethod, { value: () => `<${shape} nested ${depth} deep around ${JSON.stringify(leaf)}>` });
    return value;
  });

/** Numbers JSON can carry and code may mishandle. */
const edgeNumber = fc.constantFrom(0, -0, -1, 1.5, 2 ** 31, 2 ** 53 + 2, -(2 ** 63), 1e308, -1e308, 5e-324);

/** Any value a hostile client could put where something else is expected. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 3, stringUnit: 'binary' }) },
  { weight: 3, arbitrary: nastyString },
  { weight: 1, arbitrary: hugeString },
  { weight: 1, arbitrary: deepValue },
  { weight: 1, arbitrary: edgeNumber },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(null, true, false, [], {}, '', ' ', [null], { '': '' }) },
);

/** Extra keys, hostile names included, to merge into an otherwise valid object. */
export const extraFields: fc.Arbitrary<Record<string, unknown>> = fc.dictionary(
  fc.oneof(nastyString, fc.constantFrom('__proto__', 'constructor', 'auth', 'meta', 'id', 'name', 'deleted', 'index', '')),
  hostileValue,
  { maxKeys: 3 },
);

const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'APPLICATION/JSON',
  'application/json; charset=utf-16',
  'application/json; charset=latin1',
  'application/merge-patch+json',
  'text/plain',
  'text/plain; charset=utf-8',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/octet-stream',
  'application/xml',
  'garbage',
  ';;',
  'application/json; boundary="',
  '',
];

export interface RawRequest {
  contentType: string | undefined;
  payload: Buffer;
}

/**
 * Bodies that are not what the content type says: truncated JSON of a valid body, random bytes,
 * a byte-order mark, duplicate and prototype keys, literals JSON.parse reads oddly, and the
 * valid body itself under every content type.
 */
export function rawPayload(validBody: unknown): fc.Arbitrary<RawRequest> {
  const valid = JSON.stringify(validBody);
  const text = fc.oneof(
    fc.nat({ max: valid.length }).map((end) => valid.slice(0, end)),
    fc.constant(valid),
    fc.constant(`\ufeff${valid}`),
    fc.constant(`${valid}${valid}`),
    fc.constant(`${valid.slice(0, -1)},"__proto__":{"polluted":1}}`),
    fc.constant(`${valid.slice(0, -1)},"constructor":{"prototype":{"polluted":1}}}`),
    fc.constant(`{"auth":{"a":1},"auth":${valid}}`),
    fc.constantFrom('', ' ', 'null', 'true', '0', '1e999', '-', '"\\ud800"', '[', '{', '{"a":', '\u0000', 'NaN', '[]', '{}'),
    nastyString,
    fc.nat({ max: valid.length }).chain((at) => nastyString.map((s) => valid.slice(0, at) + s + valid.slice(at))),
  );
  const bytes = fc.oneof(
    { weight: 4, arbitrary: text.map((s) => Buffer.from(s, 'utf8')) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 512 }).map((a) => Buffer.from(a)) },
    // Invalid UTF-8 inside an otherwise valid document (an overlong NUL, a lone continuation byte).
    { weight: 1, arbitrary: fc.constantFrom([0xc0, 0x80], [0x80], [0xed, 0xa0, 0x80], [0xff]).map((b) => Buffer.concat([Buffer.from(valid.slice(0, -2)), Buffer.from(b), Buffer.from(valid.slice(-2))])) },
  );
  return fc.record({ contentType: fc.option(fc.constantFrom(...CONTENT_TYPES), { nil: undefined }), payload: bytes });
}

/** What every refusal must look like: a 4xx with a JSON `{ error, message }` (and perhaps `index`). */
export function errorShapeProblem(statusCode: number, contentType: unknown, body: string): string | undefined {
  if (statusCode < 400 || statusCode >= 500) return `status ${statusCode}: ${body.slice(0, 800)}`;
  if (!String(contentType ?? '').startsWith('application/json')) return `content-type ${String(contentType)}`;
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return `body is not JSON: ${body.slice(0, 200)}`;
  }
  const { error, message, ...rest } = json as Record<string, unknown>;
  if (typeof error !== 'string' || error === '' || typeof message !== 'string' || message === '') {
    return `body is not { error, message }: ${body.slice(0, 200)}`;
  }
  const extra = Object.keys(rest).filter((k) => k !== 'index');
  if (extra.length > 0) return `unexpected fields ${extra.join(', ')}`;
  return undefined;
}

/** A distinct client address per request, so that the unknown-credentials limit (per client) does not answer instead of the route. */
export function clientAddresses(): () => string {
  let n = 0;
  return () => {
    n++;
    return `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
  };
}

/**
 * The server side of the latest 5xx (its answer says nothing internal), for failure reports.
 * Call before the app is ready.
 */
export function lastServerError(app: FastifyInstance): () => string {
  let last = '';
  app.addHook('onError', async (_request, _reply, err) => {
    const status = (err as { statusCode?: number }).statusCode;
    if (status === undefined || status >= 500) last = (err.stack ?? String(err)).split('\n').slice(0, 6).join('\n');
  });
  return () => last;
}

/** Unhandled rejections and uncaught exceptions while the fuzzing runs: there must be none. */
export function watchCrashes(t: Test): () => string[] {
  const seen: string[] = [];
  const onRejection = (reason: unknown) => seen.push(`unhandled rejection: ${String((reason as Error)?.stack ?? reason)}`);
  const onException = (err: Error) => seen.push(`uncaught exception: ${err.stack ?? String(err)}`);
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  t.teardown(() => {
    process.off('unhandledRejection', onRejection);
    process.off('uncaughtException', onException);
  });
  return () => seen;
}

/**
 * JSON.stringify, without recursion: it exhausts the stack on the values deepValue makes (the
 * server's JSON.parse does not). Same output for the JSON values the generators produce.
 */
export function toJson(value: unknown): string {
  let out = '';
  const work: Array<{ text: string } | { value: unknown }> = [{ value }];
  while (work.length > 0) {
    const item = work.pop()!;
    if ('text' in item) {
      out += item.text;
      continue;
    }
    const v = item.value;
    if (v === null || typeof v !== 'object') {
      out += JSON.stringify(v) ?? 'null';
      continue;
    }
    const parts: Array<{ text: string } | { value: unknown }> = [];
    if (Array.isArray(v)) {
      parts.push({ text: '[' });
      v.forEach((x, i) => parts.push(...(i > 0 ? [{ text: ',' }] : []), { value: x ?? null }));
      parts.push({ text: ']' });
    } else {
      parts.push({ text: '{' });
      Object.entries(v)
        .filter(([, x]) => x !== undefined)
        .forEach(([k, x], i) => parts.push({ text: `${i > 0 ? ',' : ''}${JSON.stringify(k)}:` }, { value: x }));
      parts.push({ text: '}' });
    }
    for (let i = parts.length - 1; i >= 0; i--) work.push(parts[i]!);
  }
  return out;
}

/** JSON with object keys sorted at every depth: how the bridge tells credentials apart. */
export function sameJson(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b);
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
