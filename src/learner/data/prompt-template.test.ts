import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend.js';
import { CharTokenizer } from '../tokenizer/char-tokenizer.js';
import { HfTokenizer } from '../tokenizer/hf-tokenizer.js';
import { mathScorer } from '../trainer/data-source.js';
import { evaluatePolicy } from '../trainer/evaluate.js';
import { loadPolicy, withPromptTemplate } from '../trainer/policy-source.js';
import { rollout } from '../trainer/rollout.js';
import { resolveConfig } from '../trainer/config.js';
import { Rng } from '../util/random.js';
import { readExamplesJsonl } from './jsonl.js';
import {
  promptFormat,
  PromptTemplateError,
  QWEN_MATH_SYSTEM,
  R1_SYSTEM,
  renderPrompt,
} from './prompt-template.js';
import { QWEN3_TOKENIZER_DIR, writeQwenShapedDir } from './qwen-model-dir.js';

const problem = 'What is $1+1$?';
const chatml = (sys: string | null, user: string) =>
  (sys === null ? '' : `<|im_start|>system\n${sys}<|im_end|>\n`) +
  `<|im_start|>user\n${user}<|im_end|>\n<|im_start|>assistant\n`;

let dir: string;
let qwen3: HfTokenizer;
/** Qwen2.5-Math-base-like: EOS is <|endoftext|>, so <|im_end|> is a separate end-of-turn token. */
let baseEos: HfTokenizer;
/** No chat_template at all. */
let bare: HfTokenizer;

