/**
 * npm run bench (as root): the wizard's headless setup against the same eight steps done by
 * a plain shell script (bare-setup.sh, same pg_basebackup options), on the lab's small
 * primary and on a bigger one (pgbench). Prints figures; asserts nothing.
 * BENCH_SCALE sets the pgbench scale of the big run (default 100, about 1.5 GB).
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..', '..');
const labScript = join(root, 'test', 'lab', 'lab.sh');
const cli = join(root, 'bin', 'pgrepl-wizard.js');
const scale = Number(process.env.BENCH_SCALE ?? 100);

// The lab instance is chosen by PGW_LAB (inherited by every lab.sh call and by bare-setup.sh).
const lab = (...args: string[]) => execFileSync('bash', [labScript, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
const labEnv = Object.fromEntries(
  lab('env')
    .split('\n')
    .filter((line) => line.includes('='))
    .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
);
const config: string = labEnv.LAB_CONFIG;

interface Figures {
  wallSeconds: number;
  cloneSeconds: number;
  cloneKb: number;
}

function timed<T>(run: () => T): [T, number] {
  const started = performance.now();
  const value = run();
  return [value, (performance.now() - started) / 1000];
}

function wizardRun(): Figures {
  const [output, wallSeconds] = timed(() =>
    execFileSync('node', [cli, 'setup', '--yes', '--restart-primary', '--json', '--config', config], {
      encoding: 'utf8',
      env: { ...process.env, PGREPL_PASSWORD: `bench-${Date.now()}` },
      maxBuffer: 64 * 1024 * 1024,
    }),
  );
  const outcome = JSON.parse(output);
  if (!outcome.ok) throw new Error(`wizard setup failed: ${JSON.stringify(outcome.steps.find((s: { status: string }) => s.status === 'failed'))}`);
  const clone = outcome.steps.find((s: { id: string }) => s.id === 'clone-standby');
  // pg_basebackup's own run inside the clone step, as the bare script times it.
  const copied = clone.notes.map((note: string) => /pg_basebackup copied (\d+) kB in ([\d.]+) s/.exec(note)).find(Boolean);
  if (!copied) throw new Error(`the clone step reported no pg_basebackup figures: ${clone.notes.join(' | ')}`);
  return { wallSeconds, cloneSeconds: Number(copied[2]), cloneKb: Number(copied[1]) };
}

function bareRun(): Figures {
  const [output, wallSeconds] = timed(() => execFileSync('bash', [join(root, 'test', 'bench', 'bare-setup.sh')], { encoding: 'utf8' }));
  const match = /clone_seconds=([\d.]+) clone_kb=(\d+)/.exec(output);
  if (!match) throw new Error(`bare setup printed no figures:\n${output}`);
  return { wallSeconds, cloneSeconds: Number(match[1]), cloneKb: Number(match[2]) };
}

function fresh(pgbenchScale: number): void {
  lab('reset');
  if (pgbenchScale > 0) {
    lab('exec', 'primary', 'runuser', '-u', 'postgres', '--', '/usr/lib/postgresql/15/bin/pgbench', '-q', '-i', '-s', String(pgbenchScale), '-p', '5433', 'appdb');
  }
}

const mbps = (f: Figures) => f.cloneKb / 1024 / f.cloneSeconds;

function compare(label: string, pgbenchScale: number): void {
  fresh(pgbenchScale);
  const wizard = wizardRun();
  fresh(pgbenchScale);
  const bare = bareRun();
  console.log(`\n${label}`);
  console.log(`  wizard setup: ${wizard.wallSeconds.toFixed(1)} s wall, clone ${(wizard.cloneKb / 1024).toFixed(0)} MB in ${wizard.cloneSeconds.toFixed(1)} s (${mbps(wizard).toFixed(1)} MB/s)`);
  console.log(`  bare script:  ${bare.wallSeconds.toFixed(1)} s wall, clone ${(bare.cloneKb / 1024).toFixed(0)} MB in ${bare.cloneSeconds.toFixed(1)} s (${mbps(bare).toFixed(1)} MB/s)`);
  console.log(`  wizard / bare wall time: ${(wizard.wallSeconds / bare.wallSeconds).toFixed(2)}x (target <= 1.20x)`);
  console.log(`  wizard clone throughput: ${((mbps(wizard) / mbps(bare)) * 100).toFixed(0)}% of bare pg_basebackup (target >= 95%)`);
}

lab('up');
compare('small primary (lab default)', 0);
compare(`bigger primary (pgbench scale ${scale})`, scale);
lab('reset');
