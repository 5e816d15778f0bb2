export function isStale(): boolean;
export function build(): void;
export function buildIfStale(): boolean;
