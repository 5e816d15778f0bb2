/**
 * The type of jsonb object columns. `any` rather than `unknown` on purpose: TypeORM's QueryDeepPartialEntity
 * (used by insert/update) cannot map `unknown` members, so Record<string, unknown> columns fail to typecheck.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type JsonObject = Record<string, any>;
