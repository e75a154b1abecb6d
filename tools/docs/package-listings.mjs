// docs/packages.md: what `npm pack` puts in each publishable package's tarball, file by file.
import { packedFiles, publishablePackages, unwantedFiles } from '../packages.mjs';

export function packageListings() {
  const packages = publishablePackages().map(({ dir, manifest }) => ({ dir, manifest, files: packedFiles(dir) }));
  const bad = packages.flatMap((p) => unwantedFiles(p.files).map((u) => `${p.manifest.name}: ${u.file} (${u.why})`));
  if (bad.length > 0) throw new Error(`tarballs would ship files no user needs:\n  ${bad.join('\n  ')}`);
  const summary = ['| package | files | entry points | binary |', '| --- | --- | --- | --- |'];
  const listings = [];
  for (const { dir, manifest, files } of packages) {
    const entries = Object.keys(manifest.exports ?? {}).map((e) => `\`${e}\``).join(', ') || '—';
    const bin = Object.keys(manifest.bin ?? {}).map((b) => `\`${b}\``).join(', ') || '—';
    summary.push(`| [${manifest.name}](../${dir}/README.md) | ${files.length} | ${entries} | ${bin} |`);
    listings.push(`### ${manifest.name} (${dir})`, '', '```text', ...files, '```', '');
  }
  return { summary: `${summary.join('\n')}\n`, listings: listings.join('\n') };
}
