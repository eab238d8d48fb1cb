import type { SyncPageAnswer } from './sync-page.js';

/**
 * The response body of a sync page, built as bytes around the contacts' stored JSON so that a
 * page of a thousand contacts is one buffer copy, not a parse and a re-serialization. Its shape is
 * SyncResponseSchema's (schema.ts): `contacts`, then the optional tokens.
 */
export function renderSyncResponse(answer: Pick<SyncPageAnswer, 'contactsJson' | 'next_offset' | 'synchronization_checkpoint'>): Buffer {
  let tail = ']';
  if (answer.next_offset !== undefined) tail += `,"next_offset":${JSON.stringify(answer.next_offset)}`;
  if (answer.synchronization_checkpoint !== undefined) {
    tail += `,"synchronization_checkpoint":${JSON.stringify(answer.synchronization_checkpoint)}`;
  }
  return Buffer.concat([HEAD, answer.contactsJson, Buffer.from(`${tail}}`)]);
}

const HEAD = Buffer.from('{"contacts":[');
