// Makes captured tool output identical from run to run and machine to machine, so the
// checked-in guide can be compared with a fresh capture. Only what varies is replaced, each
// by a visible placeholder: the guide must never show a number the tool did not print.

const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Patterns that vary between runs of the same command on the same data. */
const VOLATILE = [
  // Timings and rates ("173 rows in 1.4 s (121 rows/s)", "(0.1 s)", "waited 2 s of 2").
  [/\b\d+(\.\d+)? s\b/g, 'N s'],
  [/\b\d+ rows\/s\b/g, 'N rows/s'],
  [/\bwaited \d+ s\b/g, 'waited N s'],
  // Server versions: the guide's stack runs PostgreSQL 17, the check may run on another major.
  [/\bPostgreSQL \d+(\.\d+)?\b/g, 'PostgreSQL <version>'],
  [/\binstalled \(\d+\.\d+\.\d+\)/g, 'installed (<version>)'],
  // Identities of one run.
  [/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/g, '<uuid>'],
  [/\bpid \d+\b/g, 'pid <pid>'],
  [/pg_terminate_backend\(\d+\)/g, 'pg_terminate_backend(<pid>)'],
  [/\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{2}(:?\d{2})?|Z)?/g, '<timestamp>'],
];

/**
 * `literals` first (exact strings of this run: temp paths, database and role names, the
 * server's host:port), longest first so a path is replaced before its parent directory.
 */
export function normalise(text, literals = []) {
  let out = text;
  for (const [from, to] of [...literals].sort((a, b) => b[0].length - a[0].length)) {
    out = out.replace(new RegExp(escape(from), 'g'), to);
  }
  for (const [pattern, to] of VOLATILE) out = out.replace(pattern, to);
  return out.replace(/[ \t]+$/gm, '');
}
