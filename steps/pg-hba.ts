import { WizardError } from '../src/errors.js';
import type { Privilege } from '../src/remote/commands.js';
import { hostNetworks } from '../src/facts/host.js';
import { where, type CheckResult, type PlannedAction, type Step, type StepContext } from './contract.js';
import { sharedWithCheck } from './lib/checked-state.js';
import { unifiedDiff } from './lib/config-files.js';
import {
  firstMatchingRule,
  hbaErrorLines,
  hbaLine,
  hostCidr,
  passwordMethods,
  placeHbaLine,
  taggedLineNumbers,
  type HbaRule,
  type ReplicationClient,
} from './lib/hba-rules.js';
import { fileOwner, livePasswordMethod, liveSetting, query, replaceHbaFile } from './lib/live-server.js';

/**
 * A pg_hba.conf line that lets the standby's replication connections in with a password:
 * `host replication <role> <standby>/32 scram-sha-256`, placed so it is the first rule that
 * matches, and tagged with the slot name so a re-run finds (and never duplicates) it.
 */

interface HbaState {
  hbaFile: string;
  owner: Privilege;
  text: string;
  rules: HbaRule[];
  client: ReplicationClient;
  firstMatch?: HbaRule;
  /** Lines of the file with errors, as pg_hba_file_rules reports them. */
  errors: string[];
  line: string;
}

async function hbaRules(ctx: StepContext): Promise<HbaRule[]> {
  // From 16 on, include files make rule_number (not line_number) the order of evaluation.
  const order = ctx.primary.cluster.major >= 16 ? 'rule_number, file_name, line_number' : 'line_number';
  return query<HbaRule>(ctx.primary, `SELECT * FROM pg_hba_file_rules ORDER BY ${order}`);
}

/** `known`: the file's owner and the server's networks as check() found them (verify reads the rest again). */
async function readState(ctx: StepContext, known?: Pick<HbaState, 'hbaFile' | 'owner'> & { serverNetworks: string[] }): Promise<HbaState> {
  const { roleName, standbyAddress, slotName } = ctx.settings;
  // Re-read live: the file discovery saw may have been moved since (hba_file can be changed).
  const hbaFile = await liveSetting(ctx.primary, 'hba_file');
  const same = known?.hbaFile === hbaFile ? known : undefined;
  // Independent reads, asked together: one round trip's wait instead of five.
  const [fileState, rules, ssl, serverNetworksNow, passwordMethod] = await Promise.all([
    // The server's OS user reads it (the server does), so the read need not wait for the owner, whom edits run as.
    Promise.all([same?.owner ?? fileOwner(ctx.primary, hbaFile), ctx.primary.host.readFile(hbaFile, 'postgres')]).then(([owner, text]) => ({ owner, text })),
    hbaRules(ctx),
    liveSetting(ctx.primary, 'ssl'),
    same?.serverNetworks ?? hostNetworks(ctx.primary.host),
    livePasswordMethod(ctx.primary),
  ]);
  const { owner, text } = fileState;
  if (text === null) {
    throw new WizardError(`hba_file ${hbaFile} does not exist`, where(ctx.primary), 'restore it (the server runs with the rules it loaded before) and run again');
  }
  const client: ReplicationClient = { address: standbyAddress, role: roleName, ssl: ssl === 'on', serverNetworks: serverNetworksNow };
  return {
    hbaFile,
    owner,
    text,
    rules,
    client,
    firstMatch: firstMatchingRule(rules, client),
    errors: hbaErrorLines(rules),
    line: hbaLine(roleName, standbyAddress, passwordMethod, slotName, client.ssl),
  };
}

const describeRule = (rule: HbaRule) =>
  `line ${rule.line_number}${rule.file_name ? ` of ${rule.file_name}` : ''} (${rule.type} ${rule.database?.join(',')} ${rule.user_name?.join(',')} ${rule.address ?? ''}${rule.netmask ? `/${rule.netmask}` : ''} ${rule.auth_method})`;

const letsIn = (rule: HbaRule | undefined) => !!rule && (passwordMethods as readonly string[]).includes(rule.auth_method ?? '');

/** Where our line goes: before the first matching rule (the top, when that rule is in an include file), or at the end. */
function insertBefore(state: HbaState): number | undefined {
  const match = state.firstMatch;
  if (!match) return undefined;
  return match.file_name && match.file_name !== state.hbaFile ? 1 : match.line_number;
}

