// What one `npm run bench` measured: run.ts fills it, report.ts renders it.
import type { ConcurrentSyncsResult } from './concurrent-syncs.js';
import type { CopyRun } from './phases/copy-limit.js';
import type { CrmIngestFigures } from './phases/crm-ingest.js';
import type { WebhookLatencyFigures } from './phases/webhook-latency.js';
import type { DepthFigures } from './phases/depth.js';
import type { FullSyncRun } from './phases/full-sync.js';
import type { IncrementalFigures } from './phases/incremental.js';
import type { LookupFigures } from './phases/lookup.js';
import type { WriterHistoryFigures } from './phases/writer-history.js';
import type { RewriteFigures, WriteRun } from './phases/ingest.js';
import type { Machine } from './machine.js';
import type { BenchSettings } from './settings.js';

export interface FullSyncFigures {
  pageSize: number;
  /** SYNC_READ_AHEAD of the server measured. */
  readAhead: boolean;
  runs: FullSyncRun[];
  /** Median of the runs. */
  seconds: number;
  /** Median of the runs' server's own time (the sum of their pages' Server-Timing). */
  serverSeconds: number;
  /** seconds ÷ the COPY reference's median. */
  ratioToCopy: number;
  /** The server's peak RSS over these runs. */
  peakRssBytes: number;
}

export interface BenchResults {
  date: string;
  machine: Machine;
  settings: BenchSettings;
  ingest: { inProcess: WriteRun; http: WriteRun; rewriteInProcess: RewriteFigures; rewriteHttp: RewriteFigures; pushPeakRssBytes: number };
  copy: { runs: CopyRun[]; seconds: number; bytes: number };
  /** The default page size with read-ahead, the same without, then the other page sizes. */
  fullSync: FullSyncFigures[];
  depth: DepthFigures;
  incremental: IncrementalFigures;
  concurrency: ConcurrentSyncsResult;
  crmIngest: CrmIngestFigures;
  webhooks: WebhookLatencyFigures;
  /** The same for Pipedrive (results from before it was measured have none). */
  webhooksPipedrive?: WebhookLatencyFigures;
  /** The writer with its history beside the same writer without. */
  writerHistory: WriterHistoryFigures;
  /** The contact lookup on the big tenant, and the key indexer's catch-up. */
  lookup: LookupFigures;
}
