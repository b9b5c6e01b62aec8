/**
 * npm run bench (as root): the wizard's headless setup against the same eight steps done by
 * a plain shell script (bare-setup.sh, same pg_basebackup options), on the lab's small
 * primary and on a bigger one (pgbench). Prints figures; asserts nothing.
 * BENCH_SCALE sets the pgbench scale of the big run (default 100, about 1.5 GB); BENCH_RUNS
 * how many runs of each are made (default 3; medians are printed).
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..', '..');
const labScript = join(root, 'test', 'lab', 'lab.sh');
const cli = join(root, 'bin', 'pgrepl-wizard.js');
const scale = Number(process.env.BENCH_SCALE ?? 100);
const runs = Number(process.env.BENCH_RUNS ?? 3);

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
const median = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)];

/** Runs wizard and bare alternately on fresh pairs; medians tame the noise of a 2-core box. */
function compare(label: string, pgbenchScale: number): void {
  const wizard: Figures[] = [];
  const bare: Figures[] = [];
  for (let run = 0; run < runs; run++) {
    fresh(pgbenchScale);
    wizard.push(wizardRun());
    fresh(pgbenchScale);
    bare.push(bareRun());
  }
  const summary = (figures: Figures[]) => {
    const wall = median(figures.map((f) => f.wallSeconds));
    const rate = median(figures.map(mbps));
    return { wall, rate, text: `${wall.toFixed(1)} s wall, clone ${(figures[0].cloneKb / 1024).toFixed(0)} MB at ${rate.toFixed(1)} MB/s` };
  };
  const w = summary(wizard);
  const b = summary(bare);
  console.log(`\n${label}: median of ${runs} runs each`);
  console.log(`  wizard setup: ${w.text} (walls: ${wizard.map((f) => f.wallSeconds.toFixed(1)).join(', ')})`);
  console.log(`  bare script:  ${b.text} (walls: ${bare.map((f) => f.wallSeconds.toFixed(1)).join(', ')})`);
  console.log(`  wizard / bare wall time: ${(w.wall / b.wall).toFixed(2)}x (target <= 1.20x)`);
  console.log(`  wizard clone throughput: ${((w.rate / b.rate) * 100).toFixed(0)}% of bare pg_basebackup (target >= 95%)`);
}

lab('up');
compare('small primary (lab default)', 0);
compare(`bigger primary (pgbench scale ${scale})`, scale);
lab('reset');
