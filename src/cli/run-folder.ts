import { appendFileSync, mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type {
  CheckpointBlob,
  EvalResult,
  StepMetrics,
  TrainConfig,
  TrainEvent,
} from '../learner/trainer/types.js';
import { learningCurveSpec } from '../report/curves.js';
import { renderSvg, svgToHtml, svgToPng } from '../report/plot.js';

const readJsonl = <T>(path: string): T[] =>
  existsSync(path)
    ? readFileSync(path, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as T)
    : [];

/**
 * A run's folder: config.json, metrics.jsonl (one line per step), eval.jsonl, events.jsonl,
 * checkpoints/step-NNNNNN.safetensors and the learning curve (curve.html, curve.png).
 */
export class RunFolder {
  readonly checkpoints: string;

  constructor(readonly dir: string) {
    this.checkpoints = join(dir, 'checkpoints');
    mkdirSync(this.checkpoints, { recursive: true });
  }

  writeConfig(config: TrainConfig): void {
    const { data, ...rest } = config;
    // Inline examples can be large; the folder keeps their count, the dataset file keeps them.
    const slim = { ...rest, data: { ...data, train: data.train?.length, test: data.test?.length } };
    writeFileSync(join(this.dir, 'config.json'), JSON.stringify(slim, null, 2) + '\n');
  }

  /** A resumed run rewrites the lines of steps it redoes, so each step appears once. */
  truncateAfter(step: number): void {
    for (const file of ['metrics.jsonl', 'eval.jsonl']) {
      const path = join(this.dir, file);
      const kept = readJsonl<{ step: number }>(path).filter((r) => r.step <= step);
      writeFileSync(path, kept.map((r) => JSON.stringify(r) + '\n').join(''));
    }
  }

  appendMetrics(m: StepMetrics): void {
    appendFileSync(join(this.dir, 'metrics.jsonl'), JSON.stringify(m) + '\n');
  }

  appendEval(e: EvalResult): void {
    appendFileSync(join(this.dir, 'eval.jsonl'), JSON.stringify(e) + '\n');
  }

  appendEvent(e: TrainEvent): void {
    appendFileSync(join(this.dir, 'events.jsonl'), JSON.stringify(e) + '\n');
  }

  writeCheckpoint(c: CheckpointBlob): string {
    const path = join(this.checkpoints, `step-${String(c.step).padStart(6, '0')}.safetensors`);
    writeFileSync(path, c.bytes);
    writeFileSync(path + '.sha256', `${c.sha256}  step-${String(c.step).padStart(6, '0')}.safetensors\n`);
    return path;
  }

  metrics(): StepMetrics[] {
    return readJsonl<StepMetrics>(join(this.dir, 'metrics.jsonl'));
  }

  evals(): EvalResult[] {
    return readJsonl<EvalResult>(join(this.dir, 'eval.jsonl'));
  }

  /** Renders curve.html (self-contained) and curve.png (when resvg is available); returns the written paths. */
  async writeCurves(title: string): Promise<string[]> {
    const svg = await renderSvg(learningCurveSpec(title, this.metrics(), this.evals()));
    const html = join(this.dir, 'curve.html');
    writeFileSync(html, svgToHtml(title, svg));
    const png = await svgToPng(svg);
    if (!png) return [html];
    writeFileSync(join(this.dir, 'curve.png'), png);
    return [html, join(this.dir, 'curve.png')];
  }
}
