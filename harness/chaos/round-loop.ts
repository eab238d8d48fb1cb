import { setTimeout as sleep } from 'node:timers/promises';
import type { CrmEditor } from './crm-edits.js';
import type { FaultInjector } from './fault-injector.js';
import type { FaultKind } from './figures.js';
import { between, type Prng } from './random.js';
import type { TalkdeskSynchronizer } from './synchronizer.js';

export interface RoundSettings {
  /** How long a round lasts, in ms (drawn per round). */
  roundMs: [number, number];
  /** How many CRM writes a round makes (drawn per round: the rate varies from round to round). */
  writesPerRound: [number, number];
  /** How many sync runs each account gets in a round. */
  syncsPerRound: [number, number];
  /** The chance of one more fault between two rounds, on top of the ones during rounds. */
  faultBetweenRounds: number;
}

export interface RoundParts {
  editor: CrmEditor;
  synchronizer: TalkdeskSynchronizer;
  faults: FaultInjector;
  portalIds: readonly number[];
  /** The stream the rounds are planned from. */
  rng: Prng;
}

export interface RoundOutcome {
  writes: number;
  syncs: number;
  faults: FaultKind[];
}

/**
 * One round: CRM writes at random moments at this round's rate, Talkdesk runs at random moments
 * (so some land mid-ingest and mid-fault), and the round's faults injected part-way through,
 * all at once while the worker processes ingest. The whole round is planned up front from the
 * round stream, so the same seed plans the same rounds.
 */
export async function runRound(parts: RoundParts, settings: RoundSettings, faults: readonly FaultKind[]): Promise<RoundOutcome> {
  const { rng } = parts;
  const duration = between(rng, settings.roundMs);
  // Now and then a burst: several times the usual rate, as an import or a workflow makes.
  const burst = rng.chance(0.15) ? 3 : 1;
  const writeAt = moments(rng, between(rng, settings.writesPerRound) * burst, duration);
  const syncs = parts.portalIds
    .flatMap((portalId) => moments(rng, between(rng, settings.syncsPerRound), duration).map((at) => ({ at, portalId })))
    .sort((a, b) => a.at - b.at);
  const faultAt = faults.map((kind) => ({ kind, at: rng.int(0, Math.floor(duration * 0.7)) })).sort((a, b) => a.at - b.at);
  parts.editor.varySearchLag();
  const started = Date.now();
  const until = (at: number) => sleep(Math.max(0, started + at - Date.now()));

  const writing = (async () => {
    for (const at of writeAt) {
      await until(at);
      parts.editor.write();
    }
  })();
  const syncing = (async () => {
    const runs: Promise<void>[] = [];
    for (const { at, portalId } of syncs) {
      await until(at);
      runs.push(parts.synchronizer.run(portalId));
    }
    await Promise.all(runs);
  })();
  const faulting = (async () => {
    for (const { kind, at } of faultAt) {
      await until(at);
      await parts.faults.inject(kind);
    }
  })();
  await Promise.all([writing, syncing, faulting, until(duration)]);
  return { writes: writeAt.length, syncs: syncs.length, faults: faultAt.map((f) => f.kind) };
}

/** Maybe one fault between two rounds, with nothing else going on but ingest. */
export async function betweenRounds(parts: RoundParts, settings: RoundSettings): Promise<FaultKind | undefined> {
  if (!parts.rng.chance(settings.faultBetweenRounds)) return undefined;
  const kind = parts.faults.randomKind();
  await parts.faults.inject(kind);
  return kind;
}

const moments = (rng: Prng, n: number, duration: number): number[] =>
  Array.from({ length: n }, () => rng.int(0, duration)).sort((a, b) => a - b);
