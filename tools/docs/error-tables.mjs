// Every error code an operator can meet, read from the "Error codes" table of each package's
// README and checked against the code: the codes the package's source declares, and the exit
// status the built CLI really maps each code to. A README that drifts from its code stops the
// generator, so the guide's troubleshooting list can only be as wrong as nothing.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Packages whose errors reach the operator through the CLI, in the order the guide lists them. */
export const ERROR_SOURCES = [
  { project: 'apps/cli', declared: unionCodes('CliErrorCode') },
  { project: 'packages/connection', declared: unionCodes('ConnectionErrorCode') },
  { project: 'packages/schema', declared: unionCodes('SchemaErrorCode') },
  { project: 'packages/advisory-lock', declared: unionCodes('AdvisoryLockErrorCode') },
  { project: 'packages/copy-engine', declared: unionCodes('CopyEngineErrorCode') },
  { project: 'packages/verify', declared: unionCodes('VerifyErrorCode') },
  { project: 'packages/seed', declared: unionCodes('SeedErrorCode') },
  { project: 'packages/write-freeze', declared: unionCodes('WriteFreezeErrorCode') },
];

/** The string literals of `export type <name> = 'A' | 'B' ...;` in the project's src/errors.ts. */
function unionCodes(typeName) {
  return (root, project) => {
    const source = readFileSync(join(root, project, 'src/errors.ts'), 'utf8');
    const match = new RegExp(`export type ${typeName} =([^;]+);`).exec(source);
    if (!match) throw new Error(`${project}/src/errors.ts declares no ${typeName}`);
    return [...match[1].matchAll(/'([A-Z_]+)'/g)].map((m) => m[1]);
  };
}

/** Rows `{ code, cause, fix, exit }` of the first `| code | cause | fix | CLI exit |` table under an "Error codes" heading. */
export function readErrorTable(markdown, where) {
  const heading = /^##+ .*Error codes.*$/m.exec(markdown);
  if (!heading) throw new Error(`${where}: no "Error codes" heading`);
  const lines = markdown.slice(heading.index).split('\n');
  const start = lines.findIndex((l) => /^\|\s*code\s*\|\s*cause\s*\|\s*fix\s*\|\s*CLI exit\s*\|/.test(l));
  if (start < 0) throw new Error(`${where}: no "| code | cause | fix | CLI exit |" table under the Error codes heading`);
  const rows = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    const cells = line.slice(1, -1).split(/(?<!\\)\|/).map((c) => c.trim());
    const code = /^`([A-Z_]+)`$/.exec(cells[0] ?? '')?.[1];
    if (!code || cells.length !== 4) throw new Error(`${where}: cannot read the row ${line}`);
    rows.push({ code, cause: cells[1], fix: cells[2], exit: Number(cells[3]) });
  }
  return rows;
}

/**
 * Every documented code with the projects that raise it, checked against the source and the
 * CLI's exit mapping (`exitStatusFor` from the built apps/cli/dist/exit.js).
 */
export function collectErrorCodes(root, exitStatusFor) {
  const problems = [];
  const byCode = new Map();
  for (const { project, declared } of ERROR_SOURCES) {
    const readme = `${project}/README.md`;
    const rows = readErrorTable(readFileSync(join(root, readme), 'utf8'), readme);
    const documented = new Set(rows.map((r) => r.code));
    const inCode = new Set(declared(root, project));
    for (const code of inCode) if (!documented.has(code)) problems.push(`${readme} does not document ${code}, which its source raises`);
    for (const code of documented) if (!inCode.has(code)) problems.push(`${readme} documents ${code}, which its source never raises`);
    for (const row of rows) {
      const actual = row.code === 'UNEXPECTED' ? 1 : exitStatusFor(row.code);
      if (actual !== row.exit) problems.push(`${readme} says ${row.code} exits ${row.exit}, the CLI exits ${actual}`);
      const entry = byCode.get(row.code) ?? { code: row.code, exit: actual, sources: [] };
      entry.sources.push({ project, ...row });
      byCode.set(row.code, entry);
    }
  }
  if (problems.length > 0) throw new Error(`error tables disagree with the code:\n  ${problems.join('\n  ')}`);
  return [...byCode.values()].sort((a, b) => a.exit - b.exit || a.code.localeCompare(b.code));
}
