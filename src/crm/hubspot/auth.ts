import { createHash } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';

/**
 * What a HubSpot access token looks like. A private app's is `pat-<region>-<uuid>` (44
 * characters, e.g. `pat-na1-91d91373-8e94-4872-893c-e7d080224a56`); an OAuth access token is
 * base64url text whose size "will fluctuate", HubSpot says, advising room for 300 characters
 * (legacydocs.hubspot.com/docs/methods/oauth2/get-access-and-refresh-tokens). Both are RFC 6750
 * `b64token`s, the only thing a `Bearer` Authorization header carries: letters, digits and
 * `-._~+/`, then `=` padding. A space, a line break, a control character or any non-ASCII
 * character is no token of any kind; refused here, it never reaches an HTTP client (whose header
 * check fails with the token in its message) and is never mistaken for a CRM outage. 1,024
 * characters leaves HubSpot's 300 room three times over.
 */
export const HUBSPOT_TOKEN_PATTERN = '^[A-Za-z0-9._~+/-]+=*$';
export const HUBSPOT_TOKEN_MAX_LENGTH = 1024;

/** Talkdesk's `auth` for a HubSpot private app's (or OAuth) token: exactly `{ "access_token": "…" }`. */
export const HubSpotAuthSchema = Type.Object(
  {
    access_token: Type.String({
      minLength: 1,
      maxLength: HUBSPOT_TOKEN_MAX_LENGTH,
      pattern: HUBSPOT_TOKEN_PATTERN,
      description: 'a HubSpot private-app (pat-…) or OAuth access token',
    }),
  },
  { additionalProperties: false },
);

const authCheck = TypeCompiler.Compile(HubSpotAuthSchema);
const tokenRegExp = new RegExp(HUBSPOT_TOKEN_PATTERN);

export function isHubSpotToken(token: unknown): token is string {
  return typeof token === 'string' && token.length <= HUBSPOT_TOKEN_MAX_LENGTH && tokenRegExp.test(token);
}

/** The token of an `auth` that has exactly HubSpot's fields and a well-formed token; otherwise undefined. */
export function hubspotToken(auth: unknown): string | undefined {
  return authCheck.Check(auth) ? auth.access_token : undefined;
}

/** A name for a token that does not say it (limiter keys, caches): 128 bits of its SHA-256. */
export function tokenFingerprint(token: string): string {
  return createHash('sha256').update(token).digest('base64url').slice(0, 22);
}
