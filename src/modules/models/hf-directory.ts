import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, sep } from 'node:path';
import { resolveConfig, type ModelConfig } from '../../learner/model/config.js';

export class HfDirectoryError extends Error {}

export interface HfDirectoryInfo {
  /** The directory's real path (symlinks resolved). */
  path: string;
  config: ModelConfig;
  architecture: string | null;
  sizeBytes: number;
}

export function isInside(child: string, parent: string): boolean {
  const rel = relative(parent, child);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

/**
 * Checks that `dir` is an HF-format model the learner can load: config.json parses and names a supported
 * architecture, and safetensors weights are present. Throws HfDirectoryError with a user-facing reason.
 */
export async function inspectHfDirectory(dir: string): Promise<HfDirectoryInfo> {
  const info = await stat(dir).catch(() => undefined);
  if (!info) throw new HfDirectoryError('does not exist');
  if (!info.isDirectory()) throw new HfDirectoryError('is not a directory');
  const entries = await readdir(dir, { withFileTypes: true });
  const names = entries.map((e) => e.name);
  if (!names.includes('config.json')) throw new HfDirectoryError('has no config.json');
  if (!names.some((n) => n.endsWith('.safetensors')))
    throw new HfDirectoryError('has no *.safetensors weights (only safetensors checkpoints can be loaded)');

  let config: unknown;
  try {
    config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
  } catch (e) {
    throw new HfDirectoryError(`has an unreadable config.json (${(e as Error).message})`);
  }
  if (typeof config !== 'object' || config === null || Array.isArray(config))
    throw new HfDirectoryError('has a config.json that is not a JSON object');
  try {
    resolveConfig(config as ModelConfig);
  } catch (e) {
    throw new HfDirectoryError(`has an unsupported config.json: ${(e as Error).message}`);
  }
  const cfg = config as ModelConfig;
  let sizeBytes = 0;
  for (const e of entries) if (e.isFile()) sizeBytes += (await stat(join(dir, e.name))).size;
  return {
    path: await realpath(dir),
    config: cfg,
    architecture: cfg.architectures?.[0] ?? cfg.model_type ?? null,
    sizeBytes,
  };
}
