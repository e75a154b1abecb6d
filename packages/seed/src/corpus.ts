// Values that break naive copy tools. Each one is used somewhere in every seeded store.

/** Text that COPY, CSV and JSON encoders get wrong when they are careless. */
export const TRICKY_TEXT: readonly string[] = [
  'tab\there',
  'line one\nline two',
  'windows\r\nline end',
  'back\\slash and \\\\ double',
  '\\N',
  'NULL',
  'emoji 🚀🧠 and 中文 and é',
  `quote's "double" \`back\``,
  'comma, separated, values',
  '{braces} [brackets]',
  '',
  ' leading and trailing ',
  'percent %s %d $1',
  'unicode line separator \u2028 paragraph \u2029',
  'zero width\u200bjoiner',
  'a\\tb is not a tab',
];

/** text[] elements: NULLs, quotes, commas, backslashes, the word NULL, empty strings. */
export const TRICKY_ARRAY: readonly (string | null)[] = ['search', null, 'a,b', 'q"uote', 'back\\slash', '', 'NULL', '{x}', 'sp ace'];

/** JSON number spellings a JS number cannot hold exactly: jsonb must keep every digit. */
export const EXACT_NUMBERS: readonly string[] = [
  '9007199254740993',
  '-9223372036854775809',
  '2406.60',
  '0.1000000000000000055511151231257827',
  '123456789012345678901234567890.000000000000000000001',
  '1e-7',
  '3.141592653589793238462643383279',
];

export const WORDS: readonly string[] = (
  'agent mission task plan deploy review index vector search embed chat prompt model token ' +
  'retry queue cache shard replica backup restore schema migrate verify report budget cost ' +
  'latency timeout webhook cron worker gateway tenant team project ticket label insight skill'
).split(' ');
