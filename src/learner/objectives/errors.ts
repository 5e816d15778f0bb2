/** Bad input to a loss function: names the offending field so a caller can map it to its own config/DTO field. */
export class ObjectiveInputError extends Error {
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
    this.name = 'ObjectiveInputError';
  }
}
