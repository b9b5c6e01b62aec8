import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { labPairs } from '../lab/matrix.js';

/**
 * Every pair of the lab matrix comes up as real servers: each host answers SSH as labadmin, and
 * its PostgreSQL answers `select version()` with its major, through the socket directory and as
 * the OS user `lab.sh env` names, from the data directory and config file it names.
 */

const labScript = join(import.meta.dirname, '..', 'lab', 'lab.sh');
const lab = (args: string[], kind: string) =>
  execFileSync('bash', [labScript, ...args], { encoding: 'utf8', env: { ...process.env, PGW_LAB_KIND: kind }, stdio: ['ignore', 'pipe', 'inherit'] });

function labEnv(kind: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of lab(['env'], kind).split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) env[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return env;
}

/** A shell word for the remote command line ssh sends. */
const quoted = (word: string) => `'${word.replace(/'/g, `'\\''`)}'`;

function sshAs(env: Record<string, string>, ip: string, argv: string[]): string {
  return execFileSync(
    'ssh',
    ['-i', env.LAB_KEY, '-o', 'IdentitiesOnly=yes', '-o', `UserKnownHostsFile=${env.LAB_KNOWN_HOSTS}`, '-o', 'StrictHostKeyChecking=yes',
      '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=10', `labadmin@${ip}`, argv.map(quoted).join(' ')],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  ).trim();
}

afterAll(() => {
  // leave the instance as the other test files expect it
  lab(['up'], process.env.PGW_LAB_KIND ?? '');
});

describe('lab kinds: every pair of test/lab/matrix.json is a pair of healthy PostgreSQL servers', () => {
  for (const pair of labPairs) {
    it(`${pair.id}: ${pair.purpose}`, { timeout: 1_800_000 }, () => {
      lab(['up'], pair.id);
      const env = labEnv(pair.id);
      expect(env.LAB_KIND).toBe(pair.id);
      for (const role of ['PRIMARY', 'STANDBY'] as const) {
        const host = (name: string) => env[`LAB_${role}_${name}`];
        const psql = (sql: string) =>
          sshAs(env, host('IP'), ['sudo', '-n', '-u', host('OS_USER'), 'psql', '-X', '-At', '-h', host('SOCKET_DIR'), '-p', host('PORT'), '-d', 'postgres', '-c', sql]);
        expect(psql('select version()'), role).toMatch(new RegExp(`^PostgreSQL ${host('MAJOR')}\\.\\d+ `));
        expect(psql('show data_directory'), role).toBe(host('PGDATA'));
        expect(psql('show config_file'), role).toBe(host('CONFIG_FILE'));
        expect(psql('select current_user'), role).toBe(host('OS_USER'));
        expect(sshAs(env, host('IP'), ['hostname']), role).toMatch(new RegExp(`-${role.toLowerCase()}$`));
        if (host('LAYOUT') === 'hand') {
          expect(psql('show port'), role).toBe('3000');
          expect(psql('show log_directory'), role).toBe(host('LOG_DIR'));
          expect(sshAs(env, host('IP'), ['test', '-x', `${host('CLIENT_BINDIR')}/pg_basebackup`]), role).toBe('');
        }
      }
      const primaryTablespaces = sshAs(env, env.LAB_PRIMARY_IP, [
        'sudo', '-n', '-u', env.LAB_PRIMARY_OS_USER, 'psql', '-X', '-At', '-h', env.LAB_PRIMARY_SOCKET_DIR, '-p', env.LAB_PRIMARY_PORT, '-d', 'appdb',
        '-c', "select string_agg(pg_tablespace_location(oid), ' ' order by spcname) from pg_tablespace where spcname like 'ts%'",
      ]);
      expect(primaryTablespaces).toBe(env.LAB_PRIMARY_TABLESPACE_DIRS);
      expect(env.LAB_TABLESPACES).toBe(String(pair.tablespaces ?? 0));
    });
  }
});
