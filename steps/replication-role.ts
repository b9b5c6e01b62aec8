import pg from 'pg';
import { clientTool } from '../src/facts/clusters.js';
import { WizardError } from '../src/errors.js';
import { passwordEnv } from '../src/options.js';
import { storePassword, writePassfile } from './clone-standby.js';
import { where, writableServer, type CheckResult, type Node, type PlannedAction, type SetupSettings, type Step, type StepContext } from './contract.js';
import { sharedWithCheck } from './lib/checked-state.js';
import { livePasswordMethod, query } from './lib/live-server.js';
import { findPassfileEntry, upsertPassfileEntry } from './lib/passfile.js';
import { passfileParams, probeReplication, replicationProbeArgv } from '../src/facts/replication.js';
import { verifierAccepts, verifierFor, verifierMethod, type PasswordMethod } from './lib/password-verifier.js';

type RoleRow = {
  rolcanlogin: boolean;
  rolreplication: boolean;
  rolpassword: string | null;
  expired: boolean;
};

interface RoleState {
  role?: RoleRow;
  method: PasswordMethod;
  /** The stored verifier accepts the given password and is of the needed kind. */
  passwordOk: boolean;
  /** The role has a password and it is another one: setting ours replaces it. */
  otherPassword: boolean;
  /** Other standbys streaming as this role now (application_name from address): they log in with its current password. */
  otherStandbys: string[];
  /** What is missing, in the operator's words; empty when the role is ready. */
  missing: string[];
  /** The standby's passfile as it is (null: no file). */
  passfile: string | null;
  /**
   * The passfile has a line for this primary and role with another password: the standby
   * logs in with it at its next connection, so it changes together with the role's.
   */
  standbyStale: boolean;
}

async function readRole(primary: Node, roleName: string): Promise<RoleRow | undefined> {
  const [role] = await query<RoleRow>(
    primary,
    `SELECT rolcanlogin, rolreplication, rolpassword,
            coalesce(rolvaliduntil < now(), false) AS expired
       FROM pg_authid WHERE rolname = $1`,
    [roleName],
  );
  return role;
}

const standbyEntry = (ctx: StepContext, passfile: string | null) =>
  passfile === null ? undefined : findPassfileEntry(passfile, ctx.settings.primaryAddress, ctx.primary.cluster.port, ctx.settings.roleName);

/** `passfile`: the standby's passfile as check() read it, when this step has not written it since. */
async function roleState(ctx: StepContext, passfileRead?: string | null): Promise<RoleState> {
  const { roleName, password } = ctx.settings;
  const [role, method, passfile, others] = await Promise.all([
    readRole(writableServer(ctx), roleName),
    livePasswordMethod(writableServer(ctx)),
    passfileRead !== undefined ? passfileRead : ctx.standby.host.readFile(ctx.settings.passfile, 'postgres'),
    query<{ standby: string }>(
      writableServer(ctx),
      `SELECT coalesce(nullif(application_name, ''), 'unnamed') || ' from ' || coalesce(host(client_addr), 'a local socket') AS standby
         FROM pg_stat_replication WHERE usename = $1 AND host(client_addr) IS DISTINCT FROM $2 ORDER BY 1`,
      [roleName, ctx.settings.standbyAddress],
    ),
  ]);
  const otherStandbys = others.map((row) => row.standby);
  const entry = standbyEntry(ctx, passfile);
  const standbyStale = entry !== undefined && entry !== password;
  if (!role) return { method, passwordOk: false, otherPassword: false, otherStandbys, missing: ['does not exist'], passfile, standbyStale };
  const accepts = verifierAccepts(role.rolpassword, password, roleName);
  const stored = verifierMethod(role.rolpassword);
  // A scram-sha-256 line in pg_hba.conf cannot use an md5 verifier; an md5 line can use either.
  const passwordOk = accepts && (stored === method || stored === 'scram-sha-256');
  const otherPassword = role.rolpassword !== null && !accepts;
  const missing = [
    ...(role.rolcanlogin ? [] : ['has no LOGIN']),
    ...(role.rolreplication ? [] : ['has no REPLICATION']),
    ...(role.expired ? ['has an expired password (VALID UNTIL)'] : []),
    ...(passwordOk ? [] : [role.rolpassword === null ? 'has no password' : otherPassword ? 'has a different password' : `stores its password as ${stored}, ${method} is needed`]),
  ];
  return { role, method, passwordOk, otherPassword, otherStandbys, missing, passfile, standbyStale };
}

