/** BullMQ's priority range: 1 is the highest, 2^21 - 1 the lowest; 0 would mean "unprioritised" and jump ahead. */
export const MAX_BULL_PRIORITY = 2 ** 21 - 1;

/**
 * Maps our priority (lower runs first, any integer) onto BullMQ's. Every job gets a real priority so ordering is
 * consistent; out-of-range values are clamped rather than rejected because the API validates the user's range.
 */
export function toBullPriority(priority: number): number {
  if (!Number.isFinite(priority)) throw new Error(`priority must be a finite number, got ${priority}`);
  return Math.min(MAX_BULL_PRIORITY, Math.max(1, Math.round(priority) + 1));
}
