import { iso, propertyValue, toApiContact, type ApiContact, type ContactVersion } from './contact.js';
import { validationError } from './errors.js';
import type { ContactStore } from './store.js';

/**
 * POST /crm/v3/objects/contacts/batch/read: up to 100 contacts by id (or by a unique property,
 * `idProperty`), with the properties asked for. Ids that find nothing do not fail the call:
 * HubSpot answers 207 with the contacts it found and one OBJECT_NOT_FOUND error naming the rest.
 * `archived=true` reads archived contacts only, as HubSpot's does. An id merged into another
 * contact finds the survivor (the result carries the survivor's id, not the one asked for).
 */

export const BATCH_READ_MAX_INPUTS = 100;

export interface BatchReadAnswer {
  status: 200 | 207;
  body: {
    status: 'COMPLETE';
    results: ApiContact[];
    numErrors?: number;
    errors?: Array<{ status: 'error'; category: 'OBJECT_NOT_FOUND'; message: string; context: { ids: string[] } }>;
    startedAt: string;
    completedAt: string;
  };
}

/** Properties HubSpot lets a batch read look contacts up by; each is unique per portal. */
const ID_PROPERTIES = new Set(['hs_object_id', 'email']);

export function batchRead(store: ContactStore, raw: unknown, archived: boolean, now: number): BatchReadAnswer {
  const body = (raw ?? {}) as { inputs?: unknown; properties?: unknown; idProperty?: unknown };
  if (typeof body !== 'object' || Array.isArray(body)) throw validationError('The request body must be a JSON object.');
  if (!Array.isArray(body.inputs)) throw validationError('inputs must be an array of {id}.');
  if (body.inputs.length > BATCH_READ_MAX_INPUTS) {
    throw validationError(`Batch input size must be at most ${BATCH_READ_MAX_INPUTS}; got ${body.inputs.length}.`);
  }
  const ids = body.inputs.map((input: unknown) => {
    const id = (input as { id?: unknown } | null)?.id;
    if (typeof id !== 'string' && typeof id !== 'number') throw validationError('Each input needs an id.');
    return String(id);
  });
  const properties = body.properties === undefined || body.properties === null ? undefined : stringList(body.properties);
  const idProperty = body.idProperty === undefined || body.idProperty === null ? 'hs_object_id' : String(body.idProperty);
  if (!ID_PROPERTIES.has(idProperty)) throw validationError(`${idProperty} is not a unique property; idProperty must be one.`);

  const find = idProperty === 'hs_object_id' ? byId(store) : byProperty(store, idProperty, archived);
  const results: ApiContact[] = [];
  const returned = new Set<number>();
  const missing: string[] = [];
  for (const id of ids) {
    const c = find(id);
    if (!c || (c.archivedAt !== null) !== archived) {
      if (!missing.includes(id)) missing.push(id);
      continue;
    }
    if (returned.has(c.id)) continue;
    returned.add(c.id);
    results.push(toApiContact(c, properties && properties.length > 0 ? properties : undefined));
  }
  const stamp = { startedAt: iso(now), completedAt: iso(now) };
  if (missing.length === 0) return { status: 200, body: { status: 'COMPLETE', results, ...stamp } };
  return {
    status: 207,
    body: {
      status: 'COMPLETE',
      results,
      numErrors: 1,
      errors: [
        {
          status: 'error',
          category: 'OBJECT_NOT_FOUND',
          message: 'Could not get some CONTACT objects, they may be deleted or not exist. Check that ids are valid.',
          context: { ids: missing },
        },
      ],
      ...stamp,
    },
  };
}

function byId(store: ContactStore): (id: string) => ContactVersion | undefined {
  return (id) => (/^\d+$/.test(id) ? store.resolve(Number(id)) : undefined);
}

/** A scan per lookup: fine for the sizes tests read by email. */
function byProperty(store: ContactStore, name: string, archived: boolean): (value: string) => ContactVersion | undefined {
  const all = archived ? store.archivedContacts() : store.liveContacts();
  return (value) => all.find((c) => propertyValue(c, name)?.toLowerCase() === value.toLowerCase());
}

function stringList(v: unknown): string[] {
  if (!Array.isArray(v) || v.some((p) => typeof p !== 'string')) throw validationError('properties must be an array of strings.');
  return v as string[];
}
