/**
 * Bad input that can be pinned on one field (a config key, an argument, a path): callers map `field` to their
 * own names (a DTO path, a CLI flag) and show `reason` as is. The learner's input errors all extend it.
 */
export class FieldError extends Error {
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
    this.name = new.target.name;
  }
}
