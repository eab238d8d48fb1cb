import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { depthPlotSvg } from './plot.js';
import type { BenchResults } from './results.js';

const n = (v: number, digits = 0) => v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const x = (v: number) => `${n(v, 2)}×`;
const ms = (v: number) => `${n(v, v < 10 ? 2 : 1)} ms`;
const mb = (bytes: number) => `${n(bytes / 2 ** 20)} MB`;
const verdict = (ok: boolean) => (ok ? 'meets' : '**misses**');

export interface Row {
  figure: string;
  measured: string;
  target: string;
  verdict: string;
}

/** The summary: one row per figure of the issue, measured against its target. */
export function summaryRows(r: BenchResults): Row[] {
  const [fullDefault, fullNoReadAhead, ...fullOthers] = r.fullSync as [BenchResults['fullSync'][0], BenchResults['fullSync'][0], ...BenchResults['fullSync']];
  const { inProcess, http, rewriteInProcess, rewriteHttp } = r.ingest;
  const depthEnd = r.depth.points[r.depth.points.length - 1]!;
  const c = r.concurrency;
  const crm = r.crmIngest;
  const peakRss = Math.max(...r.fullSync.map((f) => f.peakRssBytes));
  const wh = r.writerHistory;
  const lk = r.lookup;
  const lookupRow = (kind: 'phone' | 'email' | 'name', target: string, ok: boolean | null) => ({
    figure: `contact lookup by ${kind}, ${n(lk.contacts)} contacts (admin API, loopback)`,
    measured: `p50 ${ms(lk[kind].p50)}, p99 ${ms(lk[kind].p99)} (${lk[kind].n} lookups)`,
    target,
    verdict: ok === null ? '—' : verdict(ok),
  });
  return [
    { figure: 'writer, in process (inserts)', measured: `${n(inProcess.perSecond)} contacts/s (${n(inProcess.seconds, 1)} s)`, target: '≥ 50,000 contacts/s', verdict: `${verdict(inProcess.perSecond >= 50_000)} (${x(inProcess.perSecond / 50_000)} of target)` },
    { figure: 'writer, admin PUT over HTTP (inserts)', measured: `${n(http.perSecond)} contacts/s (${n(http.seconds, 1)} s)`, target: 'reported', verdict: `${x(http.perSecond / inProcess.perSecond)} of in process` },
    { figure: 'rewrite unchanged vs changed, in process', measured: `${n(rewriteInProcess.unchanged.perSecond)} vs ${n(rewriteInProcess.changed.perSecond)} contacts/s`, target: 'unchanged ≥ 2× faster', verdict: `${verdict(rewriteInProcess.ratio >= 2)} (${x(rewriteInProcess.ratio)})` },
    { figure: 'rewrite unchanged vs changed, over HTTP', measured: `${n(rewriteHttp.unchanged.perSecond)} vs ${n(rewriteHttp.changed.perSecond)} contacts/s`, target: 'unchanged ≥ 2× faster', verdict: `${verdict(rewriteHttp.ratio >= 2)} (${x(rewriteHttp.ratio)})` },
    { figure: 'the limit: COPY (SELECT row_to_json …) TO STDOUT', measured: `${n(r.copy.seconds, 2)} s (${mb(r.copy.bytes)})`, target: 'the reference', verdict: '—' },
    { figure: `full sync over HTTP, page size ${fullDefault.pageSize} (default)`, measured: `${n(fullDefault.seconds, 2)} s, ${n(fullDefault.runs[0]!.pages)} pages`, target: '≤ 2× the limit', verdict: `${verdict(fullDefault.ratioToCopy <= 2)} (${x(fullDefault.ratioToCopy)})` },
    { figure: `full sync over HTTP, page size ${fullNoReadAhead.pageSize}, SYNC_READ_AHEAD=false`, measured: `${n(fullNoReadAhead.seconds, 2)} s, ${n(fullNoReadAhead.runs[0]!.pages)} pages`, target: 'reported', verdict: `${x(fullNoReadAhead.ratioToCopy)} the limit; read-ahead is ${x(fullNoReadAhead.seconds / fullDefault.seconds)} faster` },
    ...fullOthers.map((f) => ({ figure: `full sync over HTTP, page size ${f.pageSize}`, measured: `${n(f.seconds, 2)} s, ${n(f.runs[0]!.pages)} pages`, target: 'reported', verdict: `${x(f.ratioToCopy)} the limit` })),
    { figure: 'keyset page p99, end vs depth 0', measured: `${ms(depthEnd.keyset.p99)} vs ${ms(r.depth.points[0]!.keyset.p99)}`, target: '≤ 1.2×', verdict: `${verdict(r.depth.keysetEndOverStartP99 <= 1.2)} (${x(r.depth.keysetEndOverStartP99)}, median of ${r.depth.rounds} rounds)` },
    { figure: 'OFFSET page p50, end vs depth 0', measured: `${ms(depthEnd.offset.p50)} vs ${ms(r.depth.points[0]!.offset.p50)}`, target: 'for comparison', verdict: `${x(r.depth.offsetEndOverStartP50)}; at the end OFFSET is ${x(r.depth.offsetOverKeysetAtEnd)} keyset` },
    { figure: 'incremental sync, nothing changed (server)', measured: `p50 ${ms(r.incremental.server.p50)}, p99 ${ms(r.incremental.server.p99)}`, target: 'p50 ≤ 2 ms', verdict: `${verdict(r.incremental.server.p50 <= 2)} (${x(r.incremental.server.p50 / 2)} of budget)` },
    { figure: 'incremental sync, nothing changed (client, loopback)', measured: `p50 ${ms(r.incremental.client.p50)}, p99 ${ms(r.incremental.client.p99)}`, target: 'reported', verdict: '—' },
    { figure: 'server peak RSS during the full syncs', measured: mb(peakRss), target: '< 300 MB', verdict: `${verdict(peakRss < 300 * 2 ** 20)} (${x(peakRss / (300 * 2 ** 20))} of budget)` },
    { figure: 'server peak RSS while taking the admin pushes', measured: mb(r.ingest.pushPeakRssBytes), target: 'reported', verdict: '10,000-contact bodies; a separate process from the one above' },
    { figure: `${c.concurrency} tenants syncing at once`, measured: `${n(c.runsPerSecond, 1)} syncs/s, ${n(c.pagesPerSecond)} pages/s, run p99 ${ms(c.runLatencyMs.p99)}, page p99 ${ms(c.pageLatencyMs.p99)}, ${n(c.runs.completed)} runs`, target: '0 errors', verdict: `${verdict(c.errors.total + c.shed.count + c.timeouts === 0)} (${c.errors.total} errors, ${c.shed.count} shed, ${c.timeouts} timeouts)` },
    ...[r.webhooks, ...(r.webhooksPipedrive ? [r.webhooksPipedrive] : [])].flatMap((hook) => [
    { figure: `${hook.crm} edit → mirror, webhooks vs polling every ${hook.syncIntervalSeconds} s`, measured: `p50 ${ms(hook.webhooks.latencyMs.p50)}, p99 ${ms(hook.webhooks.latencyMs.p99)} vs p50 ${ms(hook.polling.latencyMs.p50)}, p99 ${ms(hook.polling.latencyMs.p99)} (${hook.webhooks.edits} edits each)`, target: 'reported', verdict: `webhooks ${x(hook.polling.latencyMs.p50 / hook.webhooks.latencyMs.p50)} faster (p50)` },
    { figure: `${hook.crm} requests per changed contact, webhooks vs polling`, measured: `${n(hook.webhooks.requestsPerChange, 2)} vs ${n(hook.polling.requestsPerChange, 2)}`, target: 'reported', verdict: 'polls keep running beside webhooks, at WEBHOOK_POLL_INTERVAL_SECONDS' },
    ]),
    { figure: `writer with history vs without (inserts, ${n(wh.contacts)} contacts)`, measured: `${n(wh.inserts.withHistory)} vs ${n(wh.inserts.without)} contacts/s`, target: 'reported', verdict: `${x(wh.inserts.ratio)} the speed without` },
    { figure: `writer with history vs without (changed, ${n(wh.contacts)} contacts)`, measured: `${n(wh.changed.withHistory)} vs ${n(wh.changed.without)} contacts/s`, target: 'reported', verdict: `${x(wh.changed.ratio)} the speed without` },
    lookupRow('phone', 'p50 ≤ 10 ms', lk.phone.p50 <= 10),
    lookupRow('email', 'p50 ≤ 10 ms', lk.email.p50 <= 10),
    lookupRow('name', 'reported', null),
    { figure: 'key indexer catch-up (off the write path)', measured: `${n(lk.index.perSecond)} contacts/s (${n(lk.index.contacts)} in ${n(lk.index.seconds, 1)} s)`, target: 'reported', verdict: 'the writer never waits for it' },
    { figure: `CRM-bound backfill, ${n(crm.contacts)} contacts`, measured: `${n(crm.requestsPer10s, 1)} requests/10 s (busiest 10 s: ${crm.maxRequestsInAnyRolling10s}, limit ${crm.limitPer10s}), ${n(crm.seconds, 1)} s, ${n(crm.contactsPerSecond)} contacts/s`, target: '90–100 % of the limit, 0 × 429', verdict: `${verdict(crm.shareOfLimit >= 0.9 && crm.maxRequestsInAnyRolling10s <= crm.limitPer10s && crm.rateLimited429 === 0)} (${n(crm.shareOfLimit * 100, 1)} %, ${crm.rateLimited429} × 429)` },
  ];
}

