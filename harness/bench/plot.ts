import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { DepthFigures } from './phases/depth.js';

/**
 * Page latency against depth, keyset next to OFFSET, p50 and p99, as an SVG (vega-lite renders
 * it headless; no browser or canvas needed). Log scale: OFFSET at depth is orders of magnitude
 * above keyset, and both must stay readable.
 */
export async function depthPlotSvg(depth: DepthFigures, totalContacts: number): Promise<string> {
  const values = depth.points.flatMap((p) =>
    (['keyset', 'offset'] as const).flatMap((method) =>
      (['p50', 'p99'] as const).map((stat) => ({
        depth: p.rowsBefore,
        series: `${method === 'keyset' ? 'keyset (the sync endpoint)' : 'OFFSET'} ${stat}`,
        method,
        stat,
        ms: p[method][stat],
      })),
    ),
  );
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: `Time to read one page by depth in a ${totalContacts.toLocaleString('en-US')}-contact tenant`, subtitle: 'same page, same JSON; keyset (WHERE (updated_at, id) > key) vs OFFSET' },
    width: 640,
    height: 360,
    background: 'white',
    data: { values },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'depth', type: 'quantitative', title: 'contacts before the page' },
      y: { field: 'ms', type: 'quantitative', title: 'ms per page (log scale)', scale: { type: 'log' } },
      color: { field: 'method', type: 'nominal', title: 'method', scale: { domain: ['keyset', 'offset'], range: ['#1b7837', '#b2182b'] } },
      strokeDash: { field: 'stat', type: 'nominal', title: 'quantile', scale: { domain: ['p50', 'p99'], range: [[1, 0], [6, 4]] } },
      detail: { field: 'series' },
    },
  };
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  return view.toSVG();
}