/**
 * How the standby's stored password is known to be the role's current one, or undefined: a
 * new replication connection from the standby authenticates with it, or, while none can be
 * made yet (pg_hba, listen_addresses), the role's verifier on the primary accepts it.
 */
export async function storedPasswordProof(
  primary: Node,
  standby: Node,
  settings: Pick<SetupSettings, 'primaryAddress' | 'roleName' | 'passfile'>,
  stored: string,
): Promise<string | undefined> {
  if (!primary.address) return undefined;
  const role = await readRole(primary, settings.roleName);
  if (!role) return undefined;
  const probe = await probeReplication(standby, passfileParams(settings, primary.cluster.port));
  if (probe.ok) return 'a new replication connection from the standby authenticated with it';
  if (verifierAccepts(role.rolpassword, stored, settings.roleName)) return "the role's verifier on the primary accepts it";
  return undefined;
}

/** What the operator should know about the password this run uses (never the password). */
function passwordNote(ctx: StepContext): string {
  const kept = ctx.settings.keptPassword;
  if (!kept) return '';
  const ignored = kept.givenIgnored
    ? `; ${passwordEnv} was ignored (the standby's password works): pass --rotate-password to change the password on both ends`
    : '';
  return `; that password in ${ctx.settings.passfile} is kept (${kept.proof})${ignored}`;
}

/**
 * A generated password was not asked for (no --rotate-password): replacing an existing role's
 * password with it would lock out whatever uses the role today (another standby, a backup tool).
 */
function refuseGeneratedReplacement(ctx: StepContext, state: RoleState): void {
  if (!ctx.settings.passwordGenerated || ctx.settings.rotatePassword || !state.otherPassword) return;
  throw new WizardError(
    `role ${ctx.settings.roleName} already exists with a password, and no password was given for it`,
    where(writableServer(ctx)),
    `give its current password (or the new one you want it to have) at the wizard's password prompt or in ${passwordEnv}, or choose another role with --role`,
  );
}

/**
 * Other standbys log in as this role with its current password: replacing it (a password given
 * for this standby that is not the role's) would lock them out at their next connection.
 */
function refuseLockingOutOthers(ctx: StepContext, state: RoleState): void {
  if (ctx.settings.rotatePassword || !state.otherPassword || state.otherStandbys.length === 0) return;
  throw new WizardError(
    `role ${ctx.settings.roleName} has another password than the one given, and ${state.otherStandbys.join(', ')} stream${state.otherStandbys.length === 1 ? 's' : ''} as ${ctx.settings.roleName} with it: replacing it would lock ${state.otherStandbys.length === 1 ? 'that standby' : 'them'} out at the next connection`,
    where(writableServer(ctx)),
    `nothing was changed; set ${passwordEnv} to the password those standbys use (in their server user's ~/.pgpass), or give this standby a role of its own with --role`,
  );
}

const placeholder = (method: PasswordMethod) => `'<${method === 'md5' ? 'md5' : 'SCRAM'} verifier, computed locally>'`;

/** The statement; `passwordLiteral` is the quoted verifier, or the placeholder for the plan. */
function roleStatement(ctx: StepContext, state: RoleState, passwordLiteral: string): string {
  const role = pg.escapeIdentifier(ctx.settings.roleName);
  const password = state.passwordOk ? '' : ` PASSWORD ${passwordLiteral}`;
  const validity = state.role?.expired ? " VALID UNTIL 'infinity'" : '';
  return `${state.role ? 'ALTER' : 'CREATE'} ROLE ${role} WITH LOGIN REPLICATION${password}${validity}`;
}

/**
 * The standby's half of a password change, right after ALTER ROLE. A walsender that already
 * streams keeps its authenticated connection; the walreceiver's next one (after any restart or
 * network blip) reads the passfile, which must then hold the role's new password. The file is
 * replaced atomically; when that fails, or when the standby authenticated before and a new
 * replication connection no longer does, both ends get their old passwords back.
 */