function refuseBrokenFile(ctx: StepContext, state: HbaState): void {
  if (state.errors.length === 0) return;
  throw new WizardError(
    `${state.hbaFile} already has errors (${state.errors.join('; ')}), so a reload would not load it`,
    where(ctx.primary),
    'fix those lines (the server keeps the rules it loaded last), then run again',
  );
}

const connection = (ctx: StepContext) => `a replication connection from ${ctx.settings.standbyAddress} as ${ctx.settings.roleName}`;

const hbaState = sharedWithCheck((ctx) => readState(ctx));

export const pgHbaStep: Step = {
  id: 'pg-hba',
  title: 'pg_hba.conf rule for the standby',
  upstreamTitle: 'pg_hba.conf rule for the standby on the upstream',

  async check(ctx): Promise<CheckResult> {
    const state = await hbaState.forCheck(ctx);
    if (state.errors.length > 0) return { done: false, detail: `${state.hbaFile} has errors: ${state.errors.join('; ')}` };
    const match = state.firstMatch;
    if (letsIn(match)) {
      if (match!.auth_method === 'password') {
        ctx.note(`${state.hbaFile} ${describeRule(match!)} sends the replication password in clear text; scram-sha-256 is safer`);
      }
      return { done: true, detail: `${connection(ctx)} matches ${describeRule(match!)}` };
    }
    return { done: false, detail: match ? `${connection(ctx)} first matches ${describeRule(match)}` : `no rule in ${state.hbaFile} matches ${connection(ctx)}` };
  },

  async plan(ctx): Promise<PlannedAction[]> {
    const state = await hbaState.afterCheck(ctx);
    refuseBrokenFile(ctx, state);
    const before = insertBefore(state);
    const after = placeHbaLine(state.text, state.line, ctx.settings.slotName, before);
    const placement = before === undefined ? 'append it at the end' : `insert it before line ${before}, which ${connection(ctx)} matches first now`;
    return [
      {
        side: 'primary',
        summary: `allow ${connection(ctx)} (${hostCidr(ctx.settings.standbyAddress)}) in ${state.hbaFile}: ${placement} (the file is backed up first)`,
        diff: unifiedDiff(state.hbaFile, state.text, after),
      },
      { side: 'primary', summary: 'reload the configuration', sql: 'SELECT pg_reload_conf();' },
    ];
  },

  async apply(ctx): Promise<string> {
    const state = await hbaState.afterCheck(ctx);
    refuseBrokenFile(ctx, state);
    if (letsIn(state.firstMatch)) return `${state.hbaFile} already lets the standby in`;
    const before = insertBefore(state);
    const after = placeHbaLine(state.text, state.line, ctx.settings.slotName, before);
    const { backup, errors } = await replaceHbaFile(ctx.primary, 'primary', state.hbaFile, after, state.owner, ctx.recordChange);
    if (errors.length > 0) {
      throw new WizardError(
        `the edited ${state.hbaFile} does not parse (${errors.join('; ')}); it was restored from ${backup}`,
        where(ctx.primary),
        `add this line by hand where it fits, then reload: ${state.line}`,
      );
    }
    return `${before === undefined ? 'appended' : `inserted before line ${before}`}: ${state.line.replace(/\s+/g, ' ')} (backup ${backup})`;
  },

  async verify(ctx): Promise<string> {
    // What apply() cannot have changed, the file's owner and the server's networks, is not asked again.
    const checked = await hbaState.checked(ctx);
    const state = await readState(ctx, checked && { hbaFile: checked.hbaFile, owner: checked.owner, serverNetworks: checked.client.serverNetworks });
    const match = state.firstMatch;
    const ours = taggedLineNumbers(state.text, ctx.settings.slotName);
    const fromInclude = !!match?.file_name && match.file_name !== state.hbaFile;
    if (!match || !letsIn(match) || fromInclude || !ours.includes(match.line_number)) {
      throw new WizardError(
        `${connection(ctx)} ${match ? `first matches ${describeRule(match)}` : 'matches no rule'}, not the line the wizard wrote`,
        where(ctx.primary),
        `something else edited ${state.hbaFile} at the same time; check it and run again`,
      );
    }
    return `pg_hba_file_rules: ${connection(ctx)} first matches ${describeRule(match)}, the wizard's line`;
  },
};
