// Lets `node --import ./bench/register.mjs file.ts` run TypeScript with decorator metadata (SWC).
import { register } from 'node:module';
import { pathToFileURL } from 'node:url';
register('@swc-node/register/esm', pathToFileURL('./'));
