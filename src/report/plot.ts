import * as vega from 'vega';
import * as vl from 'vega-lite';
import type { TopLevelSpec } from 'vega-lite';

/** One point of a series: x (usually the step), y, and the series it belongs to. */
export interface Point {
  x: number;
  y: number;
  series: string;
}

export interface Panel {
  title: string;
  y: string; // axis label
  points: Point[];
  /** Draw the y axis on a log scale (drift vs its bound spans decades). */
  log?: boolean;
}

/** A grid of line charts, one per panel, sharing the x axis label. */
export function panelsSpec(
  title: string,
  panels: Panel[],
  opts: { x?: string; columns?: number } = {},
): TopLevelSpec {
  const x = opts.x ?? 'step';
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    columns: opts.columns ?? 2,
    // Each panel keeps its own legend and colours: series differ from panel to panel.
    resolve: { scale: { color: 'independent' }, legend: { color: 'independent' } },
    config: { font: 'DejaVu Sans', view: { stroke: '#ddd' } },
    concat: panels.map((p) => ({
      title: p.title,
      width: 320,
      height: 180,
      data: { values: p.points.filter((pt) => Number.isFinite(pt.y) && (!p.log || pt.y > 0)) },
      mark: { type: 'line', point: p.points.length < 60 },
      encoding: {
        x: { field: 'x', type: 'quantitative', title: x },
        y: { field: 'y', type: 'quantitative', title: p.y, scale: p.log ? { type: 'log' } : { zero: false } },
        color: { field: 'series', type: 'nominal', title: null },
      },
    })),
  } as TopLevelSpec;
}

export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** A self-contained page: the SVG inline, no scripts or network. */
export function svgToHtml(title: string, svg: string, body = ''): string {
  const esc = title.replace(/[<&>]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;' })[c]!);
  return `<!doctype html><html><head><meta charset="utf-8"><title>${esc}</title>
<style>body{font-family:system-ui,sans-serif;margin:24px}</style></head>
<body><h1>${esc}</h1>${body}${svg}</body></html>\n`;
}

/** PNG through resvg (a prebuilt binary from npm); null when that package is unavailable on this platform. */
export async function svgToPng(svg: string): Promise<Uint8Array | null> {
  try {
    const { Resvg } = await import('@resvg/resvg-js');
    const png = new Resvg(svg, {
      background: 'white',
      font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' },
    })
      .render()
      .asPng();
    return new Uint8Array(png);
  } catch {
    return null;
  }
}
