import { Type, type Static } from '@sinclair/typebox';
import { ContactSchema } from '../mirror/contact.js';
import { AuthSchema } from '../tenants/auth-schema.js';
import { SAMPLE_SYNC_REQUEST, SAMPLE_SYNC_RESPONSE } from './examples.js';

/**
 * The body limit of the sync endpoint. Talkdesk sends credentials and at most two of our tokens
 * (4 KiB each, OptionalToken below); 16 KiB holds that with room for verbose credentials, and
 * refuses anything else before it is parsed.
 */
export const SYNC_BODY_LIMIT = 16 * 1024;

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
