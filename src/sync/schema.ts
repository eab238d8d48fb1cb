import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { ContactSchema } from '../mirror/contact.js';
import { SAMPLE_SYNC_REQUEST, SAMPLE_SYNC_RESPONSE } from './examples.js';

/**
 * The body limit of the sync endpoint. Talkdesk sends credentials and at most two of our tokens
 * (4 KiB each, OptionalToken below); 16 KiB holds that with room for verbose credentials, and
 * refuses anything else before it is parsed.
 */
export const SYNC_BODY_LIMIT = 16 * 1024;

// Credentials are the fields of a form the customer filled in Talkdesk: scalars, perhaps a small
// structure. The nesting is bounded because the tenant digest canonicalizes auth recursively
// (tenants/auth-digest.ts): a few thousand levels of [[[…]]] exhausted the stack, a 500.
const AUTH_MAX_DEPTH = 4;
const AuthScalar = Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()]);
function authValue(depth: number): TSchema {
  if (depth === 0) return AuthScalar;
  const inner = authValue(depth - 1);
  return Type.Union([AuthScalar, Type.Array(inner), Type.Record(Type.String(), inner)]);
}

/** An `auth` object as Talkdesk sends it: any keys, values nested at most AUTH_MAX_DEPTH deep. */
export const authObject = (description: string) =>
  Type.Record(Type.String(), authValue(AUTH_MAX_DEPTH), {
    description: `${description} (values nest at most ${AUTH_MAX_DEPTH} levels)`,
  });

export const AuthSchema = authObject('the credential fields the integration declared');

// null is accepted and read as absent; the empty string is not (it is a token that does not decode).
const OptionalToken = Type.Optional(Type.Union([Type.Null(), Type.String({ maxLength: 4096 })]));

/** The body Talkdesk POSTs (shared/talkdesk-contact-sync.md, "The call"). */
export const SyncRequestSchema = Type.Object({
  auth: AuthSchema,
  meta: Type.Optional(
    Type.Object(
      {
        synchronization_checkpoint: OptionalToken,
        offset: OptionalToken,
        context: Type.Optional(Type.Unknown()),
      },
      { additionalProperties: true },
    ),
  ),
}, { examples: [SAMPLE_SYNC_REQUEST] });
export type SyncRequest = Static<typeof SyncRequestSchema>;

/** The answer; serializing through it drops the page query's internal key fields. */
export const SyncResponseSchema = Type.Object({
  contacts: Type.Array(ContactSchema),
  next_offset: Type.Optional(Type.String()),
  synchronization_checkpoint: Type.Optional(Type.String()),
  context: Type.Optional(Type.Unknown()),
}, { examples: [SAMPLE_SYNC_RESPONSE] });

export const ErrorSchema = Type.Object({
  error: Type.String({ description: 'stable error code' }),
  message: Type.String(),
  index: Type.Optional(Type.Integer()),
});
