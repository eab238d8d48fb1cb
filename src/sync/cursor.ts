import { createHmac, timingSafeEqual } from 'node:crypto';
import createError from '@fastify/error';

/**
 * A position in a tenant's change order: (updated_at, id). updated_at is carried as epoch
 * microseconds in a bigint, never as a JavaScript Date (milliseconds): two rows written in the
 * same millisecond would tie, and one of them would be skipped.
 */
export interface Key {
  us: bigint;
  id: string;
}

/** Run state carried in an offset token from one page of a run to the next. */
export interface RunState {
  /** Full run: the newest key time (µs) when the run began; deletions up to it are reflected. */
  horizonUs?: bigint;
  /** Incremental run that withholds its checkpoint so that Talkdesk's next run is a full one. */
  withhold?: boolean;
  /** The number of the page this offset asks for (the first is 1): for logs only. */
  page?: number;
}

export const MIN_KEY: Key = { us: -(2n ** 62n), id: '' };

export const InvalidCheckpointError = createError<[string]>(
  'INVALID_CHECKPOINT',
  'meta.synchronization_checkpoint is not a checkpoint issued by this bridge for these credentials, nor a timestamp: %s',
  400,
);
export const InvalidOffsetError = createError<[string]>(
  'INVALID_OFFSET',
  'meta.offset is not an offset issued by this bridge for these credentials: %s',
  400,
);

export function compareKeys(a: Key, b: Key): number {
  if (a.us !== b.us) return a.us < b.us ? -1 : 1;
  // Ids are stored COLLATE "C" (bytewise), which for UTF-8 is code point order; JavaScript's
  // < compares UTF-16 code units and disagrees above U+FFFF, so compare as bytes.
  return Buffer.compare(Buffer.from(a.id, 'utf8'), Buffer.from(b.id, 'utf8'));
}

export const maxKey = (a: Key, b: Key): Key => (compareKeys(a, b) >= 0 ? a : b);

// Years 0001 and 9999, the range ISO strings written below can express.
const FIRST_US = -62_135_596_800_000_000n;
const LAST_US = 253_402_300_799_999_999n;

/** `1730000000123456` µs → `2024-10-27T03:33:20.123456Z`, exact, for a timestamptz parameter. */
export function microsToTimestamp(us: bigint): string {
  if (us < FIRST_US) return '-infinity';
  if (us > LAST_US) return 'infinity';
  const ms = us / 1000n - (us % 1000n < 0n ? 1n : 0n);
  const micros = us - ms * 1000n;
  const iso = new Date(Number(ms)).toISOString(); // …T03:33:20.123Z
  return `${iso.slice(0, -1)}${micros.toString().padStart(3, '0')}Z`;
}

// "2012-11-20 23:01:00 UTC", "2012-11-20T23:01:00Z", "2012-11-20T23:01:00.5+01:00", "2012-11-20 23:01"
const PLAIN_TIMESTAMP =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?\s*(Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?$/i;

/**
 * A checkpoint written as a plain timestamp, as another bridge (or the protocol's own sample)
 * would have issued it: read as the key (that instant, ''), so it resumes after that instant
 * instead of forcing a full resync. No zone means UTC.
 */
export function parsePlainTimestamp(text: string): Key | undefined {
  const m = PLAIN_TIMESTAMP.exec(text.trim());
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s = '0', frac = '', zone = 'Z'] = m;
  const fields = [y, mo, d, h, mi, s].map(Number) as [number, number, number, number, number, number];
  const [year, month, day, hour, minute, second] = fields;
  const back = new Date(Date.UTC(2000, month - 1, day, hour, minute, second));
  back.setUTCFullYear(year, month - 1, day); // Date.UTC alone reads years 0–99 as 1900–1999
  const ms = back.getTime();
  // Date.UTC rolls 2012-02-30 over to March; a date that does not round-trip does not exist.
  if (
    Number.isNaN(ms) ||
    back.getUTCFullYear() !== year ||
    back.getUTCMonth() !== month - 1 ||
    back.getUTCDate() !== day ||
    hour > 23 ||
    minute > 59 ||
    second > 59
  ) {
    return undefined;
  }
  let offsetMinutes = 0;
  if (!/^(Z|UTC|GMT)$/i.test(zone)) {
    const z = /^([+-])(\d{2}):?(\d{2})?$/.exec(zone)!;
    const zh = Number(z[2]);
    const zm = Number(z[3] ?? '0');
    if (zh > 23 || zm > 59) return undefined;
    offsetMinutes = (z[1] === '-' ? -1 : 1) * (zh * 60 + zm);
  }
  const us = BigInt(ms) * 1000n + BigInt(frac.padEnd(6, '0')) - BigInt(offsetMinutes) * 60_000_000n;
  return { us, id: '' };
}

/** A checkpoint's key, and the start of the latest full run in its lineage when it carries one. */
export interface CheckpointKey extends Key {
  horizonUs?: bigint;
}

export type TokenKind = 'checkpoint' | 'offset';

