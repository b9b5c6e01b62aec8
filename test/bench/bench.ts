/**
 * npm run bench (as root): the wizard's headless setup against the same eight steps done by
 * a plain shell script (bare-setup.sh, same pg_basebackup options), both over one SSH
 * connection per host (the fair floor) and with a new connection per command, on the lab's
 * small primary and on a bigger one (pgbench). Prints wall times, the per-step split of both
 * and the ratios, and the machine's load average while they ran (a busy machine makes every
 * remote command slower, the wizard's many short checks most); asserts nothing.
 * BENCH_SCALE sets the pgbench scale of the big run (default 100, about 1.5 GB; 0 skips it);
 * BENCH_RUNS how many runs of each are made (default 3; medians are printed).
 * It also prints how long one refresh of `status` takes (BENCH_STATUS_RUNS runs, default 10;
 * goal <= 50 ms); BENCH_PART=status measures only that, on a pair set up by the wizard.
 * BENCH_PART=rewind (opt-in: minutes of copying) compares doctor --fix's two repairs of a
 * standby promoted by mistake on a primary of pgbench scale BENCH_SCALE: pg_rewind against the
 * re-clone, kB copied and wall time (goal: the rewind copies <= 5% of the clone's bytes).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..', '..');
const labScript = join(root, 'test', 'lab', 'lab.sh');
const cli = join(root, 'bin', 'pgrepl-wizard.js');
const scale = Number(process.env.BENCH_SCALE ?? 100);
const runs = Number(process.env.BENCH_RUNS ?? 3);
const statusRuns = Number(process.env.BENCH_STATUS_RUNS ?? 10);

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
  /** Seconds per step, by the wizard's step ids. */
  steps: Record<string, number>;
}

type Contender = 'wizard' | 'multiplexed' | 'perCommand';
const contenders: Record<Contender, { label: string; run: () => Figures }> = {
  wizard: { label: 'wizard setup', run: wizardRun },
  multiplexed: { label: 'bare script, one SSH connection per host', run: () => bareRun('multiplexed') },
  perCommand: { label: 'bare script, one SSH connection per command', run: () => bareRun('per-command') },
};

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
  const steps = Object.fromEntries(outcome.steps.map((s: { id: string; durationMs: number }) => [s.id, s.durationMs / 1000]));
  return { wallSeconds, cloneSeconds: Number(copied[2]), cloneKb: Number(copied[1]), steps };
}

function bareRun(ssh: 'multiplexed' | 'per-command'): Figures {
  const [output, wallSeconds] = timed(() =>
    execFileSync('bash', [join(root, 'test', 'bench', 'bare-setup.sh')], { encoding: 'utf8', env: { ...process.env, BARE_SSH: ssh } }),
  );
  const match = /clone_seconds=([\d.]+) clone_kb=(\d+)/.exec(output);
  if (!match) throw new Error(`bare setup printed no figures:\n${output}`);
  const steps = Object.fromEntries([...output.matchAll(/^step=(\S+) seconds=([\d.]+)$/gm)].map(([, id, seconds]) => [id, Number(seconds)]));
  return { wallSeconds, cloneSeconds: Number(match[1]), cloneKb: Number(match[2]), steps };
}

function fresh(pgbenchScale: number): void {
  lab('reset');
  if (pgbenchScale > 0) {
    lab('exec', 'primary', 'runuser', '-u', 'postgres', '--', '/usr/lib/postgresql/15/bin/pgbench', '-q', '-i', '-s', String(pgbenchScale), '-p', '5433', 'appdb');
  }
}

const mbps = (f: Figures) => f.cloneKb / 1024 / f.cloneSeconds;
const median = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)];
const seconds = (value: number) => `${value.toFixed(2)} s`.padStart(9);

