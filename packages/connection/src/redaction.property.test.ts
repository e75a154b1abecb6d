import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  expectNoLeak, passwordArbitrary, placeholderFor, typedPassword, withPassword,
} from '@mosaic/test-harness';
import type { ConnectionError } from './errors.js';
import { parseLocation, redactText, redactUrl } from './location.js';
import { mapPostgresError } from './postgres-js/errors.js';

// Property tests of the pure redaction: hundreds of generated passwords, raw and percent-encoded,
// in generated URLs; every string a location can become (display, each parse error, each mapped
// driver error, free-text redaction) is checked with the leak detector of @mosaic/test-harness.

const password = passwordArbitrary({ minLength: 4, maxLength: 24 });

const word = fc.stringMatching(/^[a-z][a-z0-9_]{0,7}$/);
const host = fc.constantFrom('127.0.0.1', 'db.example.com', 'localhost', '[::1]', 'pg-1.internal');
const port = fc.constantFrom('', ':5432', ':6543');
const query = fc.constantFrom('', '?sslmode=disable', '?application_name=mosaic&connect_timeout=5', '?host=/var/run/postgresql');

/** `postgresql://user@host:port/db?query`, a URL without the password yet. */
const baseUrl = fc.tuple(fc.constantFrom('postgresql', 'postgres'), word, host, port, word, query)
  .map(([scheme, user, h, p, db, q]) => `${scheme}://${user}@${h}${p}/${db}${q}`);

/** Everything a location's text can turn into on its way to an operator. */
function surfaces(url: string): string {
  const out: string[] = [redactUrl(url), redactText(url), redactText(`could not connect to ${url}: refused`)];
  let display = redactUrl(url);
  try {
    display = parseLocation(url).display;
    out.push(display);
  } catch (error) {
    out.push((error as Error).message, String((error as ConnectionError).code));
  }
  // Every code mapPostgresError can produce for this location.
  for (const code of ['28P01', '3D000', 'ECONNREFUSED', 'ENOTFOUND', 'CONNECT_TIMEOUT', 'ECONNRESET', '42P01', 'XXXXX']) {
    out.push(mapPostgresError(Object.assign(new Error('driver says no'), { code }), display).message);
  }
  return out.join('\n');
}

function check(base: string, pw: string, encoded: boolean, shape: (typed: string) => string = (t) => withPassword(base, t)): void {
  const typed = typedPassword(pw, encoded);
  const real = surfaces(shape(typed));
  const placeholder = surfaces(shape(typedPassword(placeholderFor(pw), encoded)));
  expectNoLeak(shape(typed), real, placeholder, [typed, pw]);
}

describe('redaction property: no password ever leaks', () => {
  it('from the userinfo of a PostgreSQL URL, raw or percent-encoded', () => {
    fc.assert(fc.property(baseUrl, password, fc.boolean(), (base, pw, encoded) => check(base, pw, encoded)), { numRuns: 500 });
  });

  it('from a password= query parameter', () => {
    fc.assert(fc.property(baseUrl, password, fc.boolean(), (base, pw, encoded) =>
      check(base, pw, encoded, (typed) => `${base}${base.includes('?') ? '&' : '?'}password=${typed}`)), { numRuns: 300 });
  });

  it('from a Redis/Valkey URL (`redis://:password@host` and `redis://user:password@host`)', () => {
    const redis = fc.tuple(fc.constantFrom('redis', 'rediss', 'valkey'), fc.option(word, { nil: undefined }), host, port)
      .map(([scheme, user, h, p]) => (user ? `${scheme}://${user}@${h}${p}` : `${scheme}://${h}${p}`));
    fc.assert(fc.property(redis, password, fc.boolean(), (base, pw, encoded) => {
      const typed = typedPassword(pw, encoded);
      const show = (url: string) => [redactUrl(url), redactText(`Valkey at ${url} is down`)].join('\n');
      expectNoLeak(base, show(withPassword(base, typed)), show(withPassword(base, typedPassword(placeholderFor(pw), encoded))), [typed, pw]);
    }), { numRuns: 300 });
  });

  it('keeps what is not secret', () => {
    expect(redactUrl('postgresql://u:p@ss@host:5433/db')).toBe('postgresql://u:***@host:5433/db');
    expect(redactUrl('postgresql://u:pa/ss#x?y@host/db?sslmode=disable')).toBe('postgresql://u:***@host/db?sslmode=disable');
  });
});
