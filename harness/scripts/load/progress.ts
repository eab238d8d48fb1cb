import cliProgress from 'cli-progress';

export interface PhaseBar {
  update(value: number, detail?: string): void;
  stop(): void;
}

/**
 * A progress bar on stderr for a long phase. cli-progress draws nothing when stderr is not a
 * terminal (a CI log, the smoke test), where a line per phase is printed instead.
 */
export function phaseBar(title: string, total: number, unit: string): PhaseBar {
  if (!process.stderr.isTTY) {
    console.error(`${title}…`);
    return { update() {}, stop() {} };
  }
  const bar = new cliProgress.SingleBar(
    {
      format: `${title.padEnd(28)} [{bar}] {value}/{total} ${unit}  {detail}`,
      hideCursor: true,
      clearOnComplete: false,
      fps: 5,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { detail: '' });
  return {
    update: (value, detail = '') => bar.update(Math.min(total, Math.round(value)), { detail }),
    stop: () => bar.stop(),
  };
}
