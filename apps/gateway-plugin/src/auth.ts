import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Queryable } from '@mosaic/connection';

/** sha256 hex of a token: what admin_tokens.token_hash stores. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/**
 * `Authorization: Bearer <token>` checked against admin_tokens.token_hash in the gateway's own
 * store: the token is hashed, the stored hash compared in constant time, expired tokens refused.
 * The token itself is never logged, stored or echoed.
 */
export function bearerAuth(store: Pick<Queryable, 'query'>) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const header = request.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) {
      await reply.code(401).header('WWW-Authenticate', 'Bearer').send({ error: 'Unauthorized', message: 'Send Authorization: Bearer <admin token>.' });
      return;
    }
    const presented = hashToken(match[1]!);
    const [row] = await store.query<{ token_hash: string; expired: boolean }>(
      'select token_hash, (expires_at is not null and expires_at <= now()) as expired from admin_tokens where token_hash = $1',
      [presented],
    );
    const valid = row !== undefined && timingSafeEqual(Buffer.from(row.token_hash, 'utf8'), Buffer.from(presented, 'utf8'));
    if (!valid) {
      await reply.code(401).header('WWW-Authenticate', 'Bearer error="invalid_token"').send({ error: 'Unauthorized', message: 'Unknown admin token.' });
      return;
    }
    if (row.expired) {
      await reply.code(401).header('WWW-Authenticate', 'Bearer error="invalid_token"').send({ error: 'Unauthorized', message: 'This admin token has expired: issue a new one.' });
    }
  };
}
