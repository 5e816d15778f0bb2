import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import type { CompletionDto, CompletionsDto, CompletionsQuery } from './dto/completions.dto.js';

const STEP_LIST = 2000;
const COLUMNS = 'step, prompt_index, sample_index, prompt, answer, completion, reward, positive, weight';

/** The sampled completions the worker stores per RL step (JobStore.recordCompletions). */
@Injectable()
export class CompletionsService {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  async query(jobId: string, q: CompletionsQuery): Promise<CompletionsDto> {
    const limit = q.limit ?? 200;
    const steps = (
      (await this.db.query(
        `SELECT step FROM (SELECT DISTINCT step FROM completions WHERE job_id = $1 ORDER BY step DESC LIMIT ${STEP_LIST}) s ORDER BY step`,
        [jobId],
      )) as { step: number }[]
    ).map((r) => r.step);
    let items: CompletionDto[];
    if (q.prompt !== undefined) {
      items = (await this.db.query(
        `SELECT ${COLUMNS} FROM completions WHERE job_id = $1 AND prompt = $2
          ORDER BY step DESC, prompt_index, sample_index LIMIT $3`,
        [jobId, q.prompt, limit],
      )) as CompletionDto[];
      items.sort(
        (a, b) => a.step - b.step || a.prompt_index - b.prompt_index || a.sample_index - b.sample_index,
      );
    } else {
      const step = q.step ?? steps.at(-1);
      items =
        step === undefined
          ? []
          : ((await this.db.query(
              `SELECT ${COLUMNS} FROM completions WHERE job_id = $1 AND step = $2
                ORDER BY prompt_index, sample_index LIMIT $3`,
              [jobId, step, limit],
            )) as CompletionDto[]);
    }
    return { steps, items };
  }
}
