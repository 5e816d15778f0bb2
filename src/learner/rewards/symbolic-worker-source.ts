/**
 * Source of the worker thread that runs @cortex-js/compute-engine. It is a string (run with
 * `new Worker(src, { eval: true })`) so the same code works from TypeScript sources under vitest and
 * from the compiled dist/ without a separate build step for a .js worker file.
 *
 * Protocol: the parent posts `{ id, exprs, budgetMs }` on `workerData.port`; the worker replies
 * `{ id, results }` or `{ id, error }` on the same port, then bumps `Int32Array(workerData.signal)[0]`
 * and notifies, which wakes the parent blocked in `Atomics.wait`.
 *
 * Each expression is parsed in its own scope (compute-engine keeps symbol declarations per engine, so
 * "x_1" parsed earlier would change how "\sqrt{x}" parses later). Free variables get the same
 * deterministic pseudo-random values (see pointValue) for every expression in the batch, at `points` points.
 */
export const SYMBOLIC_WORKER_SOURCE = String.raw`
'use strict';
const { workerData } = require('node:worker_threads');
// compute-engine prints type-parser diagnostics with console.error; they would land in the trainer's log.
console.error = console.warn = console.log = () => {};
const port = workerData.port;
const signal = new Int32Array(workerData.signal);
const POINTS = workerData.points;
let ComputeEngine;
let setupError;
// The package's CommonJS build exports nothing usable in 0.27, so load its ES module build.
const ready = import(workerData.engineUrl).then(
  (m) => {
    ComputeEngine = m.ComputeEngine;
    if (typeof ComputeEngine !== 'function') setupError = 'no ComputeEngine export';
  },
  (err) => {
    setupError = String((err && err.message) || err);
  },
);
let ce = null;
let uses = 0;

// Half the points are small (0.5..3: keeps exponentials and Gamma tame), half larger (3..40: floor and
// ceiling of n/5 vs n/6 agree near 1 but not at 20).
function pointValue(k, j) {
  const x = Math.sin((k + 1) * 12.9898 + (j + 1) * 78.233) * 43758.5453;
  const u = x - Math.floor(x);
  return k % 2 === 0 ? 0.5 + u * 2.5 : 3 + u * 37;
}

function numeric(expr) {
  try {
    const n = expr.N();
    if (!n.isNumberLiteral) return [NaN, NaN];
    return [Number(n.re), Number(n.im)];
  } catch (err) {
    return [NaN, NaN];
  }
}

function close(a, b) {
  return a === b || Math.abs(a - b) <= 1e-6 * Math.max(Math.abs(a), Math.abs(b));
}

// compute-engine 0.27's canonical form can drop terms (2 - \frac{x i}{4} becomes 2). Evaluating the
// uncanonicalised parse at the first point and finding a different number flags such expressions, which
// then count as not evaluable rather than as a wrong value.
function disagrees(s, values, vars) {
  const re = values[0];
  const im = values[1];
  if (!Number.isFinite(re) || !Number.isFinite(im)) return false;
  let v;
  try {
    const raw = ce.parse(s, { canonical: false });
    const sub = {};
    vars.forEach((name, j) => {
      sub[name] = pointValue(0, j);
    });
    v = numeric(vars.length ? raw.subs(sub) : raw);
  } catch (err) {
    return false; // the raw form cannot be evaluated: no evidence either way
  }
  if (!Number.isFinite(v[0]) || !Number.isFinite(v[1])) return false;
  return !close(v[0], re) || !close(v[1], im);
}

// An integer or rational constant evaluated exactly ("1048576", "3/4"); nothing when the engine's result is
// inexact (its JSON for 2^{100} is a rounded decimal) or not rational.
function exactValue(e) {
  try {
    const r = e.evaluate();
    if (!r.isNumberLiteral || r.isRational !== true) return undefined;
    const j = r.json;
    if (typeof j === 'number' && Number.isSafeInteger(j)) return String(j);
    if (Array.isArray(j) && j[0] === 'Rational' && Number.isSafeInteger(j[1]) && Number.isSafeInteger(j[2])) {
      return j[1] + '/' + j[2];
    }
  } catch (err) {
    return undefined;
  }
  return undefined;
}

function scoped(fn) {
  ce.pushScope();
  try {
    return fn();
  } catch (err) {
    return null;
  } finally {
    ce.popScope();
  }
}

function evaluateBatch(exprs, deadline) {
  // A fresh engine now and then bounds whatever state the engine accumulates (caches, rules).
  if (!ce || ++uses > 2000) {
    ce = new ComputeEngine();
    uses = 0;
  }
  const unknowns = exprs.map((s) =>
    scoped(() => {
      const e = ce.parse(s);
      return e.isValid ? Array.from(e.unknowns) : null;
    }),
  );
  const names = new Set();
  for (const u of unknowns) if (u) for (const n of u) names.add(n);
  const vars = Array.from(names).sort();
  return exprs.map((s, i) => {
    if (!unknowns[i]) return { ok: false, error: 'parse' };
    if (Date.now() > deadline) return { ok: false, error: 'budget' };
    const out = scoped(() => {
      const e = ce.parse(s);
      const values = [];
      let exact;
      if (unknowns[i].length === 0) {
        const v = numeric(e);
        for (let k = 0; k < POINTS; k++) values.push(v[0], v[1]);
        exact = exactValue(e);
      } else {
        for (let k = 0; k < POINTS; k++) {
          const sub = {};
          vars.forEach((name, j) => {
            sub[name] = pointValue(k, j);
          });
          let v = [NaN, NaN];
          try {
            v = numeric(e.subs(sub));
          } catch (err) {
            v = [NaN, NaN];
          }
          values.push(v[0], v[1]);
        }
      }
      if (disagrees(s, values, vars)) return { ok: false, error: 'engine disagreement' };
      return { ok: true, json: JSON.stringify(e.json), values, exact };
    });
    return out || { ok: false, error: 'evaluate' };
  });
}

port.on('message', (msg) => ready.then(() => handle(msg)));

function handle(msg) {
  let reply;
  if (setupError) {
    reply = { id: msg.id, error: 'cannot load compute-engine: ' + setupError };
  } else {
    try {
      reply = { id: msg.id, results: evaluateBatch(msg.exprs, Date.now() + msg.budgetMs) };
    } catch (err) {
      reply = { id: msg.id, error: String((err && err.message) || err) };
    }
  }
  port.postMessage(reply);
  Atomics.add(signal, 0, 1);
  Atomics.notify(signal, 0);
}
`;
