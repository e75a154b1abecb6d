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
      `Unsupported location scheme "${scheme[1]}://" in ${redactForMessage(text)}: use postgresql://user:password@host:port/database or a PGlite directory path.`,
    );
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConnectionError('INVALID_LOCATION', `Malformed PostgreSQL URL ${redactForMessage(text)}: expected postgresql://user:password@host:port/database (percent-encode / # ? and % in a password: %2F %23 %3F %25).`);
  }
  if (url.hostname === '' && !url.searchParams.has('host')) {
    throw new ConnectionError('INVALID_LOCATION', `Malformed PostgreSQL URL ${redactForMessage(text)}: it names no host (postgresql://user:password@host:port/database).`);
  }
  if (url.port !== '' && !/^\d+$/.test(url.port)) {
    throw new ConnectionError('INVALID_LOCATION', `Malformed PostgreSQL URL ${redactForMessage(text)}: the port must be a number.`);
  }
  if (/:$/.test(authorityOf(text).hostPort)) {
    // `postgresql://u:?secret@host/db` parses as host `u` with an empty port and a query: a
    // password starting with ? # or / (the rest would be sent to a wrong host, or as options).
    throw new ConnectionError('INVALID_LOCATION', `Malformed PostgreSQL URL ${redactForMessage(text)}: the port after "host:" is empty (a password holding / # or ? must be percent-encoded: %2F %23 %3F).`);
  }
  if (url.pathname.includes('@')) {
    // `postgresql://u:p@ss/w0rd@host/db` parses as host `ss` and database `w0rd@host/db`: a raw
    // / or # in a password ends the host part early (postgres.js would then try yet another host).
    throw new ConnectionError('INVALID_LOCATION', `Malformed PostgreSQL URL ${redactForMessage(text)}: the host part ends at a / in the password (a password holding / # or ? must be percent-encoded: %2F %23 %3F).`);
  }
  if (!decodes(url.username) || !decodes(url.password)) {
    // postgres.js decodeURIComponent()s both and would throw a bare "URI malformed".
    throw new ConnectionError('INVALID_LOCATION', `Malformed PostgreSQL URL ${redactForMessage(text)}: a % in the user or password must start a percent-encoded byte (write a literal % as %25).`);
  }
  return { engine: 'postgres', url: normaliseUserinfo(text, url), display: redactUrl(text) };
}

function decodes(component: string): boolean {
  try {
    decodeURIComponent(component);
    return true;
  } catch {
    return false;
  }
}

/**
 * The URL handed to the driver, with its userinfo as the URL parser read it (percent-encoded).
 * The WHATWG parser (and iovalkey, and postgres.js's password) ends the userinfo at the LAST `@`
 * of the authority, so `u:p@ss@host` is the password `p@ss`; but postgres.js finds the host
 * after the FIRST `@` (its multi-host split), and a password holding `@` and `,` then sends part
 * of the password as a host name. Re-encoding the userinfo (`u:p%40ss@host`) leaves one `@`.
 */
function normaliseUserinfo(text: string, url: URL): string {
  const { head, rest, at } = authorityOf(text);
  if (at < 0) return text;
  return `${head}${url.username}${url.password !== '' || rest.slice(0, at).includes(':') ? `:${url.password}` : ''}@${rest.slice(at + 1)}`;
}

