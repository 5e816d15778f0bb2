import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './app-config.js';

describe('loadConfig', () => {
  it('applies defaults and parses numbers from the environment', () => {
    const c = loadConfig({
      PORT: '8080',
      MAX_DATASET_BYTES: '2048',
      POPO_DATA_DIR: '/var/popo',
      UNRELATED: 'x',
    });
    expect(c.port).toBe(8080);
    expect(c.limits.datasetBytes).toBe(2048);
    expect(c.modelRoots).toEqual(['/var/popo/models']);
    expect(c.redisPrefix).toBe('popo');
    expect(c.migrationsRun).toBe(true);
    expect(c.databaseUrl).toBeUndefined();
  });

  it('treats empty strings as unset and MIGRATIONS_RUN=false as false', () => {
    const c = loadConfig({ DATABASE_URL: '', REDIS_URL: '', MIGRATIONS_RUN: 'false' });
    expect(c.databaseUrl).toBeUndefined();
    expect(c.redisUrl).toBeUndefined();
    expect(c.migrationsRun).toBe(false);
  });

  it('names every bad variable and why', () => {
    try {
      loadConfig({ PORT: 'eighty', DATABASE_URL: 'mysql://x', POPO_ADMIN_KEY: 'short', POPO_MODE: 'train' });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      const fields = (e as ConfigError).problems.map((p) => p.field);
      expect(fields).toEqual(expect.arrayContaining(['PORT', 'DATABASE_URL', 'POPO_ADMIN_KEY', 'POPO_MODE']));
      expect((e as ConfigError).message).toMatch(/DATABASE_URL must be a postgres:\/\/ URL/);
      expect((e as ConfigError).message).toMatch(/POPO_ADMIN_KEY must be at least 16 characters/);
    }
  });
});
