import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

// SWC (not esbuild) compiles the tests so Nest gets decorator metadata.
export default defineConfig({
  plugins: [swc.vite({ module: { type: 'es6' } })],
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // Builds dist/ when stale: tests spawn the compiled CLI, worker and embedded mode, as users run them.
    globalSetup: ['test/global-setup.ts'],
    pool: 'forks',
    // Test files run side by side on few cores: one BLAS thread each (more would wait on each other), and the same
    // numbers on every run (OpenBLAS rounds differently with 1 and 2 threads).
    env: { POPO_BLAS_THREADS: '1' },
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ['default'],
  },
});
