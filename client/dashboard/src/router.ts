import { useEffect, useState } from 'preact/hooks';

/** Hash routes (`#/jobs/<id>`): the API serves one index.html and never needs a catch-all route. */
export interface Route {
  path: string[];
  query: URLSearchParams;
}

function parse(): Route {
  const raw = location.hash.replace(/^#\/?/, '');
  const [p, q] = raw.split('?', 2);
  return {
    path: (p ?? '').split('/').filter(Boolean).map(decodeURIComponent),
    query: new URLSearchParams(q ?? ''),
  };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(parse);
  useEffect(() => {
    const on = () => setRoute(parse());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}

export const href = (path: string, query?: Record<string, string | undefined>) => {
  const q = new URLSearchParams(Object.entries(query ?? {}).filter((e): e is [string, string] => !!e[1]));
  const s = q.toString();
  return `#/${path}${s ? `?${s}` : ''}`;
};

export const go = (path: string, query?: Record<string, string | undefined>) => {
  location.hash = href(path, query);
};
