import { createHmac, timingSafeEqual } from 'node:crypto';

/** HubSpot refuses to be trusted for longer: a v3 timestamp older than this is a replay. */
export const SIGNATURE_MAX_AGE_MS = 5 * 60_000;

export type SignatureCheck = 'valid' | 'missing' | 'stale' | 'invalid';

/**
 * HubSpot decodes these in the URI before signing it (and only these); a URL that holds one of
 * them percent-encoded must be checked the same way.
 * https://developers.hubspot.com/docs/api/webhooks/validating-requests
 */
const DECODED: Record<string, string> = {
  '%3A': ':', '%2F': '/', '%3F': '?', '%40': '@', '%21': '!', '%24': '$', '%27': "'", '%28': '(', '%29': ')', '%2A': '*', '%2C': ',', '%3B': ';',
};
const ENCODED = /%(3A|2F|3F|40|21|24|27|28|29|2A|2C|3B)/gi;

/**
 * The v3 signature check: base64 HMAC-SHA256, keyed by the app's client secret, of method + the
 * URI HubSpot called + the raw body + `X-HubSpot-Request-Timestamp`. A timestamp more than five
 * minutes off is refused whatever the signature (HubSpot's clock and ours agree to far better),
 * and the comparison takes the same time however much of the signature is right.
 */
export function checkV3Signature(input: {
  secret: string;
  method: string;
  uri: string;
  body: Buffer;
  signature: string | undefined;
  timestamp: string | undefined;
  now: number;
}): SignatureCheck {
  const { signature, timestamp } = input;
  if (!signature || !timestamp) return 'missing';
  if (!/^\d{1,16}$/.test(timestamp) || Math.abs(input.now - Number(timestamp)) > SIGNATURE_MAX_AGE_MS) return 'stale';
  const uri = input.uri.replace(ENCODED, (m) => DECODED[m.toUpperCase()] ?? m);
  const expected = createHmac('sha256', input.secret).update(`${input.method}${uri}`).update(input.body).update(timestamp).digest();
  const given = Buffer.from(signature, 'base64');
  return given.length === expected.length && timingSafeEqual(given, expected) ? 'valid' : 'invalid';
}
