import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Logger, type LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, type OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { rejectHostileInput } from '../common/hostile-input.js';
import { toErrorBody } from '../common/http-exception.filter.js';
import type { AppConfig } from '../config/index.js';
import { runMigrations } from '../database/migrate.js';
import { requestSchemasForOpenApi } from '../modules/jobs/job-request-schema.js';
import { ApiModule } from './api.module.js';
import { serveDashboard } from './dashboard-static.js';
import { packageRoot } from './package-root.js';
import type { AppModuleOptions } from './app.module.js';

const LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];
export const logLevels = (config: AppConfig): LogLevel[] =>
  LEVELS.slice(0, LEVELS.indexOf(config.logLevel) + 1);

function packageVersion(): string {
  const root = packageRoot();
  if (!root) return '0.0.0';
  return (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
}

export function buildOpenApiDocument(app: NestExpressApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('popo')
    .setDescription(
      'Training-as-a-service for RL of language models with POPO. Errors: `{ "error": { "code", "message", "details"? } }`.',
    )
    .setVersion(packageVersion())
    .addBearerAuth({
      type: 'http',
      scheme: 'bearer',
      description: 'A project API key (or the admin key for /v1/projects).',
    })
    .build();
  const document = SwaggerModule.createDocument(app, config);
  // Request bodies derived from the run spec (zod), referenced by the controllers' @ApiBody.
  document.components = {
    ...document.components,
    schemas: { ...document.components?.schemas, ...requestSchemasForOpenApi() },
  };
  return document;
}

/** Body parsing, docs and the dashboard; shared by the real server, tests and the OpenAPI generator. */
export function configureApiApp(app: NestExpressApplication, config: AppConfig): void {
  // JSON bodies only; JSONL and archives are streamed by their controllers, never buffered here.
  app.useBodyParser('json', { limit: config.limits.jsonBodyBytes });
  // Depth and text checks on every parsed body and query string, before any route sees them.
  app.use(rejectHostileInput());
  // body-parser errors (bad JSON, too large) happen before Nest's filters; render them in the same shape.
  app.use((err: unknown, _req: unknown, res: import('express').Response, next: (e?: unknown) => void) => {
    if (res.headersSent) return next(err);
    const { status, body } = toErrorBody(err);
    res.status(status).json(body);
  });
  const document = buildOpenApiDocument(app);
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs/openapi.json' });
  serveDashboard(app, config);
}

/**
 * Builds the API app: migrations first (under the advisory lock), then Nest. Tests call this with their own
 * config and queue and `listen(0)`.
 */
export async function createApiApp(opts: AppModuleOptions): Promise<NestExpressApplication> {
  const { config } = opts;
  if (config.migrationsRun && config.databaseUrl) {
    const applied = await runMigrations({ url: config.databaseUrl });
    if (applied.length) new Logger('Migrations').log(`applied ${applied.join(', ')}`);
  }
  const app = await NestFactory.create<NestExpressApplication>(ApiModule.forRoot(opts), {
    bodyParser: false,
    logger: logLevels(config),
  });
  configureApiApp(app, config);
  return app;
}

export async function startApi(opts: AppModuleOptions): Promise<NestExpressApplication> {
  const app = await createApiApp(opts);
  app.enableShutdownHooks();
  await app.listen(opts.config.port, opts.config.host);
  new Logger('API').log(`listening on http://${opts.config.host}:${opts.config.port} (docs at /docs)`);
  return app;
}

/** The OpenAPI document without a database: Nest's preview mode builds no providers. */
export async function generateOpenApi(config: AppConfig): Promise<OpenAPIObject> {
  const app = await NestFactory.create<NestExpressApplication>(
    ApiModule.forRoot({
      config,
      queue: { enqueue: async () => {}, remove: async () => {}, close: async () => {} },
    }),
    { preview: true, logger: false, bodyParser: false },
  );
  const doc = buildOpenApiDocument(app);
  await app.close();
  return doc;
}
