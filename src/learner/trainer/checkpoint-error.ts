import { FieldError } from '../field-error.js';

/** A checkpoint that cannot be used as given (not ours, incomplete, another model's shapes): bad input. */
export class CheckpointError extends FieldError {
  constructor(reason: string) {
    super('checkpoint', reason);
    this.message = reason;
  }
}
