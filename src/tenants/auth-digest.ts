import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * JSON with object keys sorted at every depth: the same credentials give the same digest
 * whatever order Talkdesk serialized them in.
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** The tenant's lookup key: HMAC-SHA256 of the canonical auth object, so stored digests reveal nothing. */
export function authDigest(key: Buffer, auth: Record<string, unknown>): Buffer {
  return createHmac('sha256', key).update(canonicalJson(auth)).digest();
}

export function digestsEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
