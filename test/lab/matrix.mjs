// Reads test/lab/matrix.json for lab.sh: prints `key=value` lines (one value per line).
//   node matrix.mjs kind ID     ID: a pair id ("hand-11"), a host kind for both hosts ("hand-12"),
//                               or PRIMARY+STANDBY host kinds ("deb-15+hand-15")
//   node matrix.mjs root NAME   a root filesystem: suite, mirror, aptopt and package lines
//   node matrix.mjs cache       what the pairs need cached: npm=VERSION and root=NAME lines
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const matrix = JSON.parse(readFileSync(join(import.meta.dirname, 'matrix.json'), 'utf8'));

function fail(message) {
  process.stderr.write(`lab: ERROR: ${message}\n`);
  process.exit(2);
}

function pairOf(id) {
  const named = matrix.pairs.find((pair) => pair.id === id);
  if (named) return named;
  const [primary, standby = primary, extra] = id.split('+');
  if (extra !== undefined || !matrix.hostKinds[primary] || !matrix.hostKinds[standby]) {
    fail(`unknown lab kind "${id}": use a pair (${matrix.pairs.map((p) => p.id).join(', ')}), a host kind (${Object.keys(matrix.hostKinds).join(', ')}) or PRIMARY+STANDBY host kinds`);
  }
  return { id, primary, standby };
}

const lines = [];
const [command, name] = process.argv.slice(2);
if (command === 'kind') {
  const pair = pairOf(name || matrix.pairs.find((p) => p.default).id);
  lines.push(`kind=${pair.id}`, `tablespaces=${pair.tablespaces ?? 0}`);
  for (const role of ['primary', 'standby']) {
    const host = matrix.hostKinds[pair[role]];
    const root = matrix.roots[host.root];
    lines.push(`${role}.kind=${pair[role]}`, `${role}.layout=${host.layout}`, `${role}.major=${host.major}`, `${role}.root=${host.root}`, `${role}.suite=${root.suite}`, `${role}.npm=${host.npm ?? ''}`, `${role}.clientMajor=${root.clientMajor}`);
  }
} else if (command === 'root') {
  const root = matrix.roots[name];
  if (!root || !root.packages) fail(`no root filesystem "${name}" in matrix.json`);
  lines.push(`suite=${root.suite}`, `mirror=${matrix.mirror}`);
  for (const opt of root.aptopts ?? []) lines.push(`aptopt=${opt}`);
  for (const pkg of [...matrix.rootPackages, ...root.packages]) lines.push(`package=${pkg}`);
} else if (command === 'cache') {
  // what the pairs need: hand-installed servers (npm versions) and root filesystems
  const used = [...new Set(matrix.pairs.flatMap((pair) => [pair.primary, pair.standby]))].map((kind) => matrix.hostKinds[kind]);
  for (const npm of new Set(used.filter((host) => host.npm).map((host) => host.npm))) lines.push(`npm=${npm}`);
  for (const root of new Set(used.filter((host) => host.root !== 'machine').map((host) => host.root))) lines.push(`root=${root}`);
} else {
  fail('usage: node matrix.mjs kind ID | root NAME | cache');
}
process.stdout.write(`${lines.join('\n')}\n`);
