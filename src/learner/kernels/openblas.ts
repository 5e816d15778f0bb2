import { existsSync } from 'node:fs';
import koffi, { type LibraryHandle } from 'koffi';

/**
 * OpenBLAS loaded at run time through koffi (FFI with prebuilt binaries inside the npm package), so the project
 * needs no compiler and runs without it. Debian's `libopenblas0-pthread` installs the library under
 * `openblas-pthread/` and points `libopenblas.so.0` at it through update-alternatives; both places are tried, plus
 * whatever the dynamic loader finds.
 */

export const OPENBLAS_INSTALL_HINT =
  'install OpenBLAS for the native fast path (several times faster): `apt-get install libopenblas0-pthread` ' +
  '(Debian/Ubuntu), then restart';

const CBLAS_ROW_MAJOR = 101;
const CBLAS_NO_TRANS = 111;
const CBLAS_TRANS = 112;

export interface OpenBlas {
  /** Path or soname that loaded. */
  library: string;
  /** `openblas_get_config()`, e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Zen MAX_THREADS=64". */
  config: string;
  /** Threads OpenBLAS would use at most (its default: the machine's cores, or OPENBLAS_NUM_THREADS). */
  maxThreads: number;
  /**
   * Row-major C[m,n] = op(A)·op(B) (beta 0: C is only written) where A, B, C are raw addresses. lda/ldb/ldc are
   * the row strides of the stored matrices.
   */
  sgemm(
    transA: boolean,
    transB: boolean,
    m: number,
    n: number,
    k: number,
    a: number,
    lda: number,
    b: number,
    ldb: number,
    beta: number,
    c: number,
    ldc: number,
  ): void;
  setThreads(n: number): void;
  /** Native address of an ArrayBuffer's first byte (e.g. the wasm heap), as a JS number. */
  addressOf(buf: ArrayBuffer): number;
}

function candidates(): string[] {
  const env = process.env.POPO_OPENBLAS;
  const dirs = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib'];
  const files = dirs.flatMap((d) => [
    `${d}/openblas-pthread/libopenblas.so.0`,
    `${d}/libopenblas.so.0`,
    `${d}/openblas-openmp/libopenblas.so.0`,
  ]);
  return [...(env ? [env] : []), ...files.filter((f) => existsSync(f)), 'libopenblas.so.0'];
}

let loaded: { blas?: OpenBlas; reason?: string } | undefined;

/** Load OpenBLAS once; `reason` says why it is unavailable. POPO_BLAS=0 turns it off. */
export function loadOpenBlas(): { blas?: OpenBlas; reason?: string } {
  loaded ??= tryLoad();
  return loaded;
}

function tryLoad(): { blas?: OpenBlas; reason?: string } {
  if (process.env.POPO_BLAS === '0') return { reason: 'turned off by POPO_BLAS=0' };
  const errors: string[] = [];
  for (const path of candidates()) {
    let lib: LibraryHandle;
    try {
      lib = koffi.load(path);
    } catch (err) {
      errors.push(`${path}: ${(err as Error).message.split('\n')[0]}`);
      continue;
    }
    try {
      return { blas: bind(lib, path) };
    } catch (err) {
      errors.push(`${path}: ${(err as Error).message.split('\n')[0]}`);
      lib.unload();
    }
  }
  return { reason: `libopenblas.so.0 not found; ${OPENBLAS_INSTALL_HINT}` };
}

function bind(lib: LibraryHandle, library: string): OpenBlas {
  // Addresses travel as uintptr_t numbers: no typed-array wrapping per call, and wasm heap offsets add directly.
  const sgemm = lib.func(
    'void cblas_sgemm(int order, int transA, int transB, int m, int n, int k, float alpha, uintptr_t a, int lda, ' +
      'uintptr_t b, int ldb, float beta, uintptr_t c, int ldc)',
  );
  const setNum = lib.func('void openblas_set_num_threads(int n)');
  const getNum = lib.func('int openblas_get_num_threads()');
  const getConfig = lib.func('const char *openblas_get_config()');
  // memmove(p, p, 0) returns p: koffi hands the ArrayBuffer's own backing store to C (no copy), so this yields the
  // buffer's native address.
  const memmove = koffi.load('libc.so.6').func('void *memmove(void *d, const void *s, size_t n)');
  const maxThreads = getNum() as number;
  let current = maxThreads;
  return {
    library,
    config: String(getConfig()).trim(),
    maxThreads,
    sgemm(transA, transB, m, n, k, a, lda, b, ldb, beta, c, ldc) {
      sgemm(
        CBLAS_ROW_MAJOR,
        transA ? CBLAS_TRANS : CBLAS_NO_TRANS,
        transB ? CBLAS_TRANS : CBLAS_NO_TRANS,
        m,
        n,
        k,
        1,
        a,
        lda,
        b,
        ldb,
        beta,
        c,
        ldc,
      );
    },
    setThreads(n) {
      if (n === current) return;
      setNum(n);
      current = n;
    },
    addressOf(buf) {
      return Number(koffi.address(memmove(buf, buf, 0)));
    },
  };
}
