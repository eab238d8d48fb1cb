import { hkdfSync } from 'node:crypto';

/**
 * One secret, BRIDGE_SECRET, keys three unrelated things. Each gets its own key derived with
 * HKDF, so a key recovered from one use (say, a leaked digest oracle) says nothing of the others.
 */
export interface BridgeKeys {
  authDigest: Buffer;
  credentials: Buffer;
  cursorTokens: Buffer;
}

export function deriveKeys(secret: string): BridgeKeys {
  const derive = (info: string) => Buffer.from(hkdfSync('sha256', secret, 'contact-bridge', info, 32));
  return {
    authDigest: derive('auth-digest'),
    credentials: derive('credential-encryption'),
    cursorTokens: derive('cursor-token-signature'),
  };
}
