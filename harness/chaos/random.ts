import { randomInt } from 'node:crypto';
import { Prng } from '../hubspot-sim/prng.js';

export { Prng };

/**
 * The run's seed: CHAOS_SEED when given (to replay a failure), otherwise a fresh one, which the
 * run prints so that it can be replayed.
 */
export function chaosSeed(raw: string | undefined): number {
  if (raw === undefined || raw === '') return randomInt(1, 2 ** 31);
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`CHAOS_SEED must be a whole number; got ${JSON.stringify(raw)}`);
  return n;
}

/**
 * One independent stream per part of the run (edits, syncs, faults). The parts run concurrently,
 * so drawing from one shared stream would make each part's choices depend on timing; separate
 * streams keep every part's sequence of choices the same for the same seed.
 */
export function stream(seed: number, name: string): Prng {
  let h = seed >>> 0;
  for (const ch of name) h = Math.imul(h ^ ch.charCodeAt(0), 0x9e3779b1) >>> 0;
  return new Prng(h);
}

export const between = (rng: Prng, [min, max]: readonly [number, number]): number => rng.int(min, max);

export function shuffle<T>(rng: Prng, items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

export const sample = <T>(rng: Prng, items: readonly T[], k: number): T[] => shuffle(rng, items).slice(0, k);
