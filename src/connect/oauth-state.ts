import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { lt, sql } from 'drizzle-orm';
import type { Executor } from '../db/client.js';
import { oauthStatesUsed } from '../db/schema.js';
import type { BridgeKeys } from '../tenants/keys.js';

/**
 * The `state` of an OAuth connection (RFC 6749 §10.12): signed with a key of its own derived from
 * BRIDGE_SECRET, so nobody else can make one; bound to the browser that started the connection
 * (its nonce is also in a cookie only that browser holds, so a state handed to someone else's
 * browser is refused: no login CSRF); short-lived (10 minutes); single-use (a used nonce is
 * remembered in PostgreSQL until the state would have expired anyway).
 *
 *   v1.<nonce: 128 random bits, base64url>.<expiry, epoch ms>.<HMAC-SHA256 of the rest, base64url>
 */

export const STATE_TTL_MS = 10 * 60_000;
export const STATE_COOKIE = 'cb_hubspot_oauth';

export interface IssuedState {
  state: string;
  /** The cookie's value: the browser's half of the binding. */
  nonce: string;
}

const sign = (key: Buffer, payload: string) => createHmac('sha256', key).update(payload).digest();

export function issueState(keys: BridgeKeys, nowMs: number): IssuedState {
  const nonce = randomBytes(16).toString('base64url');
  const payload = `v1.${nonce}.${nowMs + STATE_TTL_MS}`;
  return { state: `${payload}.${sign(keys.oauthState, payload).toString('base64url')}`, nonce };
}

export type StateCheck = { ok: true; nonce: string; expiresAtMs: number } | { ok: false; reason: string };

/** Whether this state is one of ours, unexpired, and this browser's (its cookie). Does not consume it. */
export function checkState(keys: BridgeKeys, state: string | undefined, cookie: string | undefined, nowMs: number): StateCheck {
  const match = state === undefined ? null : /^(v1\.([A-Za-z0-9_-]{22})\.(\d{13}))\.([A-Za-z0-9_-]{43})$/.exec(state);
  if (!match) return { ok: false, reason: 'the link carries no valid state' };
  const [, payload, nonce, expiry, signature] = match as unknown as [string, string, string, string, string];
  const given = Buffer.from(signature, 'base64url');
  const signedBy = [keys, ...(keys.previous ? [keys.previous] : [])].some((k) => timingSafeEqual(sign(k.oauthState, payload), given));
  if (!signedBy) return { ok: false, reason: 'the link carries no valid state' };
  const expiresAtMs = Number(expiry);
  if (expiresAtMs <= nowMs || expiresAtMs > nowMs + STATE_TTL_MS) return { ok: false, reason: 'the connection took too long' };
  if (cookie === undefined || cookie.length !== nonce.length || !timingSafeEqual(Buffer.from(cookie), Buffer.from(nonce))) {
    return { ok: false, reason: 'the connection was started in another browser' };
  }
  return { ok: true, nonce, expiresAtMs };
}

/** Uses a checked state up: true the first time, false for a replay. Forgets states that expired. */
export async function consumeState(db: Executor, nonce: string, expiresAtMs: number): Promise<boolean> {
  await db.delete(oauthStatesUsed).where(lt(oauthStatesUsed.expiresAt, sql`now()`));
  const inserted = await db
    .insert(oauthStatesUsed)
    .values({ nonce: createHash('sha256').update(nonce).digest(), expiresAt: new Date(expiresAtMs).toISOString() })
    .onConflictDoNothing()
    .returning({ nonce: oauthStatesUsed.nonce });
  return inserted.length > 0;
}

/** One cookie's value from a Cookie header. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
