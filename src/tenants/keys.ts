import { createHmac, hkdfSync } from 'node:crypto';

/**
 * One secret, BRIDGE_SECRET, keys four unrelated things. Each gets its own key derived with
 * HKDF, so a key recovered from one use (say, a leaked digest oracle) says nothing of the others.
 */
export interface SecretKeys {
  authDigest: Buffer;
  credentials: Buffer;
  /** Names the credentials key in what it encrypts, so a reader knows which key opens a row. */
  credentialsKeyId: string;
  cursorTokens: Buffer;
  /** Signs the `state` of an OAuth connection (connect/oauth-state.ts). */
  oauthState: Buffer;
}

export interface BridgeKeys extends SecretKeys {
  /**
   * The keys of BRIDGE_SECRET_PREVIOUS while a rotation is under way: what was made under them
   * is still accepted, and nothing new is made with them.
   */
  previous?: SecretKeys;
}

export function deriveKeys(secret: string, previousSecret?: string): BridgeKeys {
  const keys = deriveSecretKeys(secret);
  return previousSecret === undefined ? keys : { ...keys, previous: deriveSecretKeys(previousSecret) };
}

function deriveSecretKeys(secret: string): SecretKeys {
  const derive = (info: string) => Buffer.from(hkdfSync('sha256', secret, 'contact-bridge', info, 32));
  const credentials = derive('credential-encryption');
  return {
    authDigest: derive('auth-digest'),
    credentials,
    // A one-way function of the key: stored next to every ciphertext, it reveals nothing of it.
    credentialsKeyId: createHmac('sha256', credentials).update('key-id').digest('base64url').slice(0, 11),
    cursorTokens: derive('cursor-token-signature'),
    oauthState: derive('oauth-state-signature'),
  };
}