/** Runs the three in turn on fresh pairs; medians tame the noise of a 2-core box. */
function compare(label: string, pgbenchScale: number): void {
  const figures: Record<Contender, Figures[]> = { wizard: [], multiplexed: [], perCommand: [] };
  const loadBefore = loadavg()[0];
  for (let run = 0; run < runs; run++) {
    for (const contender of Object.keys(contenders) as Contender[]) {
      fresh(pgbenchScale);
      figures[contender].push(contenders[contender].run());
    }
  }
  const wall = (contender: Contender) => median(figures[contender].map((f) => f.wallSeconds));
  const rate = (contender: Contender) => median(figures[contender].map(mbps));
  console.log(`\n${label}: median of ${runs} runs each, in turn; load average ${loadBefore.toFixed(1)} before, ${loadavg()[0].toFixed(1)} after (${cpus().length} cores)`);
  for (const contender of Object.keys(contenders) as Contender[]) {
    const f = figures[contender];
    console.log(
      `  ${contenders[contender].label.padEnd(44)} ${seconds(wall(contender))} wall, clone ${(f[0].cloneKb / 1024).toFixed(0)} MB at ${rate(contender).toFixed(1)} MB/s (walls: ${f.map((x) => x.wallSeconds.toFixed(1)).join(', ')})`,
    );
  }
  console.log(`  wizard / bare, one connection per host:    ${(wall('wizard') / wall('multiplexed')).toFixed(2)}x (target <= 1.10x)`);
  console.log(`  wizard / bare, one connection per command: ${(wall('wizard') / wall('perCommand')).toFixed(2)}x`);
  console.log(`  wizard clone throughput: ${((rate('wizard') / rate('multiplexed')) * 100).toFixed(0)}% of bare pg_basebackup (target >= 95%)`);

  // The part of each wall outside the eight steps: connecting, inspecting, settling the
  // settings and prechecks for the wizard; the masters' set-up and the lab lookup for the script.
  const stepIds = Object.keys(figures.wizard[0].steps);
  const stepSeconds = (contender: Contender, id: string) => median(figures[contender].map((f) => f.steps[id] ?? 0));
  const outside = (contender: Contender) => median(figures[contender].map((f) => f.wallSeconds - Object.values(f.steps).reduce((sum, s) => sum + s, 0)));
  console.log(`  per step (medians)        wizard    bare, per host   ratio`);
  const row = (name: string, wizard: number, bare: number) =>
    console.log(`    ${name.padEnd(22)}${seconds(wizard)}   ${seconds(bare)}   ${bare > 0 ? `${(wizard / bare).toFixed(2)}x` : '-'}`);
  for (const id of stepIds) row(id, stepSeconds('wizard', id), stepSeconds('multiplexed', id));
  row('outside the steps', outside('wizard'), outside('multiplexed'));
}

/**
 * `status --json` on the streaming pair the runs above left: each run reports the time of its
 * last refresh (one SQL statement per host, both in parallel).
 */
function measureStatus(): void {
  const stateHome = mkdtempSync(join(tmpdir(), 'pgrepl-bench-state-'));
  const refreshes = Array.from({ length: statusRuns }, () => {
    // Exit 1 (needs attention) still reports its refresh time.
    const run = spawnSync('node', [cli, 'status', '--json', '--config', config], { encoding: 'utf8', env: { ...process.env, XDG_STATE_HOME: stateHome } });
    const status = JSON.parse(run.stdout);
    if (typeof status.refreshMilliseconds !== 'number') throw new Error(`status printed no refresh time:\n${run.stdout}\n${run.stderr}`);
    return status.refreshMilliseconds as number;
  });
  console.log(`\nstatus: one refresh (one SQL statement per host, in parallel): median ${median(refreshes).toFixed(1)} ms over ${statusRuns} runs (goal <= 50 ms; all: ${refreshes.map((ms) => ms.toFixed(1)).join(', ')})`);
}

const psqlOn = (host: 'primary' | 'standby', sql: string, database = 'postgres') =>
  lab('exec', host, 'runuser', '-u', 'postgres', '--', 'psql', '-X', '-At', '-p', host === 'primary' ? '5433' : '5432', '-d', database, '-c', sql).trim();
const walSize = () => psqlOn('primary', 'SELECT pg_size_pretty(sum(size)) FROM pg_ls_waldir()');

