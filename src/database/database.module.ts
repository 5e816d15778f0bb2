import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AppConfig } from '../config/index.js';
import { dataSourceOptions } from './options.js';

/** The app's TypeORM connection. Migrations are not run here: bootstrap runs them first, under the advisory lock. */
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig) => {
        if (!config.databaseUrl)
          throw new Error('DATABASE_URL is not set (embedded mode sets it after starting its own Postgres)');
        return {
          ...dataSourceOptions({
            url: config.databaseUrl,
            poolSize: config.dbPoolSize,
            connectTimeoutMs: config.dbConnectTimeoutMs,
          }),
          retryAttempts: 3,
          retryDelay: 1000,
        };
      },
    }),
  ],
})
export class DatabaseModule {}
