import { redactText, redactUrl } from '@mosaic/connection';

export interface ValkeyHealth {
  readonly url: string;
  readonly ok: boolean;
  /** valkey_version, else redis_version, from INFO server. */
  readonly serverVersion: string | null;
  readonly server: 'valkey' | 'redis' | null;
  readonly latencyMs: number | null;
  readonly error: string | null;
}

/**
 * PING and INFO with a hard time limit. The client is set never to reconnect or retry:
 * otherwise a ping to a dead port waits forever while it reconnects (STACK-NOTES).
 */
export async function checkValkey(url: string, timeoutMs = 3000): Promise<ValkeyHealth> {
  const display = redactUrl(url);
  const down = (error: string): ValkeyHealth => ({ url: display, ok: false, serverVersion: null, server: null, latencyMs: null, error });
  // iovalkey reads the URL with the WHATWG parser and throws a TypeError that carries the whole
  // URL (its `input`): say it here, without the driver's error.
  try {
    new URL(url);
  } catch {
    return down('malformed Valkey URL: expected redis://[:password@]host:port (percent-encode / # ? and % in a password)');
  }
  let lastError: Error | undefined;
  // Loaded on use: most detections have no Valkey URL, and the client is memory they would carry.
  const { Valkey } = await import('iovalkey');
  let client: InstanceType<typeof Valkey>;
  try {
    client = new Valkey(url, {
      lazyConnect: true,
      retryStrategy: () => null,
      maxRetriesPerRequest: 0,
      connectTimeout: timeoutMs,
      commandTimeout: timeoutMs,
      enableOfflineQueue: false,
    });
  } catch {
    return down('the Valkey client refused the URL: expected redis://[:password@]host:port');
  }
  client.on('error', (error: Error) => (lastError = error));
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([client.connect(), deadline]);
    const pong = await Promise.race([client.ping(), deadline]);
    const latencyMs = Math.round(performance.now() - started);
    const info = await Promise.race([client.info('server'), deadline]);
    const valkey = /^valkey_version:(\S+)/m.exec(info)?.[1];
    const redis = /^redis_version:(\S+)/m.exec(info)?.[1];
    return {
      url: display, ok: pong === 'PONG', serverVersion: valkey ?? redis ?? null,
      server: valkey ? 'valkey' : redis ? 'redis' : null, latencyMs, error: pong === 'PONG' ? null : `unexpected PING reply ${pong}`,
    };
  } catch (error) {
    const cause = lastError && lastError !== error ? `${(error as Error).message} (${lastError.message})` : (error as Error).message;
    return down(withoutSecrets(redactText(cause), url));
  } finally {
    clearTimeout(timer);
    client.disconnect();
  }
}

/**
 * A driver message may quote the URL or its password (decoded or not): take out each, whatever
 * the shape of the text around it (redactText only knows URLs it can see whole).
 */
function withoutSecrets(text: string, url: string): string {
  const secrets = new Set<string>([url]);
  try {
    const parsed = new URL(url);
    for (const part of [parsed.password, parsed.username]) {
      if (part.length < 3) continue;
      secrets.add(part);
      try {
        secrets.add(decodeURIComponent(part));
      } catch {
        // Not decodable: the raw form is enough.
      }
    }
  } catch {
    // Unparsable URLs never reach a driver.
  }
  let out = text;
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) out = out.split(secret).join('***');
  return out;
}
