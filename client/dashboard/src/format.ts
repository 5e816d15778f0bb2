export function ago(iso: string | null | undefined): string {
  if (!iso) return '—';
  const s = (Date.now() - new Date(iso).getTime()) / 1000;
  if (s < 60) return `${Math.max(0, Math.round(s))} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return new Date(iso).toLocaleDateString();
}

export const dateTime = (iso: string | null | undefined) => (iso ? new Date(iso).toLocaleString() : '—');

export function duration(from: string | null, to: string | null): string {
  if (!from) return '—';
  const s = ((to ? new Date(to) : new Date()).getTime() - new Date(from).getTime()) / 1000;
  if (s < 60) return `${s.toFixed(0)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
}

export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  const i = Math.min(units.length - 1, n > 0 ? Math.floor(Math.log(n) / Math.log(1024)) : 0);
  return `${(n / 1024 ** i).toFixed(i ? 1 : 0)} ${units[i]}`;
}

export const shortId = (id: string | null | undefined) => (id ? id.slice(0, 8) : '—');

export const num = (v: unknown) =>
  typeof v === 'number' ? (Number.isInteger(v) ? String(v) : String(+v.toPrecision(4))) : String(v ?? '—');
