import { Type } from '@sinclair/typebox';
import { STORABLE_TEXT } from '../mirror/contact.js';

/**
 * Body limits of the admin routes, each chosen for what the route reads; a body over its limit is
 * a 413 before it is parsed.
 */

/**
 * Routes that read no body (pause, resume, resync, deletes). They refuse any body with a 415
 * (plugins/admin-writes.ts: a cross-site form always carries one); this limit bounds what is
 * read before that answer.
 */
export const NO_BODY_LIMIT = 1024;

/** A rename: a 200-character name written entirely as `\uXXXX` escapes is 1.2 KB. */
export const NAME_BODY_LIMIT = 4 * 1024;

/** A tenant's name and auth object: the same credentials the sync endpoint takes (16 KiB). */
export const SMALL_BODY_LIMIT = 16 * 1024;

/**
 * The contacts push is large by design: 10,000 real contacts are about 4 MB, and every field may
 * be up to its schema's maximum length, so 32 MiB leaves room for long fields without letting one
 * request hold an unbounded buffer.
 */
export const PUSH_BODY_LIMIT = 32 * 1024 * 1024;

/** A tenant's name is stored as PostgreSQL text: a U+0000 in it was a failed INSERT, a 500. */
export const TenantName = Type.String({ minLength: 1, maxLength: 200, pattern: STORABLE_TEXT });
