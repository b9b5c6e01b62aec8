/**
 * The fault matrix: each fault test/integration/faults.test.ts injects on real lab hosts, where,
 * what the operator sees, and what the next run does. The test runs exactly these entries and
 * asserts `sees` in the run's output; README's table is generated from them (`npm run docs`,
 * test/faults/readme-table.ts), so the table cannot claim a fault the tests never tried.
 */

export interface Fault {
  id: string;
  /** What goes wrong. */
  fault: string;
  /** The step (and moment) it is injected at. */
  at: string;
  /** How the run ends: its exit code, and whether it rode the fault out. */
  outcome: 'rides it out (exit 0)' | 'stops (exit 1)' | 'stops (exit 130)';
  /** Fragments of what the run prints, in order of appearance in the message; the test finds each. */
  sees: string[];
  /** What the operator does before running the same command again (nothing, or the cause's fix). */
  before: string;
}

export const faults: readonly Fault[] = [
  {
    id: 'ssh-killed-at-primary-restart',
    fault: "the primary's SSH session ended on the server (its sshd process killed)",
    at: 'Replication settings: while the primary restarts',
    outcome: 'stops (exit 1)',
    sees: ['lost the SSH connection to the primary', 'the SSH server closed the connection', 'The primary was being restarted', 'run the same command again'],
    before: 'nothing',
  },
  {
    id: 'sigterm-at-primary-restart-hung',
    fault: "SIGTERM to the wizard while the primary's restart hangs (pg_ctl waiting on a server whose processes were stopped, SIGSTOP)",
    at: 'Replication settings: while the primary restarts',
    outcome: 'stops (exit 130)',
    sees: ['interrupted by the operator', 'was running on the primary', 'and was ended', 'The primary was being restarted', 'a start already under way goes on by itself', 'start it if it is down', 'run the same command again'],
    before: "resume the server's processes (kill -CONT); start the primary if it is down (pg_lsclusters)",
  },
  {
    id: 'sudo-rule-removed-at-primary-restart',
    fault: "the login user's sudo rule removed (its /etc/sudoers.d file deleted) after the prechecks passed",
    at: "Replication settings: once the settings are written, before the primary's restart",
    outcome: 'stops (exit 1)',
    sees: ['may not run commands as postgres any more', 'though sudo ran them earlier in this run', '"sudo -n -v" says now: Sorry, user', 'did not run', 'The primary was not restarted', "'s sudo rule back on the", 'run the same command again'],
    before: 'put the sudo rule back',
  },
  {
    id: 'sudo-rule-removed-at-clone',
    fault: "the login user's sudo rule removed (its /etc/sudoers.d file deleted) after the prechecks passed",
    at: "Clone: once the standby's server was stopped for the clone",
    outcome: 'stops (exit 1)',
    sees: ['may not run commands as postgres any more', 'though sudo ran them earlier in this run', '"sudo -n -v" says now: Sorry, user', 'did not run', 'was stopped for the clone', "'s sudo rule back on the", 'run the same command again'],
    before: 'put the sudo rule back',
  },
  {
    id: 'standby-link-blip-at-clone',
    fault: "the standby's network link down for 5 s",
    at: 'Clone: while pg_basebackup copies',
    outcome: 'rides it out (exit 0)',
    sees: ['no answer from the standby', 'the connection held and the run went on'],
    before: 'nothing',
  },
  {
    id: 'standby-link-down-at-clone',
    fault: "the standby's network link down until the run gives up (40 s without an answer; the test sets PGREPL_SSH_TIMEOUT=6)",
    at: 'Clone: while pg_basebackup copies',
    outcome: 'stops (exit 1)',
    sees: ['lost the SSH connection to the standby', 'it answered nothing for', "The standby's data directory", 'is as it was', 'the primary was not changed by this step', 'run the same command again'],
    before: 'bring the network back',
  },
  {
    id: 'primary-link-blip-at-clone',
    fault: "the primary's network link down for 5 s",
    at: 'Clone: while pg_basebackup copies from it',
    outcome: 'rides it out (exit 0)',
    sees: ['no answer from the primary', 'the connection held and the run went on'],
    before: 'nothing',
  },
  {
    id: 'primary-link-down-at-clone',
    fault: "the primary's network link down until the run gives up (40 s without an answer; the test sets PGREPL_SSH_TIMEOUT=6)",
    at: 'Clone: while pg_basebackup copies from it',
    outcome: 'stops (exit 1)',
    sees: ['lost the SSH connection to the primary', 'it answered nothing for', 'pg_basebackup on the standby was stopped', "The standby's data directory", 'is as it was', 'the partial copy was removed', 'run the same command again'],
    before: 'bring the network back',
  },
  {
    id: 'primary-restarted-at-clone',
    fault: 'the primary restarted by someone else',
    at: 'Clone: while pg_basebackup copies',
    outcome: 'stops (exit 1)',
    sees: ["pg_basebackup failed; the standby's data directory was not touched", 'pg_basebackup: error:'],
    before: 'nothing',
  },
  {
    id: 'standby-bad-setting-at-start',
    fault: "a setting the standby cannot start with in its postgresql.conf (huge_pages = on, and the host has no huge pages)",
    at: 'Start the standby: the server refuses to start',
    outcome: 'stops (exit 1)',
    sees: ["the standby's cluster", 'did not start; its log says:', 'could not map anonymous shared memory'],
    before: 'correct the setting the log names',
  },
  {
    id: 'standby-disk-full-at-clone',
    fault: "the standby's filesystem filled by another writer after the precheck",
    at: 'Clone: while pg_basebackup copies',
    outcome: 'stops (exit 1)',
    sees: ["pg_basebackup failed; the standby's data directory was not touched", 'No space left on device', 'the partial copy was removed', 'free now on'],
    before: 'make room on that filesystem',
  },
  {
    id: 'sighup-at-clone',
    fault: 'the terminal closed (SIGHUP to the wizard)',
    at: 'Clone: while pg_basebackup copies',
    outcome: 'stops (exit 130)',
    sees: ["the clone was interrupted; the standby's data directory was not touched", 'the partial copy was removed', 'run the same command again'],
    before: 'nothing',
  },
  {
    id: 'sigint-at-standby-start',
    fault: 'Ctrl-C (SIGINT to the wizard)',
    at: 'Start the standby: once pg_ctl start runs',
    outcome: 'stops (exit 130)',
    sees: ['interrupted by the operator', 'was running on the standby', 'and was ended', 'a start already under way goes on by itself', 'may be starting or running now', 'run the same command again'],
    before: 'nothing: the standby comes up by itself (the test waits for it in recovery without starting it)',
  },
  {
    id: 'standby-sshd-stopped-at-start',
    fault: "the standby's sshd stopped, its sessions with it (every sshd process on the host killed), and started again only after the run",
    at: 'Start the standby: while it starts',
    outcome: 'stops (exit 1)',
    sees: ['lost the SSH connection to the standby', 'the SSH server closed the connection', 'run the same command again'],
    before: 'start sshd again (a run before that stops at once: "cannot reach … nothing listens there (sshd not running, or wrong port)")',
  },
  {
    id: 'primary-server-hung-before-run',
    fault: "the primary's PostgreSQL hung, not dead: every process of its cluster stopped (SIGSTOP); the test sets PGREPL_SSH_TIMEOUT=6",
    at: 'the first query to the primary (before any step)',
    outcome: 'stops (exit 1)',
    sees: ['PostgreSQL on port 5433 answered nothing for 6 s to', 'its postmaster (pid', 'is stopped (state T', 'kill -CONT'],
    before: "resume the server's processes (kill -CONT)",
  },
  {
    id: 'standby-replay-paused-at-verify',
    fault: 'replay paused on the standby (pg_wal_replay_pause() by someone else); the test sets PGREPL_STREAMING_TIMEOUT=5',
    at: 'Verify that the standby streams: while it waits for the canary to be replayed',
    outcome: 'stops (exit 1)',
    sees: ['the standby did not replay a canary written at', 'within 5 s', 'in state streaming', 'bytes received but not yet applied, and its replay is paused', 'pg_wal_replay_resume()'],
    before: 'resume replay (SELECT pg_wal_replay_resume() on the standby)',
  },
  {
    id: 'primary-hba-immutable',
    fault: "the primary's pg_hba.conf made immutable (chattr +i)",
    at: 'pg_hba.conf rule for the standby: when it replaces the file',
    outcome: 'stops (exit 1)',
    sees: ['cannot replace /etc/postgresql/15/prod/pg_hba.conf', 'immutable (chattr +i)', 'the file is unchanged', 'chattr -i'],
    before: 'chattr -i the file, if the change is welcome',
  },
  {
    id: 'second-run-same-pair',
    fault: 'a second run against the same primary and standby while the first runs',
    at: 'before any step (the first run is cloning)',
    outcome: 'stops (exit 1)',
    sees: ["another pgrepl-wizard run is working on the primary's cluster", 'started', 'wait until that run has finished'],
    before: 'let the first run finish',
  },
  {
    id: 'second-run-same-primary',
    fault: "a second run against the same primary for another standby (another cluster on the standby's host, a name of its own) while the first runs",
    at: 'before any step (the first run is cloning)',
    outcome: 'stops (exit 1)',
    sees: ["another pgrepl-wizard run is working on the primary's cluster", 'started', 'wait until that run has finished'],
    before: 'let the first run finish',
  },
  {
    id: 'doctor-fix-during-setup',
    fault: 'doctor --fix --yes against the same pair while a setup runs',
    at: "before doctor's repairs (the setup is at its first step)",
    outcome: 'stops (exit 1)',
    sees: ["another pgrepl-wizard run is working on the primary's cluster", 'started', 'wait until that run has finished'],
    before: 'let the setup finish',
  },
  {
    id: 'lock-left-by-dead-run',
    fault: 'a run killed (SIGKILL) mid-clone leaves its lock behind',
    at: 'the next run, before any step',
    outcome: 'rides it out (exit 0)',
    sees: ['a lock left by an earlier run that has ended', 'ending pg_basebackup'],
    before: 'nothing',
  },
];
