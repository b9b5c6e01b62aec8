import pg from 'pg';
import { WizardError } from '../src/errors.js';
import { passwordEnv } from '../src/setup/prepare.js';
import { where, type CheckResult, type PlannedAction, type Step, type StepContext } from './contract.js';
import { livePasswordMethod, query } from './lib/live-server.js';
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
  /** What is missing, in the operator's words; empty when the role is ready. */
  missing: string[];
}

async function roleState(ctx: StepContext): Promise<RoleState> {
  const { roleName, password } = ctx.settings;
  const [role] = await query<RoleRow>(
    ctx.primary,
    `SELECT rolcanlogin, rolreplication, rolpassword,
            coalesce(rolvaliduntil < now(), false) AS expired
       FROM pg_authid WHERE rolname = $1`,
    [roleName],
  );
  const method = await livePasswordMethod(ctx.primary);
  if (!role) return { method, passwordOk: false, otherPassword: false, missing: ['does not exist'] };
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
  return { role, method, passwordOk, otherPassword, missing };
}

/**
 * A generated password was not asked for: replacing an existing role's password with it would
 * lock out whatever uses the role today (another standby, a backup tool).
 */
function refuseGeneratedReplacement(ctx: StepContext, state: RoleState): void {
  if (!ctx.settings.passwordGenerated || !state.otherPassword) return;
  throw new WizardError(
    `role ${ctx.settings.roleName} already exists with a password, and no password was given for it`,
    where(ctx.primary),
    `set ${passwordEnv} to its current password (or to the new one you want it to have), or choose another role with --role`,
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

export const replicationRoleStep: Step = {
  id: 'replication-role',
  title: 'Replication role on the primary',

  async check(ctx): Promise<CheckResult> {
    const state = await roleState(ctx);
    const name = ctx.settings.roleName;
    return state.missing.length === 0
      ? { done: true, detail: `role ${name} exists with LOGIN REPLICATION and the given password (${state.method})` }
      : { done: false, detail: `role ${name} ${state.missing.join(', ')}` };
  },

  async plan(ctx): Promise<PlannedAction[]> {
    const state = await roleState(ctx);
    refuseGeneratedReplacement(ctx, state);
    const name = ctx.settings.roleName;
    const fixes = [
      'LOGIN REPLICATION',
      ...(state.passwordOk ? [] : [`the given password as a ${state.method} verifier`]),
      ...(state.otherPassword ? [`replacing its current password (update anything else that logs in as ${name})`] : []),
      ...(state.role?.expired ? ['no expiry (VALID UNTIL infinity)'] : []),
    ];
    const summary = state.role
      ? `role ${name} ${state.missing.join(', ')}: set ${fixes.join(', ')}`
      : `create role ${name} with ${fixes.join(', ')}`;
    return [{ side: 'primary', summary, sql: roleStatement(ctx, state, placeholder(state.method)) }];
  },

  async apply(ctx): Promise<string> {
    const state = await roleState(ctx);
    if (state.missing.length === 0) return `role ${ctx.settings.roleName} was already ready`;
    refuseGeneratedReplacement(ctx, state);
    const verifier = verifierFor(state.method, ctx.settings.password, ctx.settings.roleName);
    await query(ctx.primary, roleStatement(ctx, state, pg.escapeLiteral(verifier)));
    ctx.recordChange({
      side: 'primary',
      what: `${state.role ? 'altered' : 'created'} role ${ctx.settings.roleName} (LOGIN REPLICATION${state.passwordOk ? '' : ', new password'})`,
      undo: state.role ? undefined : `DROP ROLE ${pg.escapeIdentifier(ctx.settings.roleName)}`,
    });
    return `${state.role ? 'updated' : 'created'} role ${ctx.settings.roleName}`;
  },

  async verify(ctx): Promise<string> {
    const state = await roleState(ctx);
    if (state.missing.length > 0) {
      throw new WizardError(
        `role ${ctx.settings.roleName} ${state.missing.join(', ')} after it was set up`,
        where(ctx.primary),
        'something changed the role at the same time (another tool or session); run again',
      );
    }
    return `pg_authid: ${ctx.settings.roleName} can log in, may replicate, and its stored ${state.method} verifier accepts the password`;
  },
};
