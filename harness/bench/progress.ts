import cliProgress from 'cli-progress';

export interface Progress {
  increment(by?: number): void;
  stop(): void;
}

/**
 * A progress bar on stderr for one long phase, so stdout keeps only the results. Without a
 * terminal (CI logs) it still prints a line every few seconds instead of nothing.
 */
export function progress(label: string, total: number, unit = 'items'): Progress {
  const bar = new cliProgress.SingleBar(
    {
      format: `${label.padEnd(34)} [{bar}] {percentage}% {value}/{total} ${unit} {duration_formatted} eta {eta_formatted}`,
      stream: process.stderr,
      noTTYOutput: true,
      notTTYSchedule: 5000,
      hideCursor: true,
      etaBuffer: 50,
    },
    cliProgress.Presets.legacy,
  );
  bar.start(total, 0);
  return {
    increment: (by = 1) => bar.increment(by),
    stop: () => bar.stop(),
  };
}
