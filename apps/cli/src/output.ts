import { redactText } from '@mosaic/connection';

/**
 * Where words go: data to stdout, messages and progress to stderr (clig.dev). Every line
 * passes through the redactor, so no URL with a password reaches a terminal or a log.
 */
export interface Output {
  readonly json: boolean;
  readonly stderrIsTty: boolean;
  /** Data (the result a script reads): stdout. */
  data(text: string): void;
  /** Messages and progress: stderr. Suppressed with --json except errors. */
  info(text: string): void;
  error(text: string): void;
}

export function createOutput(options: { json?: boolean } = {}): Output {
  const json = options.json ?? false;
  return {
    json,
    stderrIsTty: Boolean(process.stderr.isTTY),
    data: (text) => void process.stdout.write(`${redactText(text)}\n`),
    info: (text) => {
      if (!json) process.stderr.write(`${redactText(text)}\n`);
    },
    error: (text) => void process.stderr.write(`${redactText(text)}\n`),
  };
}

export function color(): boolean {
  return !process.env.NO_COLOR && Boolean(process.stderr.isTTY);
}
