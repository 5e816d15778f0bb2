import { Template } from '@huggingface/jinja';
import { FieldError } from '../field-error.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import type { PROMPT_TEMPLATES } from '../trainer/run-spec.js';
import type { Example } from '../trainer/types.js';

export type PromptTemplateName = (typeof PROMPT_TEMPLATES)[number];

/**
 * The authors' prompt texts, verbatim from momo1443/colm2026-POPO `src/data/templates.py` (TEMPLATE_CONFIGS):
 * the system prompt of `qwen_math`, the R1 conversation preamble and the "simple" instruction.
 */
export const QWEN_MATH_SYSTEM = 'Please reason step by step, and put your final answer within \\boxed{}.';
export const R1_SYSTEM =
  'A conversation between User and Assistant. The User asks a question, and the Assistant solves it. ' +
  'The Assistant first thinks about the reasoning process in the mind and then provides the User with the ' +
  'answer. The reasoning process is enclosed within <think> </think> and answer is enclosed within ' +
  '<answer> </answer> tags, respectively, i.e., <think> reasoning process here </think> <answer> answer here ' +
  '</answer>.';

/** The end-of-turn token of the ChatML layout (Qwen), used when qwen_math falls back to its own layout. */
const CHATML_END = '<|im_end|>';

/** How a run turns an example into the prompt text, and which tokens end a completion. */
export interface PromptFormat {
  readonly template: PromptTemplateName;
  /** The prompt text of an example (BOS not included: encodePrompt adds it). */
  render(example: Pick<Example, 'problem'>): string;
  /** Token ids that finish a completion: EOS and, when the template has one, its end-of-turn token. */
  readonly stopIds: number[];
  /** The token an SFT target ends with: the template's end-of-turn token, else EOS. */
  readonly endId: number;
}

export class PromptTemplateError extends FieldError {
  constructor(reason: string) {
    super('data.prompt_template', reason);
  }
}

type Message = { role: 'system' | 'user' | 'assistant'; content: string };

/** The model's chat template compiled once, rendered as transformers' apply_chat_template does. */
class ChatTemplate {
  private readonly compiled: Template;

  constructor(
    source: string,
    private readonly tok: Tokenizer,
  ) {
    try {
      this.compiled = new Template(source);
    } catch (e) {
      throw new PromptTemplateError(`the model's chat_template does not parse: ${(e as Error).message}`);
    }
  }

  render(messages: Message[], addGenerationPrompt: boolean): string {
    let text: string;
    try {
      text = this.compiled.render({
        messages,
        add_generation_prompt: addGenerationPrompt,
        ...this.tok.specialTokens,
      });
    } catch (e) {
      throw new PromptTemplateError(`the model's chat_template failed to render: ${(e as Error).message}`);
    }
    // Templates that open with the BOS text (Llama) would get it twice: encodePrompt adds the BOS id itself.
    const bos = this.tok.specialTokens?.bos_token;
    return bos && this.tok.bosId !== undefined && text.startsWith(bos) ? text.slice(bos.length) : text;
  }

  /**
   * The token the template closes an assistant turn with (`<|im_end|>`, `<|eot_id|>`, `<end_of_turn>`): the first
   * token after the content of a rendered assistant message, when it is a special token (decodes to nothing).
   */
  endOfTurn(): number | undefined {
    const mark = '\u0001POPO_TURN_END\u0001';
    let text: string;
    try {
      text = this.render(
        [
          { role: 'user', content: 'x' },
          { role: 'assistant', content: mark },
        ],
        false,
      );
    } catch {
      return undefined;
    }
    const at = text.lastIndexOf(mark);
    if (at < 0) return undefined;
    const suffix = text.slice(at + mark.length);
    if (!suffix) return undefined;
    const first = this.tok.encode(suffix)[0];
    return first !== undefined && this.tok.decode([first]) === '' ? first : undefined;
  }
}

function chatOf(tok: Tokenizer): ChatTemplate | undefined {
  return tok.chatTemplate ? new ChatTemplate(tok.chatTemplate, tok) : undefined;
}

function format(
  template: PromptTemplateName,
  tok: Tokenizer,
  render: (problem: string) => string,
  endOfTurn?: number,
): PromptFormat {
  const stopIds = endOfTurn !== undefined && endOfTurn !== tok.eosId ? [tok.eosId, endOfTurn] : [tok.eosId];
  return { template, render: (e) => render(e.problem), stopIds, endId: endOfTurn ?? tok.eosId };
}

function build(template: PromptTemplateName, tok: Tokenizer): PromptFormat {
  switch (template) {
    case 'none':
      return format(template, tok, (p) => p);
    case 'simple':
      return format(
        template,
        tok,
        (p) => `Solve this math problem step by step.\n\nProblem: ${p}\n\nSolution:`,
      );
    case 'r1':
      return format(template, tok, (p) => `${R1_SYSTEM}\nUser: ${p}\nAssistant: <think>`);
    case 'chat': {
      const chat = chatOf(tok);
      if (!chat)
        throw new PromptTemplateError(
          'the model has no chat_template (tokenizer_config.json or chat_template.jinja); use none, qwen_math, r1 or simple',
        );
      return format(
        template,
        tok,
        (p) => chat.render([{ role: 'user', content: p }], true),
        chat.endOfTurn(),
      );
    }
    case 'qwen_math': {
      const chat = chatOf(tok);
      if (chat)
        return format(
          template,
          tok,
          (p) =>
            chat.render(
              [
                { role: 'system', content: QWEN_MATH_SYSTEM },
                { role: 'user', content: p },
              ],
              true,
            ),
          chat.endOfTurn(),
        );
      // The authors' layout, for models that ship no template (Qwen2.5-Math base checkpoints have one; tests may not).
      return format(
        template,
        tok,
        (p) =>
          `<|im_start|>system\n${QWEN_MATH_SYSTEM}<|im_end|>\n<|im_start|>user\n${p}<|im_end|>\n<|im_start|>assistant\n`,
        tok.tokenToId?.(CHATML_END),
      );
    }
  }
}

const cache = new WeakMap<Tokenizer, Map<PromptTemplateName, PromptFormat>>();

/**
 * THE prompt builder of a run (`data.prompt_template`), used by rollout, eval, SFT, the CLI and the worker alike.
 * Built once per tokenizer and template (the chat template is compiled then); throws PromptTemplateError
 * (`data.prompt_template`) when the model cannot take the template.
 */
export function promptFormat(template: PromptTemplateName, tok: Tokenizer): PromptFormat {
  let byName = cache.get(tok);
  if (!byName) cache.set(tok, (byName = new Map()));
  let f = byName.get(template);
  if (!f) byName.set(template, (f = build(template, tok)));
  return f;
}

/** The prompt text an example gets under a template (what the model sees, BOS aside). */
export function renderPrompt(
  example: Pick<Example, 'problem'>,
  template: PromptTemplateName,
  tok: Tokenizer,
): string {
  return promptFormat(template, tok).render(example);
}
