import t from 'tap';
import { CursorCodec, compareKeys, microsToTimestamp, parsePlainTimestamp } from '../src/sync/cursor.js';
import { deriveKeys } from '../src/tenants/keys.js';

const codec = new CursorCodec(deriveKeys('cursor-unit-test-secret-cursor-unit').cursorTokens);
const tenant = '11111111-1111-1111-1111-111111111111';

t.test('a token keeps the key to the microsecond and the id byte for byte', async (t) => {
  const keys = [
    { us: 1_795_622_834_283_644n, id: 'plain' },
    { us: 1_795_622_834_283_645n, id: '' },
    { us: 0n, id: 'ü "quoted" 😀 . dots.and.v1.' },
    { us: -1n, id: 'before 1970' },
  ];
  for (const key of keys) {
    t.same(codec.decodeCheckpoint(tenant, codec.encodeCheckpoint(tenant, key)), key);
    t.same(codec.decodeOffset(tenant, codec.encodeOffset(tenant, key, {})), { key, state: {} });
  }
  const state = { horizonUs: 1_795_622_834_283_999n, withhold: true };
  t.same(codec.decodeOffset(tenant, codec.encodeOffset(tenant, keys[0]!, state)).state, state, 'run state rides along');
  t.match(codec.encodeCheckpoint(tenant, keys[0]!), /^v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/, 'opaque, versioned, URL-safe');
});

t.test('a token is bound to its tenant, its kind and its secret', async (t) => {
  const key = { us: 1n, id: 'x' };
  const token = codec.encodeCheckpoint(tenant, key);
  t.throws(() => codec.decodeCheckpoint('22222222-2222-2222-2222-222222222222', token), { code: 'INVALID_CHECKPOINT' });
  t.throws(() => codec.decodeOffset(tenant, token), { code: 'INVALID_OFFSET' });
  const other = new CursorCodec(deriveKeys('another-secret-another-secret-000').cursorTokens);
  t.throws(() => other.decodeCheckpoint(tenant, token), { code: 'INVALID_CHECKPOINT' });
  // Every single-character change to the token is refused.
  for (let i = 3; i < token.length; i++) {
    const altered = token.slice(0, i) + (token[i] === 'A' ? 'B' : 'A') + token.slice(i + 1);
    if (altered !== token) t.throws(() => codec.decodeCheckpoint(tenant, altered), { code: 'INVALID_CHECKPOINT' }, `position ${i}`);
  }
});

t.test('during a rotation, tokens signed under the previous secret still verify; new ones are signed under the new one', async (t) => {
  const a = deriveKeys('rotation-secret-a-rotation-secret-a').cursorTokens;
  const b = deriveKeys('rotation-secret-b-rotation-secret-b').cursorTokens;
  const underA = new CursorCodec(a);
  const seen: string[] = [];
  const rotating = new CursorCodec(b, { previousKey: a, onPreviousKey: (kind, id) => seen.push(`${kind} ${id}`) });
  const key = { us: 1_795_622_834_283_644n, id: 'c-1' };

  t.same(rotating.decodeCheckpoint(tenant, underA.encodeCheckpoint(tenant, key)), key, "Talkdesk's checkpoint from before the rotation");
  t.same(rotating.decodeOffset(tenant, underA.encodeOffset(tenant, key, { withhold: true })), { key, state: { withhold: true } }, 'a run in flight');
  const fresh = rotating.encodeCheckpoint(tenant, key);
  t.same(new CursorCodec(b).decodeCheckpoint(tenant, fresh), key, 'a new token needs only the new secret');
  t.same(rotating.decodeCheckpoint(tenant, fresh), key);
  t.same(seen, [`checkpoint ${tenant}`, `offset ${tenant}`], 'each token only the previous secret verifies is reported, new ones are not');
  t.throws(() => underA.decodeCheckpoint(tenant, fresh), { code: 'INVALID_CHECKPOINT' }, 'and is not signed with the old one');
  t.throws(() => rotating.decodeCheckpoint('22222222-2222-2222-2222-222222222222', underA.encodeCheckpoint(tenant, key)), { code: 'INVALID_CHECKPOINT' }, 'still bound to its tenant');
  t.throws(() => rotating.decodeOffset(tenant, underA.encodeCheckpoint(tenant, key)), { code: 'INVALID_OFFSET' }, 'and to its kind');
  t.throws(() => rotating.decodeCheckpoint(tenant, codec.encodeCheckpoint(tenant, key)), { code: 'INVALID_CHECKPOINT' }, 'a third secret is refused');
});

t.test('plain timestamps are read as the instant they name, UTC when no zone is given', async (t) => {
  const us = (iso: string, extraUs = 0n) => BigInt(Date.parse(iso)) * 1000n + extraUs;
  const cases: Array<[string, bigint]> = [
    ['2012-11-20 23:01:00 UTC', us('2012-11-20T23:01:00Z')],
    ['2012-11-20T23:01:00Z', us('2012-11-20T23:01:00Z')],
    ['2012-11-20T23:01:00', us('2012-11-20T23:01:00Z')],
    ['2012-11-20 23:01', us('2012-11-20T23:01:00Z')],
    ['2012-11-20T23:01:00.123456Z', us('2012-11-20T23:01:00.123Z', 456n)],
    ['2012-11-20T23:01:00.5+01:00', us('2012-11-20T22:01:00.500Z')],
    ['2012-11-20T23:01:00-0530', us('2012-11-21T04:31:00Z')],
    ['0099-01-01T00:00:00Z', -59_042_995_200_000_000n],
  ];
  for (const [text, expected] of cases) t.same(parsePlainTimestamp(text), { us: expected, id: '' }, text);
  for (const bad of ['', 'yesterday', '2012-13-01 00:00:00', '2012-02-30T00:00:00Z', '2012-11-20T24:00:00Z', '2012-11-20T23:01:00.1234567Z', '2012-11-20T23:01:00+25:00', '1353452460']) {
    t.equal(parsePlainTimestamp(bad), undefined, JSON.stringify(bad));
  }
});

t.test('microseconds become an exact timestamp string', async (t) => {
  t.equal(microsToTimestamp(1_795_622_834_283_644n), '2026-11-25T16:07:14.283644Z');
  t.equal(microsToTimestamp(0n), '1970-01-01T00:00:00.000000Z');
  t.equal(microsToTimestamp(-1n), '1969-12-31T23:59:59.999999Z');
  t.equal(microsToTimestamp(-(2n ** 62n)), '-infinity');
});

t.test('ids compare as UTF-8 bytes, as PostgreSQL does with COLLATE "C"', async (t) => {
  t.equal(compareKeys({ us: 1n, id: '\uffff' }, { us: 1n, id: '😀' }), -1, 'U+FFFF sorts before U+1F600 bytewise');
  t.equal(compareKeys({ us: 1n, id: 'b' }, { us: 2n, id: 'a' }), -1);
  t.equal(compareKeys({ us: 2n, id: 'a' }, { us: 2n, id: 'a' }), 0);
});
