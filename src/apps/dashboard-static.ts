import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { Express } from 'express';
import type { AppConfig } from '../config/index.js';
import { packageRoot } from './package-root.js';

/** Where `npm run build` puts the dashboard (client/dashboard/vite.config.ts writes there). */
export function dashboardDir(config: AppConfig): string | undefined {
  if (config.dashboardDir) return config.dashboardDir;
  const root = packageRoot();
  return root ? join(root, 'dist', 'dashboard') : undefined;
}

/**
 * Serves the built dashboard at `/`. express.static only answers for files that exist in the bundle
 * (index.html, assets/…), so /v1, /docs and /socket.io fall through to their handlers. The dashboard routes
 * with the URL hash, so no catch-all is needed. Vite's asset names carry a content hash: cached for a year;
 * index.html is revalidated so a new build shows at the next load.
 */
export function serveDashboard(app: NestExpressApplication, config: AppConfig): void {
  const dir = dashboardDir(config);
  if (dir && existsSync(join(dir, 'index.html'))) {
    app.useStaticAssets(dir, {
      index: 'index.html',
      redirect: false,
      setHeaders: (res, path) => {
        res.setHeader(
          'cache-control',
          /[\\/]assets[\\/]/.test(path) ? 'public, max-age=31536000, immutable' : 'no-cache',
        );
      },
    });
    return;
  }
  (app.getHttpAdapter().getInstance() as Express).get('/', (_req, res) => {
    res.status(404).json({
      error: {
        code: 'not_found',
        message: `the dashboard is not built (${dir ?? 'no package folder'}): run npm run build`,
      },
    });
  });
}
