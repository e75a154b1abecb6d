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
    expect(redactUrl('postgresql://h/d?user=u&password=x&sslmode=require')).toBe('postgresql://h/d?user=u&password=***&sslmode=require');
  });

  it('masks every credentialed URL inside free text', () => {
    expect(redactText('could not reach postgres://a:b@h1/x or redis://:c@h2:6379')).toBe('could not reach postgres://a:***@h1/x or redis://:***@h2:6379');
  });
});
