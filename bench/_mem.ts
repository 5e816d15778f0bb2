import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/learner/backend.js';
import { CausalLM } from '../src/learner/model/causal-lm.js';
await initBackend((process.argv[2] ?? 'wasm') as 'wasm');
const cfg = { architectures: ['LlamaForCausalLM'], hidden_size: 512, intermediate_size: 1408, num_hidden_layers: 8, num_attention_heads: 8, num_key_value_heads: 2, vocab_size: 512, max_position_embeddings: 1024 };
if (process.argv[4] === 'share') {
  tf.unregisterKernel('Identity', 'wasm');
  tf.registerKernel({ kernelName: 'Identity', backendName: 'wasm', kernelFunc: ({ inputs, backend }) => { const x = inputs.x as tf.TensorInfo; (backend as unknown as { incRef(d: unknown): void }).incRef(x.dataId); return { dataId: x.dataId, shape: x.shape, dtype: x.dtype }; } });
}
const model = CausalLM.create(cfg, 1);
const B = Number(process.argv[3] ?? 2), T = 256;
const ids = tf.tensor2d(Array.from({ length: B }, () => Array.from({ length: T }, (_, i) => (i * 7) % 512)), [B, T], 'int32');
const vars = [...model.weights().values()];
console.log('weights MB', (tf.memory().numBytes / 1e6).toFixed(0));
let t0 = performance.now();
const prof = await tf.profile(() => { const { value, grads } = tf.variableGrads(() => tf.tidy(() => tf.mean(tf.square(model.forward(ids).logits))) as tf.Scalar, vars); value.dispose(); tf.dispose(Object.values(grads)); });
console.log('wasm heap MB', ((tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.buffer.byteLength / 1e6).toFixed(0));
console.log('ms', (performance.now() - t0).toFixed(0), 'B', B, 'peak MB', (prof.peakBytes / 1e6).toFixed(0), 'after MB', (tf.memory().numBytes / 1e6).toFixed(0));
const big = [...prof.kernels].sort((a, b) => b.bytesAdded - a.bytesAdded).slice(0, 5).map(k => `${k.name} ${k.outputShapes} ${(k.bytesAdded / 1e6).toFixed(0)}MB`);
console.log(big.join('\n'));
const agg = new Map<string, number>();
for (const k of prof.kernels) agg.set(k.name, (agg.get(k.name) ?? 0) + k.bytesAdded);
console.log([...agg].sort((a, b) => b[1] - a[1]).slice(0, 12).map(([k, v]) => `${k} ${(v / 1e6).toFixed(0)}MB`).join('\n'));
let run = 0, peak = 0, at = '';
for (const k of prof.kernels) { run += k.bytesAdded; if (run > peak) { peak = run; at = k.name + ' ' + k.outputShapes; } }
console.log('peak via running sum', (peak/1e6).toFixed(0), at, 'total kernels', prof.kernels.length);
