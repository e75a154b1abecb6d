import { execFileSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * Calls an exported function of a repository script under tools/ in a child Node and returns
 * its JSON result. tools/ is not an Nx project, so tests may not import it (module boundaries);
 * a child process also exercises the script exactly as `npm run` does.
 */
export function callTool<T>(module: string, fn: string, ...args: unknown[]): T {
  const href = pathToFileURL(`${ROOT}${module}`).href;
  const code = `const m = await import(${JSON.stringify(href)}); process.stdout.write(JSON.stringify(await m[${JSON.stringify(fn)}](...${JSON.stringify(args)})));`;
  return JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', code], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })) as T;
}
