import type { Prng } from './hubspot-sim/prng.js';

/**
 * What the simulators' webhook deliveries can suffer, as a real CRM's do: a delivery (a batch of
 * events for HubSpot, one event for Pipedrive) lost, sent twice, late, or overtaken by a later one.
 */
export interface DeliveryFaults {
  /** Chance that a delivery is never sent (0..1). */
  dropRate?: number;
  /** Chance that a delivery is sent twice (0..1). */
  duplicateRate?: number;
  /** The next N deliveries are dropped / duplicated, before the rates apply. */
  dropNext?: number;
  duplicateNext?: number;
  /** Every send waits this long first, ms. */
  delayMs?: number;
  /** Each send waits up to `delayMs` (at least 50 ms) more at random, so deliveries overtake each other (HubSpot's also shuffle a batch's events). */
  reorder?: boolean;
}

/** Refuses faults out of range, with `refuse(message)` as the simulator words its 400. */
export function checkFaults(faults: DeliveryFaults, refuse: (message: string) => Error): void {
  for (const k of ['dropRate', 'duplicateRate'] as const) {
    const v = faults[k];
    if (v !== undefined && !(typeof v === 'number' && v >= 0 && v <= 1)) throw refuse(`${k} must be within 0..1`);
  }
  for (const k of ['dropNext', 'duplicateNext', 'delayMs'] as const) {
    const v = faults[k];
    if (v !== undefined && !(Number.isInteger(v) && v >= 0)) throw refuse(`${k} must be a whole number`);
  }
}

/**
 * The sends of one delivery under `f`: none when it is dropped, two when duplicated, each with its
 * wait in ms. Uses up the one-shot counts in `f` and counts what it did in `counters`.
 */
export function plannedSends(f: DeliveryFaults, rng: Prng, counters: { dropped: number; duplicated: number }): number[] {
  if ((f.dropNext ?? 0) > 0) {
    f.dropNext!--;
    counters.dropped++;
    return [];
  }
  if (f.dropRate && rng.next() < f.dropRate) {
    counters.dropped++;
    return [];
  }
  let copies = 1;
  if ((f.duplicateNext ?? 0) > 0) {
    f.duplicateNext!--;
    copies = 2;
  } else if (f.duplicateRate && rng.next() < f.duplicateRate) {
    copies = 2;
  }
  if (copies === 2) counters.duplicated++;
  return Array.from({ length: copies }, () => (f.delayMs ?? 0) + (f.reorder ? rng.int(0, Math.max(50, f.delayMs ?? 0)) : 0));
}
