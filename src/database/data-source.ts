import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { loadConfig } from '../config/index.js';
import { dataSourceOptions } from './options.js';

/**
 * For the TypeORM CLI only, e.g.
 *   node --import ./scripts/register-ts.mjs node_modules/typeorm/cli.js migration:generate -d src/database/data-source.ts migrations/Name
 * The app builds its DataSource through DatabaseModule instead.
 */
const config = loadConfig();
if (!config.databaseUrl) throw new Error('DATABASE_URL must be set to use the TypeORM CLI');

export default new DataSource(dataSourceOptions({ url: config.databaseUrl }));
