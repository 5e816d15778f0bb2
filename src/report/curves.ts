import { metricValue, type StepMetrics } from '../learner/trainer/metrics.js';
import type { EvalResult } from '../learner/trainer/types.js';
import { panelsSpec, type Panel, type Point } from './plot.js';

/** One field over the steps; steps of an algorithm without that field give no point. */
const series = (rows: StepMetrics[], key: string, name = key): Point[] =>
  rows.flatMap((r) => {
    const y = metricValue(r, key);
    return typeof y === 'number' ? [{ x: r.step, y, series: name }] : [];
  });

/** The learning-curve panels of one run: what a person checks first when a run looks wrong. */
export function learningCurvePanels(metrics: StepMetrics[], evals: EvalResult[] = []): Panel[] {
  const panels: Panel[] = [
    {
      title: 'Reward',
      y: 'fraction',
      points: [
        ...series(metrics, 'pass_rate', 'train pass rate'),
        ...evals.map((e) => ({ x: e.step, y: e.avg_at_k, series: `held-out avg@${e.k}` })),
      ],
    },
    { title: 'Entropy (nats/token)', y: 'entropy', points: series(metrics, 'entropy') },
    {
      title: 'Loss terms',
      y: 'value',
      points: [
        ...series(metrics, 'loss'),
        ...series(metrics, 'nll'),
        ...series(metrics, 'l_sim'),
        ...series(metrics, 'l_ent'),
        ...series(metrics, 'pg_loss'),
        ...series(metrics, 'kl'),
      ],
    },
    {
      title: 'Drift ‖θ−ξ‖ vs Lemma 3.2 bound',
      y: 'L2 norm',
      log: true,
      points: [...series(metrics, 'drift', '‖θ−ξ‖'), ...series(metrics, 'drift_bound', 'τηG_max/(1−τ)')],
    },
    {
      title: 'Group and token fractions',
      y: 'fraction',
      points: [
        ...series(metrics, 'zero_positive_group_fraction', 'zero-positive groups'),
        ...series(metrics, 'positive_fraction', 'positive completions'),
        ...series(metrics, 'zero_advantage_group_fraction', 'zero-advantage groups'),
        ...series(metrics, 'clip_fraction', 'clipped tokens'),
      ],
    },
    { title: 'Grad norm (pre-clip)', y: 'norm', points: series(metrics, 'grad_norm') },
  ];
  // Panels with nothing to show (no point, all zero, or nothing positive on a log axis) are left out: SFT has no
  // rewards, GRPO no siamese drift.
  return panels.filter((p) =>
    p.points.some((pt) => Number.isFinite(pt.y) && (p.log ? pt.y > 0 : pt.y !== 0)),
  );
}

export function learningCurveSpec(title: string, metrics: StepMetrics[], evals: EvalResult[] = []) {
  return panelsSpec(title, learningCurvePanels(metrics, evals));
}