beforeAll(async () => {
  await initBackend('cpu');
  dir = mkdtempSync(join(tmpdir(), 'popo-prompt-'));
  qwen3 = HfTokenizer.fromDirectory(QWEN3_TOKENIZER_DIR);
  baseEos = HfTokenizer.fromDirectory(
    await writeQwenShapedDir(join(dir, 'base-eos'), { eosToken: '<|endoftext|>', alwaysSay: '<|im_end|>' }),
  );
  bare = HfTokenizer.fromDirectory(
    await writeQwenShapedDir(join(dir, 'bare'), { eosToken: '<|endoftext|>', chatTemplate: false }),
  );
}, 120_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('prompt templates on the real Qwen3 tokenizer files', () => {
  it('chat renders the model’s own chat_template with the generation prompt', () => {
    expect(renderPrompt({ problem }, 'chat', qwen3)).toBe(chatml(null, problem));
  });

  it('qwen_math renders the authors’ system prompt through the chat template, byte for byte their layout', () => {
    expect(QWEN_MATH_SYSTEM).toBe('Please reason step by step, and put your final answer within \\boxed{}.');
    expect(renderPrompt({ problem }, 'qwen_math', qwen3)).toBe(chatml(QWEN_MATH_SYSTEM, problem));
    // Without a chat_template: the same ChatML string, from the fallback layout.
    expect(renderPrompt({ problem }, 'qwen_math', bare)).toBe(chatml(QWEN_MATH_SYSTEM, problem));
  });

  it('the rendered ChatML tokenizes its markers as single special tokens', () => {
    const ids = qwen3.encode(renderPrompt({ problem }, 'qwen_math', qwen3));
    const start = qwen3.tokenToId('<|im_start|>')!;
    const end = qwen3.tokenToId('<|im_end|>')!;
    expect(ids.filter((i) => i === start)).toHaveLength(3);
    expect(ids.filter((i) => i === end)).toHaveLength(2);
    expect(ids[0]).toBe(start);
  });

  it('r1, simple and none are the authors’ texts', () => {
    expect(renderPrompt({ problem }, 'r1', qwen3)).toBe(`${R1_SYSTEM}\nUser: ${problem}\nAssistant: <think>`);
    expect(R1_SYSTEM).toMatch(
      /^A conversation between User and Assistant\. .*<answer> answer here <\/answer>\.$/,
    );
    expect(renderPrompt({ problem }, 'simple', qwen3)).toBe(
      `Solve this math problem step by step.\n\nProblem: ${problem}\n\nSolution:`,
    );
    expect(renderPrompt({ problem }, 'none', qwen3)).toBe(problem);
  });

  it('the end-of-turn token is found from the template and joins EOS as a stop token', () => {
    const imEnd = qwen3.tokenToId('<|im_end|>')!;
    const text = qwen3.tokenToId('<|endoftext|>')!;
    // Qwen3's EOS already is <|im_end|>: one stop id.
    expect(promptFormat('chat', qwen3).stopIds).toEqual([imEnd]);
    // A base checkpoint's EOS is <|endoftext|>: both stop, and SFT targets end with the turn's end.
    for (const t of ['chat', 'qwen_math'] as const) {
      expect(promptFormat(t, baseEos).stopIds).toEqual([text, imEnd]);
      expect(promptFormat(t, baseEos).endId).toBe(imEnd);
    }
    expect(promptFormat('qwen_math', bare).stopIds).toEqual([text, imEnd]);
    for (const t of ['none', 'r1', 'simple'] as const) {
      expect(promptFormat(t, baseEos).stopIds).toEqual([text]);
      expect(promptFormat(t, baseEos).endId).toBe(text);
    }
  });

  it('chat on a model without a chat_template is refused naming data.prompt_template', () => {
    expect(() => promptFormat('chat', bare)).toThrow(PromptTemplateError);
    expect(() => promptFormat('chat', new CharTokenizer())).toThrow(
      /data\.prompt_template: .*no chat_template/,
    );
    expect(renderPrompt({ problem: '1+1=' }, 'none', new CharTokenizer())).toBe('1+1=');
  });

  it('is a run field with none as its default, and only the known names pass', () => {
    expect(resolveConfig({}).data.prompt_template).toBe('none');
    expect(
      resolveConfig({ data: { task: { name: 'add', difficulty: 2 }, prompt_template: 'qwen_math' } }).data
        .prompt_template,
    ).toBe('qwen_math');
    expect(() =>
      resolveConfig({ data: { task: { name: 'add', difficulty: 2 }, prompt_template: 'llama3' } as never }),
    ).toThrow(/data\.prompt_template.*must be one of: none, chat, qwen_math, r1, simple/);
  });
});

describe('generation stops at the end-of-turn token', () => {
  const math = () => readExamplesJsonl('../shared/datasets/math500.jsonl').train.slice(0, 3);
  const sampling = (max: number) => ({
    ...resolveConfig({}).sampling,
    group_size: 2,
    prompts_per_step: 2,
    max_new_tokens: max,
  });

  it('a model that says <|im_end|> stops there with qwen_math and runs on to the limit with none', async () => {
    const loaded = await loadPolicy({ path: join(dir, 'base-eos') }, 0);
    try {
      const imEnd = loaded.tokenizer.tokenToId!('<|im_end|>')!;
      const prompts = math().slice(0, 2);
      const templated = await rollout(
        withPromptTemplate(loaded, 'qwen_math'),
        prompts,
        sampling(6),
        mathScorer,
        new Rng(1),
      );
      expect(templated.completionIds).toEqual(Array(4).fill([imEnd]));
      // The prompt the model saw is the rendered template.
      expect(loaded.tokenizer.decode(templated.promptIds[0])).toBe(
        chatml(QWEN_MATH_SYSTEM, prompts[0].problem).replace(/<\|im_(start|end)\|>/g, ''),
      );
      const raw = await rollout(loaded, prompts, sampling(6), mathScorer, new Rng(1));
      expect(raw.completionIds).toEqual(Array(4).fill(Array(6).fill(imEnd)));
    } finally {
      loaded.model.dispose();
    }
  }, 120_000);

  it('eval with qwen_math over MATH-500 rows completes with every row scored', async () => {
    const loaded = await loadPolicy({ path: join(dir, 'base-eos') }, 0);
    try {
      const rows = math();
      const r = await evaluatePolicy(withPromptTemplate(loaded, 'qwen_math'), rows, mathScorer, {
        n: 1,
        k: 1,
        temperature: 0,
        max_examples: 3,
        maxNewTokens: 8,
        seed: 0,
      });
      expect(r.examples).toBe(3);
      expect(r.perExample.map((e) => e.id)).toEqual(rows.map((e) => e.id));
      expect(r.pass_at_k).toBe(0);
    } finally {
      loaded.model.dispose();
    }
  }, 120_000);
});