/** A small divergence: the standby promoted by mistake takes a row, the primary a few hundred pgbench transactions. */
function diverge(): void {
  psqlOn('standby', 'SELECT pg_promote(true, 60)');
  psqlOn('standby', "INSERT INTO t VALUES (900, 'written on the promoted standby') ON CONFLICT DO NOTHING", 'appdb');
  lab('exec', 'primary', 'runuser', '-u', 'postgres', '--', '/usr/lib/postgresql/15/bin/pgbench', '-n', '-t', '300', '-p', '5433', 'appdb');
  psqlOn('standby', 'CHECKPOINT');
}

interface Repair {
  wallSeconds: number;
  stepSeconds: number;
  copiedKb: number;
  detail: string;
}

/** doctor --fix --yes on the diverged pair; `step` is the repair expected to copy: rewind-standby or clone-standby. */
function repair(step: 'rewind-standby' | 'clone-standby'): Repair {
  const [output, wallSeconds] = timed(
    () => spawnSync('node', [cli, 'doctor', '--fix', '--yes', '--json', '--config', config], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }).stdout,
  );
  const report = JSON.parse(output);
  const done = report.repairs?.steps?.find((s: { id: string; status: string }) => s.id === step && s.status === 'done');
  if (!done || !report.healthy || typeof done.copiedKb !== 'number') throw new Error(`doctor --fix did not repair the standby with ${step}: ${JSON.stringify(report.repairs?.steps ?? report.findings)}`);
  return { wallSeconds, stepSeconds: done.durationMs / 1000, copiedKb: done.copiedKb, detail: done.detail };
}

/** The same divergence repaired twice on one pair: by pg_rewind, then (wal_log_hints off on the standby: pg_rewind refuses) by the re-clone. */
function rewindVsClone(pgbenchScale: number): void {
  const loadBefore = loadavg()[0];
  fresh(pgbenchScale);
  execFileSync('node', [cli, 'setup', '--yes', '--restart-primary', '--wal-log-hints', '--config', config], { encoding: 'utf8', env: { ...process.env, PGREPL_PASSWORD: `bench-${Date.now()}` } });
  const size = psqlOn('primary', 'SELECT pg_size_pretty(pg_database_size(current_database()))', 'appdb');
  diverge();
  // pg_rewind before 18 copies every file of the source's pg_wal in full, recycled segments too.
  const walAtRewind = walSize();
  const rewind = repair('rewind-standby');
  psqlOn('standby', 'ALTER SYSTEM SET wal_log_hints = off');
  lab('exec', 'standby', 'pg_ctlcluster', '15', 'main', 'restart');
  diverge();
  const clone = repair('clone-standby');
  console.log(`
repairing a standby promoted by mistake, primary of pgbench scale ${pgbenchScale} (appdb ${size}; the primary's pg_wal ${walAtRewind} when rewound); load average ${loadBefore.toFixed(1)} before, ${loadavg()[0].toFixed(1)} after (${cpus().length} cores)`);
  for (const [label, r] of [['pg_rewind', rewind], ['re-clone', clone]] as const) {
    console.log(`  ${label.padEnd(10)} copied ${(r.copiedKb / 1024).toFixed(1).padStart(8)} MB; step ${seconds(r.stepSeconds)}, doctor --fix wall ${seconds(r.wallSeconds)}`);
  }
  console.log(`  ${rewind.detail}`);
  console.log(`  pg_rewind copied ${((rewind.copiedKb / clone.copiedKb) * 100).toFixed(1)}% of the re-clone's bytes (goal <= 5%); its step took ${((rewind.stepSeconds / clone.stepSeconds) * 100).toFixed(0)}% of the clone's time`);
}

lab('up');
if (process.env.BENCH_PART === 'rewind') {
  rewindVsClone(scale);
} else if (process.env.BENCH_PART === 'status') {
  fresh(0);
  wizardRun();
  measureStatus();
} else {
  compare('small primary (lab default)', 0);
  measureStatus();
  if (scale > 0) compare(`bigger primary (pgbench scale ${scale})`, scale);
}
lab('reset');