async function updateStandby(ctx: StepContext, state: RoleState, authenticatedBefore: boolean): Promise<string> {
  const { settings } = ctx;
  const port = ctx.primary.cluster.port;
  const rollBack = async (failure: string, restorePassfile: boolean): Promise<never> => {
    const problems: string[] = [];
    if (state.role) {
      // A stored verifier is taken as it is: the old password comes back without being known.
      const previous = state.role.rolpassword === null ? 'NULL' : pg.escapeLiteral(state.role.rolpassword);
      await query(writableServer(ctx), `ALTER ROLE ${pg.escapeIdentifier(settings.roleName)} PASSWORD ${previous}`).catch((error: Error) =>
        problems.push(`role ${settings.roleName} on the primary keeps the new password (${error.message})`),
      );
    }
    if (restorePassfile && state.passfile !== null) {
      await writePassfile(ctx, state.passfile).catch((error: Error) => problems.push(`${settings.passfile} on the standby keeps the new password (${error.message})`));
    }
    if (problems.length === 0) {
      throw new WizardError(`${failure}; both ends were set back to the password they had, the pair is as it was`, where(ctx.standby), 'fix the cause above and run again');
    }
    throw new WizardError(
      `${failure}; setting the old password back failed: ${problems.join('; ')}. The standby cannot log in at its next connection`,
      where(ctx.standby),
      `run setup --yes again with ${passwordEnv} set to the new password and --rotate-password (it writes the missing end), or unset ${passwordEnv} and run setup --yes: it sets the standby's stored password on the primary`,
    );
  };
  try {
    await writePassfile(ctx, upsertPassfileEntry(state.passfile ?? '', settings.primaryAddress, port, settings.roleName, settings.password));
  } catch (error) {
    return rollBack(`the new password is set on the primary but could not be written to ${settings.passfile} on the standby: ${(error as Error).message}`, false);
  }
  const probe = authenticatedBefore ? await probeReplication(ctx.standby, passfileParams(settings, port)) : undefined;
  if (probe && !probe.ok) return rollBack(`a new replication connection from the standby with the new password failed: ${probe.output}`, true);
  ctx.recordChange({ side: 'standby', what: `wrote the new password for ${settings.primaryAddress}:${port}:replication:${settings.roleName} into ${settings.passfile} (mode 0600)` });
  return `${settings.passfile} holds the new password${probe ? '; a new replication connection from the standby authenticated with it' : ''}`;
}

/**
 * The role gets a password no passfile holds yet: it is stored on the standby in this same step,
 * so a run that stops later (at the primary's restart, say) leaves it where the next run finds
 * it, never only in a role nobody can log in as. (A passfile holding another password is
 * updateStandby's case.)
 */
const storesNewPassword = (state: RoleState) => !state.passwordOk && !state.standbyStale;

const checkedState = sharedWithCheck((ctx) => roleState(ctx));