export function markdownTable(rows: Row[]): string {
  const lines = ['| figure | measured | target | result |', '|---|---|---|---|'];
  for (const r of rows) lines.push(`| ${r.figure} | ${r.measured} | ${r.target} | ${r.verdict} |`);
  return lines.join('\n');
}

function depthTable(r: BenchResults): string {
  const lines = ['| contacts before the page | keyset p50 | keyset p99 | OFFSET p50 | OFFSET p99 | OFFSET ÷ keyset (p50) |', '|---|---|---|---|---|---|'];
  for (const p of r.depth.points) {
    lines.push(`| ${n(p.rowsBefore)} (${n(p.depth * 100)} %) | ${ms(p.keyset.p50)} | ${ms(p.keyset.p99)} | ${ms(p.offset.p50)} | ${ms(p.offset.p99)} | ${x(p.offset.p50 / p.keyset.p50)} |`);
  }
  return lines.join('\n');
}

function settingsList(r: BenchResults): string {
  return Object.entries(r.settings)
    .filter(([k]) => k !== 'BENCH_OUT')
    .map(([k, v]) => `\`${k}=${v}\``)
    .join(', ');
}

/** Writes benchmarks.md, benchmarks.json and page-latency-by-depth.svg into `dir`; returns the summary table. */
export async function writeReport(r: BenchResults, dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const table = markdownTable(summaryRows(r));
  const m = r.machine;
  const md = `# Benchmarks

Generated by \`npm run bench\` on ${r.date.slice(0, 10)} (${r.date}). Every figure below comes from
one run on one machine, so they compare side by side; absolute numbers move with the machine, the
ratios are what to read.

- **Machine:** ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, ${m.os}; Node ${m.node}; PostgreSQL ${m.postgres} (local, ${m.postgresSettings}).
- **Settings:** ${settingsList(r)}.
- **Data:** one tenant of ${n(r.settings.BENCH_CONTACTS)} contacts (name, 1–3 emails, 1–3 phones, address, company, title, url; ${n(r.copy.bytes / r.settings.BENCH_CONTACTS)} bytes of JSON each), a second of the same size written over HTTP, and ${r.settings.BENCH_CONCURRENT_TENANTS} small tenants of ${n(r.settings.BENCH_CONCURRENT_CONTACTS)}.

## Results

${table}

## How each figure is measured

- **Writer:** contacts go through \`writeContacts\` (src/mirror/writer.ts) in batches of ${n(r.settings.BENCH_BATCH)}, in process and through \`PUT /admin/tenants/:id/contacts\` on the real server process. Only the time in the writer (or the HTTP request) counts, not generating the contacts. The benchmark checks the writer's counts: all inserted, then all unchanged, then all updated.
- **The limit:** \`COPY (SELECT row_to_json(c) FROM (SELECT <the response's fields> … ORDER BY updated_at, id) c) TO STDOUT\`, streamed to the benchmark and discarded. The median of ${r.settings.BENCH_ROUNDS} runs.
- **Full sync:** a Talkdesk-style client pages the whole tenant through \`POST /contact_sync\` on a kept-alive connection. It parses every page, follows \`next_offset\` with its \`context\` and checks the count. The server runs as its own process (\`ROLE=api\`). The median of ${r.settings.BENCH_ROUNDS} runs per page size; at the default page size a server with read-ahead and one without take turns, run by run.
- **Page latency by depth:** the sync endpoint's page statement (\`pageStatement\`, keyset) next to the same page by \`OFFSET\`, timed from the application, including reading the result. Rounds are interleaved so noise hits both alike; each round has ${r.settings.BENCH_KEYSET_SAMPLES} keyset and ${r.settings.BENCH_OFFSET_SAMPLES} OFFSET samples per depth. The ratios are medians over the rounds.
- **Incremental, nothing changed:** ${n(r.settings.BENCH_INCREMENTAL_REQUESTS)} runs with the checkpoint of the last full sync. Server-side time is the server's \`Server-Timing\` header (routing, tenant lookup, database, serialization).
- **Memory:** the server's peak RSS (\`VmHWM\`, reset before the full syncs), over the full syncs at both page sizes.
- **Concurrency:** ${r.settings.BENCH_CONCURRENT_TENANTS} virtual Talkdesk clients, one tenant each, each running whole sync runs (full and incremental) back to back for ${r.settings.BENCH_CONCURRENT_SECONDS} s (harness/bench/concurrent-syncs.ts).
- **Writer with history vs without:** ${n(r.writerHistory.contacts)} contacts inserted, then changed, into two tenants batch by batch in alternation: one as the writer ships (each version recorded in \`contact_history\` in its transaction), the other with those rows dropped by a \`BEFORE INSERT\` trigger before they reach the table. The lookup's key index is not on the write path (src/mirror/key-indexer.ts), so it is in neither.
- **Contact lookup:** \`GET /admin/tenants/:id/contacts\` on the big tenant, ${n(r.settings.BENCH_LOOKUP_SAMPLES)} random contacts, each looked up by its first phone as a person types it (\`(415) 555-0123\`), its first email in capitals and the start of its name (\`José Gar\`), timed by the client over loopback HTTP, details, history and verdicts included. The key indexer first catches up with every contact the benchmark wrote (its rate is a figure).
- **CRM-bound ingest:** a backfill of ${n(r.settings.BENCH_BACKFILL_CONTACTS)} contacts from the simulated HubSpot at its default rate limit, through the real workers and queues.

## Page latency by depth

![page latency by depth](page-latency-by-depth.svg)

${depthTable(r)}

## Lookup plan

EXPLAIN (ANALYZE) of a phone lookup's index part on the big tenant (src/lookup/contact-lookup.ts):

\`\`\`
${r.lookup.phonePlan}
\`\`\`

## Full sync runs

| page size | read-ahead | runs (s) | median | ÷ limit | server's own time (median) | pages | MB received | server peak RSS |
|---|---|---|---|---|---|---|---|---|
${r.fullSync.map((f) => `| ${n(f.pageSize)} | ${f.readAhead ? 'on' : 'off'} | ${f.runs.map((x) => n(x.seconds, 2)).join(', ')} | ${n(f.seconds, 2)} s | ${x(f.ratioToCopy)} | ${n(f.serverSeconds, 2)} s | ${n(f.runs[0]!.pages)} | ${mb(f.runs[0]!.bytes)} | ${mb(f.peakRssBytes)} |`).join('\n')}

The server's own time is the sum of a run's pages' \`Server-Timing\` (from the request's arrival to
its answer being handed to the socket). The rest of a run's time is the client's: receiving each page
and parsing it, as Talkdesk must. Without read-ahead the two add up page after page; with it
(\`SYNC_READ_AHEAD\`, the default) the server reads each run's next page while the current one is sent
and parsed, so a page asked for is usually ready, and its own time shrinks to sending it.

COPY runs: ${r.copy.runs.map((c) => `${n(c.seconds, 2)} s`).join(', ')}.

## Concurrency detail

| runs completed | full / incremental | syncs/s | pages/s | contacts/s | page p50 / p99 | run p50 / p99 | errors | shed (503) | timeouts |
|---|---|---|---|---|---|---|---|---|---|
| ${n(r.concurrency.runs.completed)} | ${n(r.concurrency.runs.full)} / ${n(r.concurrency.runs.incremental)} | ${n(r.concurrency.runsPerSecond, 1)} | ${n(r.concurrency.pagesPerSecond)} | ${n(r.concurrency.contactsPerSecond)} | ${ms(r.concurrency.pageLatencyMs.p50)} / ${ms(r.concurrency.pageLatencyMs.p99)} | ${ms(r.concurrency.runLatencyMs.p50)} / ${ms(r.concurrency.runLatencyMs.p99)} | ${r.concurrency.errors.total} | ${r.concurrency.shed.count} | ${r.concurrency.timeouts} |
`;
  await writeFile(path.join(dir, 'benchmarks.md'), md);
  await writeFile(path.join(dir, 'benchmarks.json'), JSON.stringify(r, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2) + '\n');
  await writeFile(path.join(dir, 'page-latency-by-depth.svg'), await depthPlotSvg(r.depth, r.settings.BENCH_CONTACTS));
  return table;
}
