import { redactText } from '@mosaic/connection';

/**
 * Where words go: data to stdout, messages and progress to stderr (clig.dev). Every line
 * passes through the redactor, so no URL with a password reaches a terminal or a log.
 */
export interface Output {
  readonly json: boolean;
  /** Something went to stdout already (with --json: the one document). */
  readonly wroteData: boolean;
  readonly stderrIsTty: boolean;
  /** Data (the result a script reads): stdout. */
  data(text: string): void;
  /** Messages and progress: stderr. Suppressed with --json except errors. */
  info(text: string): void;
  error(text: string): void;
}

export function createOutput(options: { json?: boolean } = {}): Output {
  const json = options.json ?? false;
  let wroteData = false;
  return {
    json,
    get wroteData() {
      return wroteData;
    },
    stderrIsTty: Boolean(process.stderr.isTTY),
    data: (text) => {
      wroteData = true;
      process.stdout.write(`${redactData(text)}\n`);
    },
    info: (text) => {
      if (!json) process.stderr.write(`${redactText(text)}\n`);
    },
    error: (text) => void process.stderr.write(`${redactText(text)}\n`),
  };
}

/**
 * A JSON document (--json) is redacted value by value: redactText reads a URL to the end of its
 * line (a raw password may hold quotes), which on one JSON line would take in what follows.
 */
function redactData(text: string): string {
  if (/^\s*[[{]/.test(text)) {
    try {
      return JSON.stringify(redactValues(JSON.parse(text)), null, text.includes('\n') ? 2 : undefined);
    } catch {
      // Not JSON after all: redact it as text.
    }
  }
  return redactText(text);
}

function redactValues(value: unknown): unknown {
  if (typeof value === 'string') return redactText(value);
  if (Array.isArray(value)) return value.map(redactValues);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactValues(v)]));
  return value;
}

export function color(): boolean {
  return !process.env.NO_COLOR && Boolean(process.stderr.isTTY);
}
