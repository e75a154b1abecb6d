import { describe, expect, it } from 'vitest';
import { parseLocation, redactText, redactUrl } from './location.js';

describe('parseLocation', () => {
  it('reads postgres:// and postgresql:// as PostgreSQL, with the password redacted for display', () => {
    expect(parseLocation('postgresql://mosaic:secret@db.example.com:5433/mosaic')).toEqual({
      engine: 'postgres', url: 'postgresql://mosaic:secret@db.example.com:5433/mosaic', display: 'postgresql://mosaic:***@db.example.com:5433/mosaic',
    });
    expect(parseLocation('postgres://db/x').engine).toBe('postgres');
  });

  it('reads anything without a scheme as a PGlite directory, made absolute', () => {
    const loc = parseLocation('relative/store');
    expect(loc.engine).toBe('pglite');
    expect(loc.display).toBe(`${process.cwd()}/relative/store`);
  });

  it.each([
    ['mysql://root:pw@host/db', 'UNSUPPORTED_SCHEME'],
    ['http://host/db', 'UNSUPPORTED_SCHEME'],
    ['postgresql://u:pw@host:notaport/db', 'INVALID_LOCATION'],
    ['postgresql://u:pw@/db', 'INVALID_LOCATION'],
    ['   ', 'INVALID_LOCATION'],
  ])('refuses %s with %s, never quoting the password', (input, code) => {
    let caught: unknown;
    try {
      parseLocation(input);
    } catch (error) {
      caught = error;
    }
    expect(caught).toMatchObject({ code });
    expect((caught as Error).message).not.toContain(':pw@');
  });
});

describe('redaction', () => {
  it('masks the password of a URL and password= parameters', () => {
    expect(redactUrl('postgresql://u:p%40ss@h/d')).toBe('postgresql://u:***@h/d');
    expect(redactUrl('postgresql://u@h/d')).toBe('postgresql://u@h/d');
    // A password= value runs to the end: a raw & or # in it must not end it early.
    expect(redactUrl('postgresql://h/d?user=u&password=x&sslmode=require')).toBe('postgresql://h/d?user=u&password=***');
    expect(redactUrl('postgresql://h/d?sslpassword=x')).toBe('postgresql://h/d?sslpassword=***');
  });

  it('masks every credentialed URL inside free text', () => {
    // A scheme inside a password (query or userinfo) does not start a new URL: nothing of it shows.
    expect(redactText('at postgresql://u@h/db?password=ab://cd end')).not.toMatch(/ab|cd/);
    expect(redactText('at postgresql://u:ab://cd@h/db')).toBe('at postgresql://u:***@h/db');
    expect(redactText('could not reach postgres://a:b@h1/x or redis://:c@h2:6379')).toBe('could not reach postgres://a:***@h1/x or redis://:***@h2:6379');
  });
});

/** The error parseLocation throws for `text` (the test fails if it throws none). */
function refusal(text: string): Error {
  try {
    parseLocation(text);
  } catch (error) {
    return error as Error;
  }
  throw new Error(`parseLocation accepted ${text}`);
}

describe('the URL handed to the driver', () => {
  it('has the userinfo percent-encoded as the URL parser read it (postgres.js splits hosts after the first @)', () => {
    expect(parseLocation('postgresql://u:a@b,c@host/db')).toMatchObject({ url: 'postgresql://u:a%40b,c@host/db' });
    expect(parseLocation('postgresql://u:p%40ss@host/db')).toMatchObject({ url: 'postgresql://u:p%40ss@host/db' });
    expect(parseLocation('postgresql://u@host/db')).toMatchObject({ url: 'postgresql://u@host/db' });
  });

  it('refuses a raw password that starts with ? # or / (the URL parser reads host "u", an empty port, then a query)', () => {
    const caught = refusal('postgresql://postgres:? z  éé@127.0.0.1:5432/db');
    expect(caught).toMatchObject({ code: 'INVALID_LOCATION' });
    expect(caught.message).toBe('Malformed PostgreSQL URL postgresql://postgres:***@127.0.0.1:5432/db: the port after "host:" is empty (a password holding / # or ? must be percent-encoded: %2F %23 %3F).');
  });

  it('refuses a raw / in a password (the URL parser ends the host at it: host "ss", database "w0rd@127.0.0.1:5432/db")', () => {
    const caught = refusal('postgresql://u:p@ss/w0rd@127.0.0.1:5432/db');
    expect(caught).toMatchObject({ code: 'INVALID_LOCATION' });
    expect(caught.message).toBe('Malformed PostgreSQL URL postgresql://u:***@127.0.0.1:5432/db: the host part ends at a / in the password (a password holding / # or ? must be percent-encoded: %2F %23 %3F).');
    expect(parseLocation('postgresql://u:p%40ss%2Fw0rd@127.0.0.1:5432/db')).toMatchObject({ url: 'postgresql://u:p%40ss%2Fw0rd@127.0.0.1:5432/db' });
  });

  it('refuses a password whose % starts no percent-encoded byte (postgres.js would throw "URI malformed")', () => {
    expect(() => parseLocation('postgresql://u:100%zz@host/db')).toThrow(expect.objectContaining({ code: 'INVALID_LOCATION' }));
  });
});
