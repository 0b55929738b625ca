import { Resvg } from '@resvg/resvg-js';
import { DateTime } from 'luxon';
import { parse as parseVega, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { CHART_STATUSES, type ChartPoint } from './stats-report.ts';

const COLORS: Record<(typeof CHART_STATUSES)[number], string> = {
  sent: '#2da44e',
  failed: '#cf222e',
  waiting: '#bf8700',
  other: '#8c959f',
};

/** The Vega-Lite spec of the 14-day chart: stacked bars of messages per local day by status group. */
export function chartSpec(points: ChartPoint[], title: string): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: 560,
    height: 220,
    background: 'white',
    padding: 12,
    title: { text: title, anchor: 'start', fontSize: 14 },
    data: {
      values: points.map((p) => ({
        ...p,
        label: DateTime.fromISO(p.day).toFormat('d LLL'),
        order: CHART_STATUSES.indexOf(p.status),
      })),
    },
    mark: { type: 'bar' },
    encoding: {
      x: {
        field: 'label',
        type: 'ordinal',
        sort: { field: 'day' },
        title: null,
        axis: { labelAngle: 0 },
      },
      y: { field: 'count', type: 'quantitative', title: 'messages', stack: 'zero' },
      color: {
        field: 'status',
        type: 'nominal',
        title: null,
        scale: { domain: [...CHART_STATUSES], range: CHART_STATUSES.map((s) => COLORS[s]) },
        legend: { orient: 'top', direction: 'horizontal' },
      },
      order: { field: 'order', type: 'quantitative' },
    },
    config: { font: 'DejaVu Sans, Liberation Sans, Arial, sans-serif', view: { stroke: null } },
  };
}

/**
 * Vega-Lite -> Vega -> SVG (vega's headless View, no canvas or browser) -> PNG with resvg (Rust,
 * a prebuilt binary in its npm package). Text needs a TrueType font on the system: the Docker image
 * installs DejaVu; without any font the bars still render, the labels do not.
 */
export async function renderChartPng(points: ChartPoint[], title: string): Promise<Buffer> {
  const vegaSpec = compile(chartSpec(points, title)).spec;
  const view = new View(parseVega(vegaSpec), { renderer: 'none' });
  try {
    const svg = await view.toSVG();
    const png = new Resvg(svg, {
      fitTo: { mode: 'zoom', value: 2 },
      font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' },
    })
      .render()
      .asPng();
    return Buffer.from(png);
  } finally {
    view.finalize();
  }
}
