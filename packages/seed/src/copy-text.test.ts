import { describe, expect, it } from 'vitest';
import { arrayLiteral, byteaHex, copyField, copyLine, timestamp } from './copy-text.js';
import { Rng } from './random.js';

describe('COPY text encoding', () => {
  it('escapes backslash, tab, newline and carriage return, and writes NULL as \\N', () => {
    expect(copyField('a\tb\nc\rd\\e')).toBe('a\\tb\\nc\\rd\\\\e');
    expect(copyField('\\N')).toBe('\\\\N');
    expect(copyField(null)).toBe('\\N');
    expect(copyLine(['x', null, ''])).toBe('x\t\\N\t\n');
  });

  it('quotes every array element so commas, quotes, braces and the word NULL survive', () => {
    expect(arrayLiteral(['a,b', null, 'q"u', 'b\\s', 'NULL', ''])).toBe('{"a,b",NULL,"q\\"u","b\\\\s","NULL",""}');
  });

  it('writes bytea as hex and timestamps with all six fractional digits in UTC', () => {
    expect(byteaHex(Uint8Array.from([0, 255, 16]))).toBe('\\x00ff10');
    expect(timestamp(1_704_067_200_000_001)).toBe('2024-01-01 00:00:00.000001+00');
    expect(timestamp(1_704_067_261_999_999)).toBe('2024-01-01 00:01:01.999999+00');
  });
});

describe('Rng', () => {
  it('is deterministic for a seed and differs between seeds', () => {
    const a = new Rng(7);
    const b = new Rng(7);
    const c = new Rng(8);
    const seq = (r: Rng) => Array.from({ length: 5 }, () => r.next());
    const first = seq(a);
    expect(seq(b)).toEqual(first);
    expect(seq(c)).not.toEqual(first);
  });

  it('makes version-4 shaped uuids', () => {
    const r = new Rng(1);
    for (let i = 0; i < 100; i++) expect(r.uuid()).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
