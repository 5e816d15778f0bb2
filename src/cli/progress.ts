import cliProgress from 'cli-progress';
import type { CoreMetrics, RolloutMetrics } from '../learner/trainer/metrics.js';

/** What the bar shows of a step; a field the step does not report (SFT has no reward) shows as '-'. */
export type ProgressPoint = Pick<CoreMetrics, 'step'> &
  Partial<Pick<RolloutMetrics, 'pass_rate' | 'reward_mean' | 'loss' | 'tokens_per_second'>>;

const fixed = (x: number | undefined, digits: number) => (x === undefined ? '-' : x.toFixed(digits));

/** A live bar on a terminal; one line every `every` steps elsewhere (CI logs, pipes). */
export class StepProgress {
  private readonly bar?: cliProgress.SingleBar;
  private last = 0;

  constructor(
    private readonly total: number,
    label: string,
    private readonly every = Math.max(1, Math.round(total / 20)),
  ) {
    if (process.stderr.isTTY) {
      this.bar = new cliProgress.SingleBar(
        {
          format: `${label} |{bar}| {value}/{total} steps | pass {pass} | reward {reward} | loss {loss} | {tps} tok/s | eta {eta_formatted}`,
          stream: process.stderr,
          hideCursor: true,
        },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(total, 0, { pass: '-', reward: '-', loss: '-', tps: '-' });
    } else {
      process.stderr.write(`${label}: ${total} steps\n`);
    }
  }

  startAt(step: number): void {
    this.last = step;
    this.bar?.update(step);
  }

  update(m: ProgressPoint): void {
    const payload = {
      pass: fixed(m.pass_rate, 3),
      reward: fixed(m.reward_mean, 3),
      loss: fixed(m.loss, 4),
      tps: m.tokens_per_second === undefined ? '-' : Math.round(m.tokens_per_second),
    };
    if (this.bar) this.bar.update(m.step, payload);
    else if (m.step - this.last >= this.every || m.step === this.total) {
      process.stderr.write(
        `step ${m.step}/${this.total} pass ${payload.pass} reward ${payload.reward} loss ${payload.loss} ${payload.tps} tok/s\n`,
      );
      this.last = m.step;
    }
  }

  log(line: string): void {
    if (this.bar) this.bar.stop();
    process.stderr.write(line + '\n');
    if (this.bar) this.bar.start(this.total, this.last);
  }

  stop(): void {
    this.bar?.stop();
  }
}
