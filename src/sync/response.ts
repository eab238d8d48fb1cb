import type { SyncPageAnswer } from './sync-page.js';

/**
 * The response body of a sync page, written as text around the contacts' stored JSON so that a
 * page of a thousand contacts is one string concatenation, not a parse and a re-serialization.
 * Its shape is SyncResponseSchema's (schema.ts): `contacts`, then the optional tokens.
 */
export function renderSyncResponse(answer: Pick<SyncPageAnswer, 'contactsJson' | 'next_offset' | 'synchronization_checkpoint'>): string {
  let body = `{"contacts":[${answer.contactsJson}]`;
  if (answer.next_offset !== undefined) body += `,"next_offset":${JSON.stringify(answer.next_offset)}`;
  if (answer.synchronization_checkpoint !== undefined) {
    body += `,"synchronization_checkpoint":${JSON.stringify(answer.synchronization_checkpoint)}`;
  }
  return `${body}}`;
}
