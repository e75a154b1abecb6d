// Generated sections of a Markdown document: `<!-- generated:NAME -->` ... `<!-- /generated:NAME -->`.
// Everything between a pair belongs to the generator; everything outside belongs to people.

const PAIR = /<!-- generated:([a-z0-9-]+) -->\n([\s\S]*?)<!-- \/generated:\1 -->/g;

/** The generated sections of a document, by name, as they are now. */
export function readSections(text) {
  const sections = new Map();
  for (const [, name, body] of text.matchAll(PAIR)) {
    if (sections.has(name)) throw new Error(`generated section "${name}" appears twice`);
    sections.set(name, body);
  }
  const opened = [...text.matchAll(/<!-- generated:([a-z0-9-]+) -->/g)].map((m) => m[1]);
  const unpaired = opened.filter((name) => !sections.has(name));
  if (unpaired.length > 0) throw new Error(`generated section(s) without a closing marker: ${unpaired.join(', ')}`);
  return sections;
}

/** readSections as a plain object (JSON-able, for tests that call this module in a child process). */
export function sectionsObject(text) {
  return Object.fromEntries(readSections(text));
}

/**
 * The document with every generated section replaced by `bodies[name]`. A section in the
 * document that the generator does not produce, or the other way round, is an error: a
 * renamed or deleted marker must not silently stop a section from being checked.
 */
export function fillSections(text, bodies) {
  const present = readSections(text);
  const unknown = [...present.keys()].filter((name) => !(name in bodies));
  const missing = Object.keys(bodies).filter((name) => !present.has(name));
  if (unknown.length > 0) throw new Error(`no generator for section(s): ${unknown.join(', ')}`);
  if (missing.length > 0) throw new Error(`marker(s) missing for section(s): ${missing.join(', ')}`);
  return text.replace(PAIR, (_, name) => `<!-- generated:${name} -->\n${ensureNewline(bodies[name])}<!-- /generated:${name} -->`);
}

function ensureNewline(body) {
  return body.endsWith('\n') ? body : `${body}\n`;
}

/** Names of the sections whose text differs between two versions of a document. */
export function changedSections(before, after) {
  const a = readSections(before);
  const b = readSections(after);
  return [...b.keys()].filter((name) => a.get(name) !== b.get(name));
}
