import { FieldError } from '../field-error.js';
/** Bad input to a loss function: names the offending field so a caller can map it to its own config/DTO field. */
export class ObjectiveInputError extends FieldError {}
