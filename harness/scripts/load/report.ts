import os from 'node:os';
import type { ConcurrentSyncsResult } from '../../bench/concurrent-syncs.js';

export interface PhaseResult {
  result: ConcurrentSyncsResult;
  /** Contacts rewritten through the mirror writer while the phase ran. */
  written: number;
  /** Edits made in the simulated HubSpot while the phase ran. */
  crmEdits: number;
  /** Background write batches that failed while the phase ran (each retried on the next tick). */
  failedWrites: number;
}

export interface Machine {
  cpus: string;
  memory: string;
  node: string;
  postgres: string;
}

export interface LoadReport {
  date: Date;
  machine: Machine;
  /** Setting name → value, as shown in the report. */
  settings: Record<string, string | number>;
  seeding: { contacts: number; seconds: number };
  levels: PhaseResult[];
  overload?: PhaseResult & {
    /** A single run right after the overload phase completed with every page 200. */
    recovered: boolean;
  };
}

export function describeMachine(postgresVersion: string): Machine {
  const cpus = os.cpus();
  return {
    cpus: `${cpus.length} × ${cpus[0]?.model.trim() ?? 'unknown CPU'}`,
    memory: `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    node: process.version,
    postgres: postgresVersion,
  };
}

export const TABLE_HEADER = [
  'concurrent runs',
  'runs/s',
  'pages/s',
  'contacts/s',
  'page p50 ms',
  'page p99 ms',
  'run p50 ms',
  'run p99 ms',
  'runs (full / incr.)',
  'errors',
  '503 shed (with Retry-After)',
  'timeouts',
  'contacts written meanwhile',
] as const;

const n = (value: number, digits = 0) =>
  Number.isFinite(value) ? value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : '–';

export function tableRow(label: string, { result: r, written, crmEdits }: PhaseResult): string[] {
  return [
    label,
    n(r.runsPerSecond, 1),
    n(r.pagesPerSecond, 1),
    n(r.contactsPerSecond),
    n(r.pageLatencyMs.p50, 1),
    n(r.pageLatencyMs.p99, 1),
    n(r.runLatencyMs.p50, 1),
    n(r.runLatencyMs.p99, 1),
    `${n(r.runs.full)} / ${n(r.runs.incremental)}`,
    n(r.errors.total),
    `${n(r.shed.count)} (${n(r.shed.withRetryAfter)})`,
    n(r.timeouts),
    `${n(written)} + ${n(crmEdits)} CRM`,
  ];
}

const markdownRow = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;

export function renderLoadReport(report: LoadReport): string {
  const { machine, settings, seeding, levels, overload } = report;
  const lines = [
    '# Load: concurrent Talkdesk sync runs',
    '',
    `Written by \`npm run load\` on ${report.date.toISOString()}.`,
    '',
    `**Machine**: ${machine.cpus}, ${machine.memory} of memory; Node ${machine.node}; ${machine.postgres}. The bridge`,
    '(the real app, listening on a loopback port), its ingest workers, the simulated HubSpot, the Talkdesk clients (on a',
    'worker thread of their own) and PostgreSQL and Redis all share this machine, and other work may have been running',
    'on it too: read the figures as an order of magnitude, not a benchmark.',
    '',
    '**Settings**:',
    '',
    ...Object.entries(settings).map(([name, value]) => `- ${name}: ${typeof value === 'number' ? value.toLocaleString('en-US') : value}`),
    '',
    `Seeding: ${n(seeding.contacts)} contacts through the mirror writer in ${n(seeding.seconds, 1)} s (${n(seeding.contacts / seeding.seconds)} contacts/s).`,
    '',
    'Each virtual Talkdesk client runs whole sync runs one after another over a keep-alive connection, following',
    '`next_offset` to the last page and parsing every page; a run is incremental (with its tenant\'s last checkpoint) or',
    'full. Latencies are per page answered `200` and per completed run. `errors` counts every answer other than `200`',
    'and `503`, connection failures and malformed pages; `503`s are shed load, with how many carried `Retry-After`;',
    'a timeout is a page that took longer than the request timeout. "contacts written meanwhile" is what the',
    'background ingest wrote through the mirror writer during the level, plus the edits made in the simulated',
    'HubSpot for the real workers to ingest.',
    '',
    markdownRow(TABLE_HEADER),
    markdownRow(TABLE_HEADER.map(() => '---')),
    ...levels.map((level) => markdownRow(tableRow(String(level.result.concurrency), level))),
  ];
  if (overload) {
    const r = overload.result;
    const shedCodes = Object.entries(r.shed.byError).map(([code, count]) => `${code} × ${n(count)}`).join(', ') || 'none';
    lines.push(
      '',
      '## Overload',
      '',
      `${n(r.concurrency)} concurrent runs, beyond what the levels above show this machine can serve. A client answered`,
      '`503` waits its `Retry-After` (capped at 5 s) before its next run, as Talkdesk would.',
      '',
      markdownRow(TABLE_HEADER),
      markdownRow(TABLE_HEADER.map(() => '---')),
      markdownRow(tableRow(`${r.concurrency} (overload)`, overload)),
      '',
      `- \`503\` answers: ${n(r.shed.count)}, of which ${n(r.shed.withRetryAfter)} with \`Retry-After\` (${shedCodes}).`,
      `- Timeouts: ${n(r.timeouts)}; other errors: ${n(r.errors.total)}${errorDetail(r)}.`,
      `- Every HTTP status seen: ${Object.entries(r.statuses).map(([status, count]) => `${status} × ${n(count)}`).join(', ') || 'none'}.`,
      `- Background write batches that failed during the phase (the writer's pool wait timed out): ${n(overload.failedWrites)}.`,
      `- Right after the phase, a single sync run ${overload.recovered ? 'completed normally' : 'did NOT complete normally'}.`,
    );
  }
  return `${lines.join('\n')}\n`;
}

function errorDetail(r: ConcurrentSyncsResult): string {
  const parts = [
    ...Object.entries(r.errors.byStatus).map(([status, count]) => `${status} × ${count}`),
    ...Object.entries(r.errors.network).map(([code, count]) => `${code} × ${count}`),
    ...(r.errors.invalidAnswers > 0 ? [`malformed pages × ${r.errors.invalidAnswers}`] : []),
  ];
  return parts.length > 0 ? ` (${parts.join(', ')})` : '';
}