export interface CursorCodecOptions {
  /**
   * BRIDGE_SECRET_PREVIOUS's key, during a rotation: tokens issued before it still verify, so the
   * checkpoint Talkdesk holds stays valid across it. Tokens are only ever signed with the current key.
   */
  previousKey?: Buffer;
  /** Called for each token only the previous key verifies: while they come, removing it would strand a Talkdesk copy. */
  onPreviousKey?: (kind: TokenKind, tenantId: string) => void;
}

/**
 * Tokens are `v1.<payload>.<mac>`: base64url JSON, and an HMAC over the token kind, the tenant
 * and the payload. A token is valid only for the tenant it was issued to (not for the
 * credentials, so a rotated token keeps Talkdesk's checkpoint valid), and a checkpoint cannot
 * pass for an offset or the reverse.
 */
export class CursorCodec {
  constructor(
    private readonly key: Buffer,
    private readonly options: CursorCodecOptions = {},
  ) {}

  /**
   * `horizonUs`: the start of the latest full run in this checkpoint's lineage. Talkdesk sends a
   * checkpoint back only after completing the run that issued it, so one that carries it proves
   * that full run reached the copy (every tombstone up to it is gone from there).
   */
  encodeCheckpoint(tenantId: string, key: Key, horizonUs?: bigint): string {
    const payload: Record<string, unknown> = { t: key.us.toString(), i: key.id };
    if (horizonUs !== undefined) payload.h = horizonUs.toString();
    return this.sign('checkpoint', tenantId, payload);
  }

  encodeOffset(tenantId: string, key: Key, state: RunState): string {
    const payload: Record<string, unknown> = { t: key.us.toString(), i: key.id };
    if (state.horizonUs !== undefined) payload.h = state.horizonUs.toString();
    if (state.withhold) payload.w = 1;
    if (state.page !== undefined) payload.n = state.page;
    return this.sign('offset', tenantId, payload);
  }

  /** A checkpoint token of this tenant, or a plain timestamp; throws INVALID_CHECKPOINT. */
  decodeCheckpoint(tenantId: string, token: string): CheckpointKey {
    if (!token.startsWith('v1.')) {
      const plain = parsePlainTimestamp(token);
      if (plain) return plain;
    }
    const fail = (why: string) => new InvalidCheckpointError(why);
    const payload = this.verify('checkpoint', tenantId, token, fail);
    const key: CheckpointKey = readKey(payload, fail);
    if (payload.h !== undefined) key.horizonUs = readMicros(payload.h, fail);
    return key;
  }

  decodeOffset(tenantId: string, token: string): { key: Key; state: RunState } {
    const fail = (why: string) => new InvalidOffsetError(why);
    const payload = this.verify('offset', tenantId, token, fail);
    const state: RunState = {};
    if (payload.h !== undefined) state.horizonUs = readMicros(payload.h, fail);
    if (payload.w === 1) state.withhold = true;
    // Offsets issued before pages were numbered have none; that is not an error.
    if (typeof payload.n === 'number' && Number.isSafeInteger(payload.n) && payload.n > 1) state.page = payload.n;
    return { key: readKey(payload, fail), state };
  }

  private mac(key: Buffer, kind: TokenKind, tenantId: string, body: string): Buffer {
    return createHmac('sha256', key).update(`${kind}\n${tenantId}\n${body}`).digest().subarray(0, 16);
  }

  private sign(kind: TokenKind, tenantId: string, payload: Record<string, unknown>): string {
    const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
    return `v1.${body}.${this.mac(this.key, kind, tenantId, body).toString('base64url')}`;
  }

  private signedByUs(given: Buffer, kind: TokenKind, tenantId: string, body: string): boolean {
    const { previousKey, onPreviousKey } = this.options;
    const matches = (key: Buffer) => {
      const expected = this.mac(key, kind, tenantId, body);
      return given.length === expected.length && timingSafeEqual(given, expected);
    };
    // Both keys are always tried, so the time taken says nothing of which one matched.
    const current = matches(this.key);
    const previous = previousKey !== undefined && matches(previousKey);
    if (previous && !current) onPreviousKey?.(kind, tenantId);
    return current || previous;
  }

  private verify(kind: TokenKind, tenantId: string, token: string, fail: (why: string) => Error): Record<string, unknown> {
    const parts = token.split('.');
    if (parts.length !== 3 || parts[0] !== 'v1') throw fail('not a v1 token');
    const [, body = '', mac = ''] = parts;
    if (!this.signedByUs(Buffer.from(mac, 'base64url'), kind, tenantId, body)) {
      throw fail('its signature does not match (altered, issued to another tenant, or of another kind)');
    }
    try {
      const payload: unknown = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
      if (payload && typeof payload === 'object' && !Array.isArray(payload)) return payload as Record<string, unknown>;
    } catch {
      // fall through
    }
    throw fail('its payload does not decode');
  }
}

function readMicros(value: unknown, fail: (why: string) => Error): bigint {
  if (typeof value !== 'string' || !/^-?\d{1,19}$/.test(value)) throw fail('its time is not a number');
  return BigInt(value);
}

function readKey(payload: Record<string, unknown>, fail: (why: string) => Error): Key {
  if (typeof payload.i !== 'string') throw fail('its id is missing');
  return { us: readMicros(payload.t, fail), id: payload.i };
}
