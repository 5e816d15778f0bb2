// The popo SDK: a typed client of the HTTP API, generated from `openapi.json` (`npm run sdk:generate`).
export {
  createPopoClient,
  type DatasetSource,
  type DownloadOptions,
  type DownloadResult,
  type PopoClient,
  type PopoClientOptions,
} from './client.js';
export { PopoApiError, PopoConnectionError, PopoTimeoutError, type PopoErrorDetail } from './errors.js';
export * from './types.js';
export type { WaitOptions } from './wait.js';
export type { MetricStream, StreamOptions } from './stream.js';
export type { components, operations, paths } from './generated/schema.js';
export { checkGates, gateValue, parseGate, type GateResult, type QualityGate } from './gate.js';
