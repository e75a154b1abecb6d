import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runCli } from './run-cli.js';

const read = (path: string) => readFileSync(new URL(path, import.meta.url), 'utf8');

/**
 * The commands and flags of DESIGN section 4, read from the contract itself: each
 * `mosaic storage <command>` line and the indented lines that continue it.
 */
function designCommands(): Map<string, string[]> {
  const design = read('../../../docs/design.md');
  const section = design.slice(design.indexOf('## 4.'), design.indexOf('## 5.'));
  const commands = new Map<string, string[]>();
  let current: string | undefined;
  for (const line of section.split('\n')) {
    const start = /^ {4}mosaic storage (\S+)\s+(.*)$/.exec(line);
    if (start) commands.set((current = start[1]!), []);
    else if (!/^ {20,}\[/.test(line)) current = undefined;
    if (current) commands.get(current)!.push(...[...line.matchAll(/--[a-z][a-z-]*/g)].map((m) => m[0]));
  }
  return commands;
}

/** The Options and Examples parts of a help text. */
function helpParts(text: string): { options: string; examples: string } {
  const examplesAt = text.indexOf('\nExamples:\n');
  const optionsAt = text.indexOf('\nOptions:\n');
  return { options: text.slice(optionsAt, examplesAt), examples: examplesAt < 0 ? '' : text.slice(examplesAt) };
}

/** The commands of the Examples part, a `\\`-continued command joined into one line. */
function exampleCommands(examples: string): string[] {
  return examples.replace(/\\\n\s*/g, '').split('\n').map((l) => l.trim()).filter((l) => l.startsWith('mosaic '));
}

describe('mosaic --help and every command help', () => {
  const commands = designCommands();

  it('reads the five commands of DESIGN section 4', () => {
    expect([...commands.keys()]).toEqual(['status', 'init', 'seed', 'migrate-tier', 'verify']);
    expect(commands.get('migrate-tier')).toEqual(['--to', '--target-url', '--source', '--dry-run', '--yes', '--json', '--batch-size', '--jobs', '--lock-timeout', '--overwrite-target-changes']);
  });

  it.each([...designCommands().keys()])('storage %s --help: every flag of the contract, each used in an example', async (command) => {
    const help = await runCli(['storage', command, '--help']);
    expect(help.status).toBe(0);
    expect(help.stderr).toBe('');
    const { options, examples } = helpParts(help.stdout);
    for (const flag of commands.get(command)!) {
      expect(options, `${command} --help lists ${flag}`).toMatch(new RegExp(`^\\s+${flag}\\s`, 'm'));
      const used = exampleCommands(examples).filter((c) => c.startsWith(`mosaic storage ${command} `) && c.split(' ').includes(flag));
      expect(used, `${command} --help shows ${flag} in an example`).not.toEqual([]);
    }
  });

  it('migrate-tier --help: examples a person can copy, one command per example, and the guide', async () => {
    const { stdout } = await runCli(['storage', 'migrate-tier', '--help']);
    const { examples } = helpParts(stdout);
    expect(examples).toContain('# 1. see what would move; writes nothing anywhere');
    expect(examples).toMatch(/^ {2}mosaic storage migrate-tier --to federated --target-url "\$TARGET" --dry-run$/m);
    expect(examples).toMatch(/^ {2}mosaic storage migrate-tier --to federated --target-url "\$TARGET" --yes$/m);
    expect(stdout).toContain('Operator guide: docs/migrating-to-federated.md');
    // yargs wraps at 100 columns without a terminal: no example line may be broken by it.
    for (const line of examples.split('\n')) expect(line.length, line).toBeLessThanOrEqual(100);
  });

  it('mosaic --help and storage --help have examples, the environment and the exit statuses', async () => {
    const top = await runCli(['--help']);
    expect(top.status).toBe(0);
    expect(helpParts(top.stdout).examples).toContain('mosaic storage migrate-tier --to federated --target-url "$TARGET" --dry-run');
    expect(top.stdout).toContain('MOSAIC_DATABASE_URL');
    expect(top.stdout).toMatch(/Exit status: 0 ok, 1 failure, 2 usage error/);
    const storage = await runCli(['storage', '--help']);
    expect(helpParts(storage.stdout).examples).toContain('mosaic storage verify --target-url "$TARGET"');
  });

  it('mosaic --version prints the version of apps/cli/package.json and nothing else', async () => {
    const { version } = JSON.parse(read('../package.json')) as { version: string };
    const result = await runCli(['--version']);
    expect(result.status).toBe(0);
    expect(result.stdout).toBe(`${version}\n`);
    expect(result.stderr).toBe('');
  });
});
