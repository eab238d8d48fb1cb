import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { BridgeKeys, SecretKeys } from './keys.js';

// AES-256-GCM: the workers need the plaintext credentials to call the CRM, so they are stored
// encrypted rather than hashed. Format: v2.<key id>.<iv>.<tag>.<ciphertext>, the last three
// base64url. The key id says which secret a row is under, so a BRIDGE_SECRET rotation can tell
// (and an operator can query) which rows still need rewriting. v1 (no key id) is still read.

export class UnreadableCredentialsError extends Error {
  override name = 'UnreadableCredentialsError';
}

/** Always under the current secret. */
export function encryptCredentials(keys: BridgeKeys, credentials: Record<string, unknown>): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', keys.credentials, iv);
  const ciphertext = Buffer.concat([cipher.update(JSON.stringify(credentials), 'utf8'), cipher.final()]);
  return ['v2', keys.credentialsKeyId, ...[iv, cipher.getAuthTag(), ciphertext].map((p) => p.toString('base64url'))].join('.');
}

/** Whether a stored value is already encrypted with the current credentials key. */
export function underCurrentKey(keys: BridgeKeys, stored: string): boolean {
  return stored.startsWith(`v2.${keys.credentialsKeyId}.`);
}

/** Opens credentials stored under the current secret or, during a rotation, the previous one. */
export function decryptCredentials(keys: BridgeKeys, stored: string): Record<string, unknown> {
  const parts = stored.split('.');
  const candidates = [keys, ...(keys.previous ? [keys.previous] : [])];
  if (parts[0] === 'v2' && parts.length === 5) {
    const key = candidates.find((k) => k.credentialsKeyId === parts[1]);
    if (!key) throw new UnreadableCredentialsError('stored credentials are under a secret this process does not have');
    return open(key, parts[2]!, parts[3]!, parts[4]!);
  }
  if (parts[0] === 'v1' && parts.length === 4) {
    // No key id: the GCM tag tells the right key from a wrong one.
    for (const key of candidates) {
      try {
        return open(key, parts[1]!, parts[2]!, parts[3]!);
      } catch {
        // try the next key
      }
    }
    throw new UnreadableCredentialsError('stored credentials are under a secret this process does not have');
  }
  throw new UnreadableCredentialsError('stored credentials are not in a known format');
}

function open(key: SecretKeys, iv: string, tag: string, ciphertext: string): Record<string, unknown> {
  const decipher = createDecipheriv('aes-256-gcm', key.credentials, Buffer.from(iv, 'base64url'));
  decipher.setAuthTag(Buffer.from(tag, 'base64url'));
  const plain = Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]);
  return JSON.parse(plain.toString('utf8')) as Record<string, unknown>;
}
