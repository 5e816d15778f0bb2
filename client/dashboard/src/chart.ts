import { html } from 'htm/preact';
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { PALETTE } from './metrics.js';

export interface Line {
  label: string;
  values: (number | null)[];
  color?: string;
  dash?: number[];
  /** Drawn as points only (sparse series such as evals). */
  points?: boolean;
}

interface Props {
  id: string;
  title: string;
  note?: string;
  x: number[];
  lines: Line[];
  height?: number;
  xLabel?: string;
}

const fmt = (v: number | null | undefined) =>
  v === null || v === undefined
    ? '—'
    : Math.abs(v) >= 1000 || (Math.abs(v) < 1e-3 && v !== 0)
      ? v.toExponential(2)
      : String(+v.toPrecision(4));

// uPlot pads a flat series to 0..100, which reads as a scale; a flat line should sit in a tight band.
const yRange = (_u: uPlot, min: number | null, max: number | null): uPlot.Range.MinMax => {
  if (min === null || max === null) return [0, 1];
  if (min === max) return min === 0 ? [0, 1] : [min - Math.abs(min) * 0.1, max + Math.abs(max) * 0.1];
  return uPlot.rangeNum(min, max, 0.1, true);
};
const xRange = (_u: uPlot, min: number | null, max: number | null): uPlot.Range.MinMax =>
  min === null || max === null ? [0, 1] : min === max ? [min, min + 1] : [min, max];

/**
 * One uPlot chart. uPlot draws on a canvas and takes new data with setData, which is what streaming needs;
 * the instance is rebuilt only when the set of lines changes. `data-points` exposes the number of x values
 * (read by the browser test to see a chart grow).
 */
export function Chart({ id, title, note, x, lines, height = 220, xLabel = 'step' }: Props) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const shape = lines.map((l) => `${l.label}|${l.color ?? ''}|${l.points ? 1 : 0}`).join(',');
  const data = [x, ...lines.map((l) => l.values)] as uPlot.AlignedData;

  useEffect(() => {
    const el = box.current!;
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height,
      legend: { live: true },
      cursor: { drag: { x: true, y: false } },
      scales: { x: { time: false, range: xRange }, y: { range: yRange } },
      axes: [
        { label: xLabel, size: 36 },
        { size: 56, values: (_u, vals) => vals.map((v) => fmt(v)) },
      ],
      series: [
        { label: xLabel },
        ...lines.map((l, i) => ({
          label: l.label,
          stroke: l.color ?? PALETTE[i % PALETTE.length],
          width: 1.5,
          dash: l.dash,
          spanGaps: true,
          value: (_u: uPlot, v: number | null) => fmt(v),
          points: l.points ? { show: true, size: 7 } : { show: false },
          ...(l.points ? { paths: () => null } : {}),
        })),
      ],
    };
    plot.current = new uPlot(opts, data, el);
    const ro = new ResizeObserver(() =>
      plot.current?.setSize({ width: Math.max(200, el.clientWidth), height }),
    );
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
    // Rebuilt only when the lines change; data updates go through setData below.
  }, [shape, height]);

  useEffect(() => {
    plot.current?.setData(data);
  });

  return html`<section class="chart" data-chart=${id} data-points=${x.length}>
    <h3>${title}${note ? html` <small>${note}</small>` : null}</h3>
    <div ref=${box} class="plot"></div>
  </section>`;
}
