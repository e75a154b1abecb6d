import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, inject, it } from 'vitest';
import type {} from '@mosaic/test-harness'; // inject('pgAdminUrl')
import { callTool, ROOT } from './call-tool.js';

const MARKERS = 'tools/docs/markers.mjs';
const readSections = (text: string) => new Map(Object.entries(callTool<Record<string, string>>(MARKERS, 'sectionsObject', text)));
const fillSections = (text: string, bodies: Record<string, string>) => callTool<string>(MARKERS, 'fillSections', text, bodies);
const changedSections = (before: string, after: string) => callTool<string[]>(MARKERS, 'changedSections', before, after);
const GUIDE = `${ROOT}docs/migrating-to-federated.md`;

describe('docs generated from the tools (tools/docs/generate.mjs)', () => {
  it('the checked-in guide and package listings are what the built CLI and the code print now', () => {
    // The generator runs the real CLI against a scratch PGlite store and scratch databases on
    // the test server; --check writes nothing and exits 1 on any difference.
    const run = spawnSync(process.execPath, [`${ROOT}tools/docs/generate.mjs`, '--check'], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, MOSAIC_TEST_DATABASE_URL: inject('pgAdminUrl') },
      timeout: 240_000,
    });
    expect(run.stderr).toContain('docs/migrating-to-federated.md is up to date');
    expect(run.stderr).toContain('docs/packages.md is up to date');
    expect(run.status, run.stderr).toBe(0);
  }, 300_000);

  it('the guide has every generated section, each with real content', () => {
    const sections = readSections(readFileSync(GUIDE, 'utf8'));
    expect([...sections.keys()].sort()).toEqual([
      'confirm', 'dry-run', 'lock', 'lock-key', 'migration-order', 'rerun', 'resume', 'run', 'run-stderr',
      'skipped-tables', 'status', 'troubleshooting', 'verify',
    ]);
    expect(sections.get('dry-run')).toContain('[migrate-tier] DRY-RUN COMPLETE (no data written).');
    expect(sections.get('lock-key')).toContain('5579805325552451585');
    // Placeholders only where runs differ: no scratch database name or temp path survives.
    for (const [name, body] of sections) expect(body, name).not.toMatch(/mosaic_docs_|\/tmp\/|127\.0\.0\.1/);
  });
});

describe('generated-section markers', () => {
  const doc = 'intro\n<!-- generated:a -->\nold a\n<!-- /generated:a -->\nmiddle\n<!-- generated:b -->\nb\n<!-- /generated:b -->\n';

  it('an edited section is reported as changed, and regenerating restores it', () => {
    const edited = doc.replace('old a', 'hand-edited a');
    const regenerated = fillSections(edited, { a: 'old a', b: 'b' });
    expect(changedSections(edited, regenerated)).toEqual(['a']);
    expect(regenerated).toBe(doc);
    expect(changedSections(doc, fillSections(doc, { a: 'old a', b: 'b' }))).toEqual([]);
  });

  it('a marker without a generator, a generator without a marker, or an unclosed marker is an error', () => {
    expect(() => fillSections(doc, { a: 'x' })).toThrow(/no generator for section\(s\): b/);
    expect(() => fillSections(doc, { a: 'x', b: 'y', c: 'z' })).toThrow(/marker\(s\) missing for section\(s\): c/);
    expect(() => readSections(doc.replace('<!-- /generated:b -->', ''))).toThrow(/without a closing marker: b/);
  });
});
