// Development tools only (benchmarks, sdk:generate, the TypeORM CLI, test fixtures): lets
// `node --import ./scripts/register-ts.mjs file.ts` run TypeScript with decorator metadata (SWC). The product runs
// compiled (npm run build → dist/) and never needs it.
import { register } from 'node:module';
import { pathToFileURL } from 'node:url';
register('@swc-node/register/esm', pathToFileURL('./'));
