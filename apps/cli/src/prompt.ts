import { createInterface } from 'node:readline/promises';

/**
 * A yes/no question on the terminal, default No. Node's own readline: one line of input is
 * all this needs, and it works under any pseudo-terminal (no raw-mode key handling).
 */
export async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`${question} [y/N] `);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}
