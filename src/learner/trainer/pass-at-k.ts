/** Unbiased pass@k (Chen et al., 2021): 1 − C(n−c, k)/C(n, k), computed as a stable product. */
export function passAtK(n: number, c: number, k: number): number {
  if (k > n) throw new RangeError(`pass@k needs k <= n (k=${k}, n=${n})`);
  if (n - c < k) return 1;
  let miss = 1;
  for (let i = n - c + 1; i <= n; i++) miss *= 1 - k / i;
  return 1 - miss;
}
