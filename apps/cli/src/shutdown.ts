/**
 * Ctrl-C and SIGTERM: say something at once, then release locks and close connections
 * (a PGlite store must be closed to be flushed), with a time limit (clig.dev).
 */
type Cleanup = () => Promise<void>;

const cleanups = new Set<Cleanup>();

/** Registers work to do if the process is interrupted; returns the unregister function. */
export function onShutdown(cleanup: Cleanup): () => void {
  cleanups.add(cleanup);
  return () => cleanups.delete(cleanup);
}

const EXIT_ON_SIGNAL: Record<'SIGINT' | 'SIGTERM', number> = { SIGINT: 130, SIGTERM: 143 };

export function installSignalHandlers(exit: (status: number) => void, limitMs = 5000): void {
  for (const signal of Object.keys(EXIT_ON_SIGNAL) as Array<keyof typeof EXIT_ON_SIGNAL>) {
    process.once(signal, () => {
      process.stderr.write(`\nmosaic: interrupted (${signal}): releasing the lock and closing connections\n`);
      const status = EXIT_ON_SIGNAL[signal];
      setTimeout(() => exit(status), limitMs).unref();
      // Newest first: a lock is released before the database it lives in is closed.
      const pending = [...cleanups].reverse();
      cleanups.clear();
      (async () => {
        for (const cleanup of pending) await cleanup().catch(() => {});
      })().finally(() => exit(status));
    });
  }
}
