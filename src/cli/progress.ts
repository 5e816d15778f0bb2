import cliProgress from 'cli-progress';
import type { StepMetrics } from '../learner/trainer/types.js';

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

  update(m: StepMetrics): void {
    const payload = {
      pass: m.pass_rate.toFixed(3),
      reward: m.reward_mean.toFixed(3),
      loss: m.loss.toFixed(4),
      tps: Math.round(m.tokens_per_second),
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