/** The authority as the URL parser reads it: up to the first / ? or #, userinfo to its last @. */
function authorityOf(text: string): { head: string; rest: string; at: number; hostPort: string } {
  const head = SCHEME.exec(text)![0];
  const rest = text.slice(head.length);
  const end = rest.search(/[/?#]/);
  const authority = end < 0 ? rest : rest.slice(0, end);
  const at = authority.lastIndexOf('@');
  return { head, rest, at, hostPort: authority.slice(at + 1) };
}

function expandHome(path: string): string {
  if (path === '~') return homedir();
  if (path.startsWith('~/')) return join(homedir(), path.slice(2));
  return isAbsolute(path) ? path : path;
}

const SCHEME = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//;

/**
 * Query parameters that carry a secret: libpq's `password` and `sslpassword` (postgres.js sends
 * any parameter on), Redis URLs' `password`. The value runs to the END of the URL: a raw `&` or
 * `#` in a password would otherwise end it early, and the rest would show.
 */
const SECRET_PARAM = /([?&;][a-z_]*password=)/i;

/**
 * `postgresql://mosaic:secret@host/db` -> `postgresql://mosaic:***@host/db`, for a string that
 * is one URL (what an operator typed; malformed too, because malformed input is exactly what
 * error messages quote, so this is not the URL parser).
 *
 * The password is everything between the first `:` after `scheme://` and the LAST `@` of the
 * string. Drivers end the userinfo at the last `@` of the authority (WHATWG URL, which
 * postgres.js and iovalkey use; libpq stops at the first `@`, so it cannot take a raw `@` at
 * all); an operator's raw password may also hold `/`, `?` or `#`, which end the authority for
 * the parser (then the URL is malformed, or worse parses as host `u`, port `12`, database
 * `ss@host`). Ending at the last `@` of the whole string covers every reading: it can only hide
 * more (a URL whose database or query holds an `@` shows as `scheme://user:***@` and what
 * follows that `@`), never less. A user name ends at the first `:` for every parser.
 */
export function redactUrl(text: string): string {
  // Two spans may hold a secret: the userinfo's password and a password= parameter's value.
  // Each is found on the text as typed, and their union is masked (a raw `@` inside a password=
  // value would otherwise be taken for the end of the userinfo, and the reverse).
  const spans: [number, number][] = [];
  const scheme = SCHEME.exec(text);
  if (scheme) {
    const at = text.lastIndexOf('@');
    const colon = text.indexOf(':', scheme[0].length);
    if (at >= scheme[0].length && colon >= 0 && colon < at) spans.push([colon + 1, at]);
  }
  const param = SECRET_PARAM.exec(text);
  if (param) spans.push([param.index + param[1]!.length, text.length]);
  if (spans.length === 0) return text;
  spans.sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const span of spans) {
    const prev = merged[merged.length - 1];
    if (prev && span[0] <= prev[1]) prev[1] = Math.max(prev[1], span[1]);
    else merged.push([...span]);
  }
  let out = '';
  let last = 0;
  for (const [from, to] of merged) {
    out += `${text.slice(last, from)}***`;
    last = to;
  }
  return out + text.slice(last);
}

/**
 * `redactUrl`, then without the query: error messages quote where, not how (a query can carry
 * more than a password: sslkey paths, options).
 */
export function redactForMessage(text: string): string {
  const redacted = redactUrl(text);
  const scheme = SCHEME.exec(redacted);
  if (!scheme) return redacted;
  const afterCredentials = redacted.lastIndexOf('@') + 1 || scheme[0].length;
  const query = redacted.slice(afterCredentials).search(/[?#]/);
  return query < 0 ? redacted : redacted.slice(0, afterCredentials + query);
}

/** `scheme://` anywhere in free text. */
const URL_START = /[a-zA-Z][a-zA-Z0-9+.-]*:\/\//g;

/**
 * Redacts every URL with credentials inside free text (a last line of defence: messages are
 * built from redacted locations; this catches a driver or library quoting one). A URL runs from
 * its `scheme://` to the next URL after whitespace, or the end of the line: a raw password may hold spaces and
 * quotes, so neither ends it. Within that, as in `redactUrl`, the password runs to the last `@`
 * (so an `@` later on the line hides more of it). Outside URLs, `password=` values (a libpq
 * keyword/value string) run to `&`, the line's end or an unescaped `"`. JSON is redacted value
 * by value (`redactJson`), not as one line of text.
 */
export function redactText(text: string): string {
  let out = '';
  let last = 0;
  for (const match of text.matchAll(URL_START)) {
    const start = match.index;
    if (start < last) continue;
    out += text.slice(last, start);
    // Another URL starts only after whitespace: `?password=ab://cd` is still this URL's password.
    const next = text.slice(start + match[0].length).search(/\s[a-zA-Z][a-zA-Z0-9+.-]*:\/\/|\n/);
    const end = next < 0 ? text.length : start + match[0].length + next;
    out += redactUrl(text.slice(start, end));
    last = end;
  }
  out += text.slice(last);
  return out.replace(/((?:^|[^a-z_])[a-z_]*password=)(?!\*\*\*)(?:[^&\n"\\]|\\.)*/gim, '$1***');
}
