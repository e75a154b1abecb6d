import { describe, expect, it } from 'vitest';
import { md5Password, scramSha256 } from './auth.js';

describe('password exchanges', () => {
  it('MD5: md5 of the hex md5 of password + user, then the salt (computed independently with Python hashlib)', () => {
    expect(md5Password('mosaic', 'secret', Uint8Array.from([1, 2, 3, 4]))).toBe('md5bd1160dd8e8cf69e07a0f9324f586987');
  });

  it('SCRAM-SHA-256: the exchange of RFC 7677 section 3, proof and server signature', () => {
    const client = scramSha256('pencil', 'rOprNGfwEbeRWgbNEkqO', 'user');
    expect(client.first).toBe('n,,n=user,r=rOprNGfwEbeRWgbNEkqO');
    const serverFirst = 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096';
    expect(client.final(serverFirst)).toBe('c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=');
    expect(() => client.verify('v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=')).not.toThrow();
    expect(() => client.verify('v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=')).toThrow(/signature mismatch/);
  });

  it('SCRAM: a server nonce that does not extend ours is refused', () => {
    expect(() => scramSha256('pencil', 'abc').final('r=xyz123,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096')).toThrow(/malformed SCRAM challenge/);
  });
});
