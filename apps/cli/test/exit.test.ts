import { describe, expect, it } from 'vitest';
import { ConnectionError } from '@mosaic/connection';
import type { AdvisoryLockErrorCode } from '@mosaic/advisory-lock';
import type { ConnectionErrorCode } from '@mosaic/connection';
import type { CopyEngineErrorCode } from '@mosaic/copy-engine';
import type { SchemaErrorCode } from '@mosaic/schema';
import type { SeedErrorCode } from '@mosaic/seed';
import type { VerifyErrorCode } from '@mosaic/verify';
import { CliError, describeError } from '../src/errors.js';
import { EXIT, exitStatusFor } from '../src/exit.js';
import type { ErrorCode } from '../src/exit.js';

// Compile-time: every package's codes are codes the exit map must cover (its `satisfies
// Record<ErrorCode, ExitStatus>` then refuses to compile without a status for each).
type Covers<T extends ErrorCode> = T;
export type Checked = Covers<ConnectionErrorCode | SchemaErrorCode | AdvisoryLockErrorCode | CopyEngineErrorCode | VerifyErrorCode | SeedErrorCode>;

describe('exit statuses', () => {
  it('maps Mosaic codes to their documented status, and anything else to 1', () => {
    expect(exitStatusFor('TARGET_NOT_EMPTY')).toBe(EXIT.PRECONDITION);
    expect(exitStatusFor('INVALID_LOCATION')).toBe(EXIT.USAGE);
    expect(exitStatusFor('VERIFY_DIFFERENCES')).toBe(EXIT.VERIFY_DIFFERENCES);
    expect(exitStatusFor('CONNECTION_LOST')).toBe(EXIT.FAILURE);
    expect(exitStatusFor('toString')).toBe(EXIT.FAILURE);
    expect(exitStatusFor(undefined)).toBe(EXIT.FAILURE);
  });

  it('only a Mosaic error speaks to the operator in its own words; a stray driver or Node error is unexpected', () => {
    expect(describeError(new ConnectionError('STORE_LOCKED', 'in use by pid 1'))).toEqual({ line: 'in use by pid 1', status: EXIT.PRECONDITION, code: 'STORE_LOCKED' });
    expect(describeError(new CliError('USAGE', 'bad flag'))).toMatchObject({ status: EXIT.USAGE, code: 'USAGE' });
    const stray = Object.assign(new Error('read ECONNRESET\n    at stack'), { code: 'ECONNRESET' });
    expect(describeError(stray)).toEqual({ line: 'Unexpected error: read ECONNRESET (set MOSAIC_DEBUG=1 for details)', status: EXIT.FAILURE, code: 'UNEXPECTED' });
  });
});
