/** Host-side bookkeeping over groups of G consecutive sequences (one group per prompt). */
export interface GroupCounts {
  numSequences: number;
  numGroups: number;
  numPositive: number;
  /** Groups whose every completion failed: they carry no POPO signal but count toward the batch. */
  zeroPositiveGroups: number;
  zeroPositiveFraction: number;
  groupsWithPositives: number;
  /** Mean |S+| over the groups that have at least one positive (0 when none has). */
  meanPositiveSetSize: number;
  /** |S+| of each group. */
  positivesPerGroup: number[];
}

export function groupCounts(positive: readonly number[], groupSize: number): GroupCounts {
  const numGroups = positive.length / groupSize;
  const positivesPerGroup: number[] = [];
  for (let g = 0; g < numGroups; g++) {
    let k = 0;
    for (let i = 0; i < groupSize; i++) k += positive[g * groupSize + i];
    positivesPerGroup.push(k);
  }
  const numPositive = positivesPerGroup.reduce((a, k) => a + k, 0);
  const groupsWithPositives = positivesPerGroup.filter((k) => k > 0).length;
  const zeroPositiveGroups = numGroups - groupsWithPositives;
  return {
    numSequences: positive.length,
    numGroups,
    numPositive,
    zeroPositiveGroups,
    zeroPositiveFraction: numGroups > 0 ? zeroPositiveGroups / numGroups : 0,
    groupsWithPositives,
    meanPositiveSetSize: groupsWithPositives > 0 ? numPositive / groupsWithPositives : 0,
    positivesPerGroup,
  };
}
