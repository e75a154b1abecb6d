/**
 * Tools for the "no password ever leaks" property tests (issue #13): the characters a generated
 * password is drawn from, the placeholder a path is compared against, and the leak detector.
 *
 * The detector: every fragment of 3 or more characters of a secret (the password as typed,
 * raw or percent-encoded, and decoded) is looked for in the output of a path run with that
 * password, and in the output of the same path run with a placeholder password. A fragment
 * counts as a leak only when it shows with the real password and not with the placeholder:
 * fragments that occur naturally ("127", "ost" of "host") show in both and are not flagged.
 *
 * The placeholder keeps the password's shape, so the path goes the same way (the same parse,
 * the same error): ASCII punctuation and spaces (the characters that can change how a URL is
 * read) are kept, letters become `x`, digits `0`, anything else `ñ`. So a leak is flagged when
 * it holds at least one letter, digit or non-ASCII character of the password; a leak made only
 * of punctuation cannot be told apart from the placeholder's, which is why the generators
 * require a password to hold letters (each run is then a fair test: a leak of 3 or more
 * characters next to a letter is flagged).
 *
 * Both outputs are normalised first: UUIDs, ISO timestamps and stand-alone numbers (timings,
 * process ids, row rates) differ between two runs of one path for reasons that have nothing
 * to do with the password, and a password fragment such as `0.4` would match them by chance.
 * A number glued to a letter (`a12`) is not stand-alone and is kept.
 */
import fc from 'fast-check';

/** The URL-significant and awkward characters every generator mixes in. */
export const PASSWORD_SPECIALS = ['@', '/', '#', '?', '%', ':', ';', ' ', '&', '=', ',', '+', '"', "'", '\\', '[', ']', '$', '!', '*'] as const;

/** Non-ASCII characters (Latin-1, BMP CJK, an astral emoji). */
export const PASSWORD_NON_ASCII = ['é', 'ß', 'ü', 'Ω', '中', '文', '🔑', 'ø'] as const;

/** Printable ASCII, 0x20-0x7e. */
export const PRINTABLE_ASCII = Array.from({ length: 0x7f - 0x20 }, (_, i) => String.fromCharCode(0x20 + i));

/** Same shape, nothing secret: see the module comment. */
export function placeholderFor(password: string): string {
  return Array.from(password, (ch) => (/[A-Za-z]/.test(ch) ? 'x' : /[0-9]/.test(ch) ? '0' : /[\x20-\x7e]/.test(ch) ? ch : 'ñ')).join('');
}

/** The password as it is typed into a URL's userinfo: raw, or percent-encoded. */
export function typedPassword(password: string, encoded: boolean): string {
  return encoded ? encodeURIComponent(password) : password;
}

/** Inserts `:password` after the user of a credential-less URL (`scheme://user@host...`). */
export function withPassword(url: string, typed: string): string {
  const match = /^([a-z][a-z0-9+.-]*:\/\/)([^@/]*)@/i.exec(url);
  if (!match) {
    // No user: `scheme://host...` becomes `scheme://:password@host...` (the Redis form).
    return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)/i, `$1:${typed}@`);
  }
  return `${match[1]}${match[2]}:${typed}@${url.slice(match[0].length)}`;
}

/** UUIDs, ISO timestamps and stand-alone numbers: see the module comment. */
export function normaliseOutput(text: string): string {
  return text
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, '<uuid>')
    .replace(/\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d(?::?\d\d)?)?/g, '<time>')
    .replace(/(?<![\w.])\d+(?:\.\d+)?(?![\w.])/g, '<n>');
}

/** Every fragment of 3 or more characters (code points, not UTF-16 halves). */
export function fragments(secret: string, min = 3): string[] {
  const chars = Array.from(secret);
  const out = new Set<string>();
  for (let i = 0; i < chars.length; i++) {
    for (let j = i + min; j <= chars.length; j++) out.add(chars.slice(i, j).join(''));
  }
  return [...out];
}

/**
 * The fragments of `secrets` that show in `real` (a path's output with the password) and not
 * in `placeholder` (the same path with `placeholderFor(password)`), longest first.
 */
export function leakedFragments(real: string, placeholder: string, secrets: readonly string[]): string[] {
  const seen = normaliseOutput(real);
  const baseline = normaliseOutput(placeholder);
  const leaked = new Set<string>();
  for (const secret of secrets) {
    for (const fragment of fragments(secret)) {
      if (seen.includes(fragment) && !baseline.includes(fragment)) leaked.add(fragment);
    }
  }
  return [...leaked].sort((a, b) => b.length - a.length);
}

/** Throws with the leaked fragments and where they showed (the start of the output). */
export function expectNoLeak(what: string, real: string, placeholder: string, secrets: readonly string[]): void {
  const leaked = leakedFragments(real, placeholder, secrets);
  if (leaked.length > 0) {
    throw new Error(`${what}: password fragments leaked: ${JSON.stringify(leaked.slice(0, 5))} (secrets ${JSON.stringify(secrets)})\n--- output ---\n${real.slice(0, 4000)}`);
  }
}

/**
 * The passwords the redaction properties draw: printable ASCII, weighted towards URL
 * delimiters and quotes, and non-ASCII; each holds a letter (a leak made only of punctuation is
 * invisible to the detector above). One generator for every property (connection, CLI, gateway).
 */
export function passwordArbitrary(length: { minLength: number; maxLength: number }): fc.Arbitrary<string> {
  return fc
    .string({
      unit: fc.oneof(
        { weight: 4, arbitrary: fc.constantFrom(...PRINTABLE_ASCII) },
        { weight: 3, arbitrary: fc.constantFrom(...PASSWORD_SPECIALS) },
        { weight: 1, arbitrary: fc.constantFrom(...PASSWORD_NON_ASCII) },
      ),
      ...length,
    })
    .filter((p) => /[A-Za-z]/.test(p));
}
