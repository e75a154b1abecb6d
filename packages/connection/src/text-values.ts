// Type OIDs whose values stay as the server's text: a JS number, Date or JSON.parse would
// change them (int8 above 2^53, microseconds, numeric digits, json number spelling).
export const TEXT_OIDS = [
  20, // int8
  114, // json
  3802, // jsonb
  700, // float4
  701, // float8
  1700, // numeric
  1082, // date
  1083, // time
  1114, // timestamp
  1184, // timestamptz
  1186, // interval
  1266, // timetz
] as const;

export const identity = (value: string): string => value;
