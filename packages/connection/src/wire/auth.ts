import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * The password exchanges PostgreSQL asks a client for (the same three postgres.js answers):
 * cleartext, MD5, and SCRAM-SHA-256 (RFC 5802 / 7677, without channel binding: the wire reader
 * runs only on connections without TLS). Pure functions: the reader sends what they return.
 */

/** `md5` + md5(md5(password + user) + salt), as the server computes it. */
export function md5Password(user: string, password: string, salt: Uint8Array): string {
  const inner = createHash('md5').update(password + user).digest('hex');
  return `md5${createHash('md5').update(inner).update(salt).digest('hex')}`;
}

const hmac = (key: Uint8Array, text: string) => createHmac('sha256', key).update(text).digest();

export interface ScramClient {
  /** The SASLInitialResponse's data. */
  readonly first: string;
  /** The SASLResponse's data for the server's first message; throws when the server's nonce is not ours. */
  final(serverFirst: string): string;
  /** Checks the server's signature (it knows the password too); throws when it does not match. */
  verify(serverFinal: string): void;
}

/**
 * The client side of SCRAM-SHA-256. PostgreSQL takes the user from the startup packet, so the
 * SCRAM user name is empty, as libpq sends it (`user` and `nonce` are for RFC 7677's test vector).
 */
export function scramSha256(password: string, nonce = randomBytes(18).toString('base64'), user = ''): ScramClient {
  const firstBare = `n=${user},r=${nonce}`;
  let expected: Buffer | undefined;
  return {
    first: `n,,${firstBare}`,
    final(serverFirst) {
      const fields = Object.fromEntries(serverFirst.split(',').map((f) => [f[0], f.slice(2)]));
      const serverNonce = fields['r'] ?? '';
      if (!serverNonce.startsWith(nonce) || !fields['s'] || !fields['i']) throw new Error('the server sent a malformed SCRAM challenge');
      const salted = pbkdf2Sync(password, Buffer.from(fields['s'], 'base64'), Number(fields['i']), 32, 'sha256');
      const clientKey = hmac(salted, 'Client Key');
      const storedKey = createHash('sha256').update(clientKey).digest();
      const withoutProof = `c=biws,r=${serverNonce}`;
      const authMessage = `${firstBare},${serverFirst},${withoutProof}`;
      const signature = hmac(storedKey, authMessage);
      const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i]!));
      expected = hmac(hmac(salted, 'Server Key'), authMessage);
      return `${withoutProof},p=${proof.toString('base64')}`;
    },
    verify(serverFinal) {
      const given = Buffer.from(/(?:^|,)v=([^,]*)/.exec(serverFinal)?.[1] ?? '', 'base64');
      if (!expected || given.length !== expected.length || !timingSafeEqual(given, expected)) throw new Error('the server could not prove it knows the password (SCRAM signature mismatch)');
    },
  };
}
