/** What went wrong while building, loading or saving a model; `code` is stable for callers to branch on. */
export type ModelErrorCode =
  | 'invalid_config'
  | 'unsupported_architecture'
  | 'missing_file'
  | 'missing_tensor'
  | 'shape_mismatch'
  | 'corrupt_safetensors'
  | 'unsupported_dtype'
  | 'out_of_memory';

export class ModelError extends Error {
  constructor(
    readonly code: ModelErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ModelError';
  }
}