export const replicationRoleStep: Step = {
  id: 'replication-role',
  title: 'Replication role on the primary',

  async check(ctx): Promise<CheckResult> {
    const state = await checkedState.forCheck(ctx);
    const name = ctx.settings.roleName;
    if (state.missing.length > 0) return { done: false, detail: `role ${name} ${state.missing.join(', ')}${passwordNote(ctx)}` };
    if (state.standbyStale) return { done: false, detail: `${ctx.settings.passfile} on the standby holds another password than role ${name}` };
    return { done: true, detail: `role ${name} exists with LOGIN REPLICATION and ${ctx.settings.keptPassword ? "the standby's stored" : 'the given'} password (${state.method})${passwordNote(ctx)}` };
  },

  async plan(ctx): Promise<PlannedAction[]> {
    const state = await checkedState.afterCheck(ctx);
    refuseGeneratedReplacement(ctx, state);
    refuseLockingOutOthers(ctx, state);
    const name = ctx.settings.roleName;
    const actions: PlannedAction[] = [];
    if (state.missing.length > 0) {
      const fixes = [
        'LOGIN REPLICATION',
        ...(state.passwordOk ? [] : [`the given password as a ${state.method} verifier`]),
        ...(state.otherPassword ? [`replacing its current password (update anything else that logs in as ${name})`] : []),
        ...(state.role?.expired ? ['no expiry (VALID UNTIL infinity)'] : []),
      ];
      const summary = state.role
        ? `role ${name} ${state.missing.join(', ')}: set ${fixes.join(', ')}`
        : `create role ${name} with ${fixes.join(', ')}`;
      actions.push({ side: 'primary', summary, sql: roleStatement(ctx, state, placeholder(state.method)) });
    }
    if (storesNewPassword(state)) {
      actions.push({ side: 'standby', summary: `right after that, store the password in ${ctx.settings.passfile} (owner ${ctx.standby.host.serverUser}, mode 0600, content through stdin)` });
    }
    if (state.standbyStale) {
      actions.push({
        side: 'standby',
        summary:
          `right after that, write the same password into ${ctx.settings.passfile} (atomic replace, owner postgres, mode 0600, content through stdin); ` +
          'the streaming connection stays, the next one logs in with it. When the standby could log in before, a new replication connection must then authenticate, else both ends get their old passwords back',
        command: replicationProbeArgv(clientTool(ctx.standby.cluster, 'psql'), passfileParams(ctx.settings, ctx.primary.cluster.port)),
      });
    }
    return actions;
  },

  async apply(ctx): Promise<string> {
    const state = await checkedState.afterCheck(ctx);
    const name = ctx.settings.roleName;
    if (state.missing.length === 0 && !state.standbyStale) return `role ${name} was already ready`;
    refuseGeneratedReplacement(ctx, state);
    refuseLockingOutOthers(ctx, state);
    // Asked before anything changes: a pair that logs in now must still log in afterwards.
    const authenticatedBefore = state.standbyStale && (await probeReplication(ctx.standby, passfileParams(ctx.settings, ctx.primary.cluster.port))).ok;
    const done: string[] = [];
    if (state.missing.length > 0) {
      const verifier = verifierFor(state.method, ctx.settings.password, name);
      await query(writableServer(ctx), roleStatement(ctx, state, pg.escapeLiteral(verifier)));
      done.push(`${state.role ? 'updated' : 'created'} role ${name}`);
    }
    // Throws after setting the role back when the standby's half fails: then nothing changed.
    if (state.standbyStale) done.push(await updateStandby(ctx, state, authenticatedBefore));
    if (state.missing.length > 0) {
      ctx.recordChange({
        side: 'primary',
        what: `${state.role ? 'altered' : 'created'} role ${name} (LOGIN REPLICATION${state.passwordOk ? '' : ', new password'})`,
        undo: state.role ? undefined : `DROP ROLE ${pg.escapeIdentifier(name)}`,
      });
    }
    if (storesNewPassword(state)) {
      // The passfile as check() read it: this step has not written it (storesNewPassword excludes updateStandby's case).
      await storePassword(ctx, { current: state.passfile });
      done.push(`stored its password in ${ctx.settings.passfile} on the standby`);
    }
    return `${done.join('; ')}${passwordNote(ctx)}`;
  },

  async verify(ctx): Promise<string> {
    // The role is read again; the passfile only when apply() wrote it (stale, or a new password stored).
    const checked = await checkedState.checked(ctx);
    const state = await roleState(ctx, checked && !checked.standbyStale && !storesNewPassword(checked) ? checked.passfile : undefined);
    const problems = [...state.missing.map((m) => `role ${ctx.settings.roleName} ${m}`), ...(state.standbyStale ? [`${ctx.settings.passfile} holds another password`] : [])];
    if (problems.length > 0) {
      throw new WizardError(
        `${problems.join(', ')} after it was set up`,
        where(writableServer(ctx)),
        'something changed the role or the passfile at the same time (another tool or session); run again',
      );
    }
    const standby = state.passfile !== null && standbyEntry(ctx, state.passfile) !== undefined ? `; ${ctx.settings.passfile} on the standby holds the same password` : '';
    return `pg_authid: ${ctx.settings.roleName} can log in, may replicate, and its stored ${state.method} verifier accepts the password${standby}`;
  },
};
