import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

/** Debian's chromium (`.ci/run` installs it); CHROMIUM_PATH overrides. */
export function findChromium(): string | undefined {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'];
  return candidates.find((p): p is string => !!p && existsSync(p));
}

/**
 * Why the browser tests cannot run here, or undefined when they can. In CI a missing chromium is a failure
 * unless `.ci/run` could not install it (it then sets POPO_NO_CHROMIUM with the reason).
 */
export function browserUnavailable(): string | undefined {
  const path = findChromium();
  if (!path) return 'chromium is not installed (apt-get install -y chromium; or set CHROMIUM_PATH)';
  try {
    execFileSync(path, ['--version'], { stdio: 'ignore', timeout: 30_000 });
  } catch (e) {
    return `chromium at ${path} does not start: ${(e as Error).message}`;
  }
  return undefined;
}

/** A headless chromium with a fresh profile of its own (removed by the caller with `dir`). */
export async function launchChromium(): Promise<{ context: BrowserContext; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'popo-chromium-'));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: findChromium(),
    headless: true,
    viewport: { width: 1440, height: 1000 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return { context, dir };
}
