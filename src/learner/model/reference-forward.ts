import type { ResolvedConfig } from './config.js';
import type { TensorRecord } from './safetensors.js';

/**
 * A deliberately naive float64 forward pass written straight from the Hugging Face Llama/Qwen2 modelling code,
 * on HF-layout tensors ([out, in] linear kernels). Tests use it as an independent reference for CausalLM; it is
 * far too slow for anything else.
 */
export function referenceLogits(
  c: ResolvedConfig,
  w: Map<string, TensorRecord>,
  ids: number[][],
  mask?: number[][],
): number[][][] {
  const get = (name: string) => {
    const t = w.get(name);
    if (!t) throw new Error(`reference: missing ${name}`);
    return t.data;
  };
  const opt = (name: string) => w.get(name)?.data;
  // y[o] = Σ_i W[o, i] x[i] + b[o]
  const linear = (x: number[], W: Float32Array, outDim: number, b?: Float32Array) => {
    const inDim = x.length;
    const y = new Array<number>(outDim).fill(0);
    for (let o = 0; o < outDim; o++) {
      let s = b ? b[o] : 0;
      for (let i = 0; i < inDim; i++) s += W[o * inDim + i] * x[i];
      y[o] = s;
    }
    return y;
  };
  const rms = (x: number[], g: Float32Array) => {
    const ms = x.reduce((a, v) => a + v * v, 0) / x.length;
    const r = 1 / Math.sqrt(ms + c.eps);
    return x.map((v, i) => v * r * g[i]);
  };
  const rope = (v: number[], pos: number) => {
    const half = c.headDim / 2;
    const out = new Array<number>(c.headDim);
    for (let i = 0; i < c.headDim; i++) {
      const f = pos * c.invFreq[i % half];
      const rot = i < half ? -v[i + half] : v[i - half];
      out[i] = v[i] * Math.cos(f) + rot * Math.sin(f);
    }
    return out;
  };

  const B = ids.length;
  const T = ids[0].length;
  const m = mask ?? ids.map((row) => row.map(() => 1));
  const E = get('model.embed_tokens.weight');
  const out: number[][][] = [];
  for (let b = 0; b < B; b++) {
    let seen = 0;
    const pos = m[b].map((v) => (v ? seen++ : 0));
    let xs = ids[b].map((id) => Array.from(E.subarray(id * c.hidden, (id + 1) * c.hidden)));
    for (let l = 0; l < c.layers; l++) {
      const p = `model.layers.${l}`;
      const hs = xs.map((x) => rms(x, get(`${p}.input_layernorm.weight`)));
      const a = `${p}.self_attn`;
      const qs = hs.map((h) =>
        linear(h, get(`${a}.q_proj.weight`), c.heads * c.headDim, opt(`${a}.q_proj.bias`)),
      );
      const ks = hs.map((h) =>
        linear(h, get(`${a}.k_proj.weight`), c.kvHeads * c.headDim, opt(`${a}.k_proj.bias`)),
      );
      const vs = hs.map((h) =>
        linear(h, get(`${a}.v_proj.weight`), c.kvHeads * c.headDim, opt(`${a}.v_proj.bias`)),
      );
      const attn: number[][] = [];
      for (let t = 0; t < T; t++) {
        const o = new Array<number>(c.heads * c.headDim).fill(0);
        for (let h = 0; h < c.heads; h++) {
          const kvh = Math.floor(h / (c.heads / c.kvHeads)); // repeat_kv
          const q = rope(qs[t].slice(h * c.headDim, (h + 1) * c.headDim), pos[t]);
          const scores: number[] = [];
          for (let j = 0; j < T; j++) {
            if (j > t || !m[b][j]) {
              scores.push(-Infinity);
              continue;
            }
            const k = rope(ks[j].slice(kvh * c.headDim, (kvh + 1) * c.headDim), pos[j]);
            scores.push(q.reduce((s, qv, i) => s + qv * k[i], 0) / Math.sqrt(c.headDim));
          }
          const mx = Math.max(...scores);
          if (mx === -Infinity) continue; // fully masked (padding) query: output unused
          const e = scores.map((s) => Math.exp(s - mx));
          const z = e.reduce((x, y) => x + y, 0);
          for (let j = 0; j < T; j++) {
            for (let i = 0; i < c.headDim; i++)
              o[h * c.headDim + i] += (e[j] / z) * vs[j][kvh * c.headDim + i];
          }
        }
        attn.push(o);
      }
      xs = xs.map((x, t) => {
        const ao = linear(attn[t], get(`${a}.o_proj.weight`), c.hidden, opt(`${a}.o_proj.bias`));
        return x.map((v, i) => v + ao[i]);
      });
      xs = xs.map((x) => {
        const h = rms(x, get(`${p}.post_attention_layernorm.weight`));
        const g = linear(h, get(`${p}.mlp.gate_proj.weight`), c.intermediate);
        const u = linear(h, get(`${p}.mlp.up_proj.weight`), c.intermediate);
        const act = g.map((v, i) => (v / (1 + Math.exp(-v))) * u[i]);
        const d = linear(act, get(`${p}.mlp.down_proj.weight`), c.hidden);
        return x.map((v, i) => v + d[i]);
      });
    }
    const head = c.tied ? E : get('lm_head.weight');
    out.push(xs.map((x) => linear(rms(x, get('model.norm.weight')), head, c.vocab)));
  }
  return out;
}
