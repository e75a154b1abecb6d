import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { ConnectionError } from './errors.js';

export type Engine = 'pglite' | 'postgres';

/** Where a Mosaic store lives: a PostgreSQL URL or a PGlite data directory. */
export type Location =
  | { readonly engine: 'postgres'; readonly url: string; readonly display: string }
  | { readonly engine: 'pglite'; readonly dir: string; readonly display: string };

const POSTGRES_SCHEMES = new Set(['postgres:', 'postgresql:']);

/**
 * Parses what an operator typed: `postgres://` / `postgresql://` URLs are PostgreSQL,
 * any other `scheme://` is refused, anything else is a PGlite directory path.
 */
export function parseLocation(input: string): Location {
  const text = input.trim();
  if (text === '') {
    throw new ConnectionError('INVALID_LOCATION', 'No location given: pass a postgresql:// URL or a PGlite directory path.');
  }
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(text);
  if (!scheme) {
    const dir = resolve(expandHome(text));
    return { engine: 'pglite', dir, display: dir };
  }
  const protocol = `${scheme[1]!.toLowerCase()}:`;
  if (!POSTGRES_SCHEMES.has(protocol)) {
    throw new ConnectionError(
      'UNSUPPORTED_SCHEME',
      `Unsupported location scheme "${scheme[1]}://" in ${redactUrl(text)}: use postgresql://user:password@host:port/database or a PGlite directory path.`,
    );
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConnectionError('INVALID_LOCATION', `Malformed PostgreSQL URL ${redactUrl(text)}: expected postgresql://user:password@host:port/database.`);
  }
  if (url.hostname === '' && !url.searchParams.has('host')) {
    throw new ConnectionError('INVALID_LOCATION', `Malformed PostgreSQL URL ${redactUrl(text)}: it names no host (postgresql://user:password@host:port/database).`);
  }
  if (url.port !== '' && !/^\d+$/.test(url.port)) {
    throw new ConnectionError('INVALID_LOCATION', `Malformed PostgreSQL URL ${redactUrl(text)}: the port must be a number.`);
  }
  return { engine: 'postgres', url: text, display: redactUrl(text) };
}

function expandHome(path: string): string {
  if (path === '~') return homedir();
  if (path.startsWith('~/')) return join(homedir(), path.slice(2));
  return isAbsolute(path) ? path : path;
}

/**
 * `postgresql://mosaic:secret@host/db` -> `postgresql://mosaic:***@host/db`. Also masks
 * `password=` query parameters. Works on malformed URLs too (a regex, not the URL parser),
 * because malformed input is exactly what error messages quote.
 */
export function redactUrl(text: string): string {
  return text
    .replace(/^([a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^:/?#@]*):[^@/?#]*@/, '$1:***@')
    .replace(/([?&]password=)[^&#]*/gi, '$1***');
}

/**
 * Redacts every URL with credentials inside free text (driver messages quote them).
 */
export function redactText(text: string): string {
  return text
    .replace(/([a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^:/?#@\s]*):[^@\s]*@/g, '$1:***@')
    .replace(/(password=)[^&#\s]*/gi, '$1***');
}
