import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { BridgeKeys, SecretKeys } from './keys.js';

// AES-256-GCM: the workers need the plaintext credentials to call the CRM, so they are stored
// encrypted rather than hashed. Format: v3.<key id>.<iv>.<tag>.<ciphertext>, the last three
// base64url, with the credential's tenant and CRM account as associated data: a ciphertext
// copied into another tenant's row does not open there. The key id says which secret a row is
// under, so a BRIDGE_SECRET rotation can tell which rows still need rewriting. v2 (unbound) and
// v1 (no key id) are still read; they are rewritten as v3 on first use or by rotate-secret.

export class UnreadableCredentialsError extends Error {
  override name = 'UnreadableCredentialsError';
}

/** What a ciphertext is bound to: the row of its tenant and CRM account. */
export interface CredentialBinding {
  tenantId: string;
  crm: string;
  accountId: string | null;
}

// GCM's tag is 16 bytes; Node accepts shorter ones unless told, and a 4-byte tag is forgeable.
const TAG_BYTES = 16;

const associatedData = (b: CredentialBinding) => Buffer.from(JSON.stringify(['contact-bridge credential', b.tenantId, b.crm, b.accountId ?? '']));

/** Always under the current secret. */
export function encryptCredentials(keys: BridgeKeys, credentials: Record<string, unknown>, binding: CredentialBinding): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', keys.credentials, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(associatedData(binding));
  const ciphertext = Buffer.concat([cipher.update(JSON.stringify(credentials), 'utf8'), cipher.final()]);
  return ['v3', keys.credentialsKeyId, ...[iv, cipher.getAuthTag(), ciphertext].map((p) => p.toString('base64url'))].join('.');
}

/** Whether a stored value is already encrypted with the current credentials key, bound to its row. */
export function underCurrentKey(keys: BridgeKeys, stored: string): boolean {
  return stored.startsWith(`v3.${keys.credentialsKeyId}.`);
}

/** Opens credentials stored under the current secret or, during a rotation, the previous one. */
export function decryptCredentials(keys: BridgeKeys, stored: string, binding: CredentialBinding): Record<string, unknown> {
  const parts = stored.split('.');
  const candidates = [keys, ...(keys.previous ? [keys.previous] : [])];
  if ((parts[0] === 'v3' || parts[0] === 'v2') && parts.length === 5) {
    const key = candidates.find((k) => k.credentialsKeyId === parts[1]);
    if (!key) throw new UnreadableCredentialsError('stored credentials are under a secret this process does not have');
    return open(key, parts[2]!, parts[3]!, parts[4]!, parts[0] === 'v3' ? associatedData(binding) : undefined);
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

function open(key: SecretKeys, iv: string, tag: string, ciphertext: string, aad?: Buffer): Record<string, unknown> {
  const tagBytes = Buffer.from(tag, 'base64url');
  if (tagBytes.length !== TAG_BYTES) throw new UnreadableCredentialsError('stored credentials carry a truncated authentication tag');
  try {
    const decipher = createDecipheriv('aes-256-gcm', key.credentials, Buffer.from(iv, 'base64url'), { authTagLength: TAG_BYTES });
    if (aad) decipher.setAAD(aad);
    decipher.setAuthTag(tagBytes);
    const plain = Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]);
    return JSON.parse(plain.toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new UnreadableCredentialsError('stored credentials do not open with this key for this tenant');
  }
}
