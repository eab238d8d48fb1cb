import { randomBytes } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';

/**
 * A connection key: what a customer who connected through OAuth enters in Talkdesk as the
 * integration's credential, `{ "connection_key": "…" }`. It is one more credential of its tenant
 * (found by its digest like any other), but its value is never stored, not even encrypted: the
 * credential's ciphertext holds a marker instead, which tells the workers to read the CRM with
 * the tenant's OAuth connection (tenants/oauth-connections.ts).
 */

export const CONNECTION_KEY_PREFIX = 'ck_';
/** 256 random bits, base64url. */
const KEY_BYTES = 32;

export const ConnectionKeyAuthSchema = Type.Object(
  {
    connection_key: Type.String({
      pattern: `^${CONNECTION_KEY_PREFIX}[A-Za-z0-9_-]{43}$`,
      description: 'the key the bridge showed once, when the CRM account was connected at /connect/hubspot',
    }),
  },
  { additionalProperties: false },
);

const keyCheck = TypeCompiler.Compile(ConnectionKeyAuthSchema);

/** What a connection key's credential stores in place of the key. */
export const CONNECTION_MARKER = Object.freeze({ oauth_connection: true });

export function newConnectionKey(): string {
  return `${CONNECTION_KEY_PREFIX}${randomBytes(KEY_BYTES).toString('base64url')}`;
}

/** Whether an `auth` (as Talkdesk sends it) is a connection key. */
export function isConnectionKeyAuth(auth: Record<string, unknown>): boolean {
  return keyCheck.Check(auth);
}

/** Whether a credential's stored (decrypted) auth is a connection key's marker. */
export function isConnectionMarker(stored: Record<string, unknown>): boolean {
  return stored.oauth_connection === true && Object.keys(stored).length === 1;
}
