/**
 * Pipedrive's webhook events (version 2.0) as the bridge reads them: what happened to which
 * person. Only `meta` is trusted for that, and only for ids: the person itself is read again from
 * the API, since events arrive late, twice and out of order. A merge is the loser's `delete`
 * whose `meta.merged_to_id` names the survivor (https://pipedrive.readme.io/docs/webhooks-v2-migration-guide).
 */
export interface PersonEvent {
  action: 'create' | 'change' | 'delete';
  personId: number;
  /** For a merge's delete: the person that absorbed this one. */
  mergedToId?: number;
  /** When Pipedrive says it happened (epoch ms), if it says. */
  at?: number;
}

const ACTIONS = new Set(['create', 'change', 'delete']);

function personId(v: unknown): number | undefined {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d{1,15}$/.test(v) ? Number(v) : NaN;
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

/**
 * The person events of one company among `events` (a delivery's bodies): anything else (another
 * object, another company, a shape Pipedrive does not send) is left out.
 */
export function personEvents(events: readonly unknown[], companyId: string): PersonEvent[] {
  const out: PersonEvent[] = [];
  for (const event of events) {
    const meta = (event as { meta?: Record<string, unknown> } | null)?.meta;
    if (!meta || typeof meta !== 'object') continue;
    if (meta.entity !== 'person' || typeof meta.action !== 'string' || !ACTIONS.has(meta.action)) continue;
    if (String(meta.company_id) !== companyId) continue;
    const id = personId(meta.entity_id);
    if (id === undefined) continue;
    const merged = meta.action === 'delete' ? personId(meta.merged_to_id) : undefined;
    const at = typeof meta.timestamp === 'string' ? Date.parse(meta.timestamp) : NaN;
    out.push({
      action: meta.action as PersonEvent['action'],
      personId: id,
      ...(merged === undefined ? {} : { mergedToId: merged }),
      ...(Number.isNaN(at) ? {} : { at }),
    });
  }
  return out;
}
