/**
 * What happened to a contact, as the store reports it to whoever listens (the webhook
 * dispatcher): HubSpot's webhook subscription types for contacts, without the `contact.` prefix.
 * One write may report several events (an edit changes several properties).
 */
export type StoreEvent =
  | { type: 'creation' | 'deletion' | 'restore' | 'privacyDeletion'; id: number; at: number }
  | { type: 'propertyChange'; id: number; at: number; propertyName: string; propertyValue: string }
  | { type: 'merge'; id: number; at: number; primaryObjectId: number; mergedObjectIds: number[]; newObjectId: number };

export type StoreListener = (event: StoreEvent) => void;
