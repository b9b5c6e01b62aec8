import { withSection, writeSectionWhenRun, type GeneratedSection } from '../readme-section.js';
import { journal, pgCtlCluster, rootCommands, systemctl, type RootCommand } from './commands.js';

/** How a host's chosen cluster is run, as far as privileges go. */
export interface PrivilegeLayout {
  loginUser: string;
  /** The OS user that owns the cluster's data directory. */
  serverUser: string;
  /** How it is started and stopped (see ClusterRef.manager). */
  manager: 'pg_ctlcluster' | 'pg_ctl' | 'systemctl';
  /** systemd runs the host. */
  systemd: boolean;
}

/** What a security team reads before granting less than ALL: said plainly with every rule set. */
export const sudoersCaveats = [
  'A rule that allows `sh -c` or `perl -e` as a user is as good as being that user. The wizard runs constant `sh -c` scripts and a `perl` socket relay as the server user, so its rule for that user is ALL: a list of programs would grant no less.',
  'Root runs only plain programs with arguments, and only what the server user cannot do. Where this layout needs no root, grant none: when a run needs root after all, setup names the command and the reason before it changes anything, and prints the command to run by hand.',
  'A root rule with `*` for a path lets its holder name any path: `install -d`, `mv`, `rm -rf`, `cp -p`, `tee` with `*` are as good as root. Grant one only when its case (the comment above it) is yours, or run the command setup prints by hand.',
];

/** Root commands that belong to another layout's init system never show. */
function applies(command: RootCommand, layout: PrivilegeLayout): boolean {
  if (command === (pgCtlCluster as unknown)) return layout.manager === 'pg_ctlcluster';
  if (command === (systemctl as unknown)) return layout.manager === 'systemctl';
  if (command === (journal as unknown)) return layout.systemd;
  return true;
}

/** Root commands this layout needs on every run that starts or stops a server: systemd's. */
const always = (command: RootCommand, layout: PrivilegeLayout) => layout.systemd && (command === (pgCtlCluster as unknown) || command === (systemctl as unknown));

/** One line per case: the commands that case needs, joined as sudoers joins them. */
function byCase(commands: readonly RootCommand[], loginUser: string, serverUser: string, commented: boolean): string[] {
  const cases = [...new Set(commands.map((command) => command.rootWhen))];
  return cases.flatMap((when) => [
    `#${commented ? '   ' : ' '}when ${when}:`,
    `${commented ? '#   ' : ''}${loginUser} ALL=(root) NOPASSWD: ${commands.filter((command) => command.rootWhen === when).map((command) => command.sudoers(serverUser)).join(', ')}`,
  ]);
}

/**
 * The sudoers lines for a login user on one host, from the registry (src/remote/commands.ts):
 * the server user's rule, root's rules this layout needs on every run, and root's rules for
 * particular cases commented out, each under the case that needs it.
 */
export function sudoersLines(layout: PrivilegeLayout): string[] {
  const { loginUser, serverUser } = layout;
  if (loginUser === 'root') return ['# logged in as root: no sudo rule is needed'];
  const lines = loginUser === serverUser ? [`# logged in as ${serverUser}, the server user: only root's commands need sudo`] : [`${loginUser} ALL=(${serverUser}) NOPASSWD: ALL`];
  const relevant = rootCommands.filter((command) => applies(command, layout));
  const needed = relevant.filter((command) => always(command, layout));
  lines.push(...byCase(needed, loginUser, serverUser, false));
  if (needed.length === 0) lines.push('# root: not needed on this layout, only in these cases (uncomment the rule of a case that is yours):');
  else lines.push('# root in these cases too (uncomment the rule of a case that is yours):');
  lines.push(...byCase(relevant.filter((command) => !needed.includes(command)), loginUser, serverUser, true));
  return lines;
}

export const beginMarker = '<!-- sudoers:begin (generated from src/remote/commands.ts by `npm run docs`; edit the registry, not this) -->';
export const endMarker = '<!-- sudoers:end -->';

const readmeLayouts: { title: string; layout: PrivilegeLayout }[] = [
  { title: 'Debian/Ubuntu packages (pg_ctlcluster) on a host systemd runs', layout: { loginUser: 'ops', serverUser: 'postgres', manager: 'pg_ctlcluster', systemd: true } },
  { title: 'Debian/Ubuntu packages without systemd (containers, the lab)', layout: { loginUser: 'ops', serverUser: 'postgres', manager: 'pg_ctlcluster', systemd: false } },
  { title: "A PGDG server systemd started (postgresql-N unit)", layout: { loginUser: 'ops', serverUser: 'postgres', manager: 'systemctl', systemd: true } },
  { title: 'A hand-installed server run by its own account with pg_ctl (here dbadmin)', layout: { loginUser: 'ops', serverUser: 'dbadmin', manager: 'pg_ctl', systemd: false } },
];

/** README's least-privilege section: the same lines inspect prints, per layout, for a login user `ops`. */
export function sudoersSection(): string {
  return [
    beginMarker,
    ...sudoersCaveats.flatMap((caveat) => [`- ${caveat}`]),
    '',
    ...readmeLayouts.flatMap(({ title, layout }) => [`${title}:`, '', '```', ...sudoersLines(layout), '```', '']),
    endMarker,
  ].join('\n');
}

/** README's least-privilege section (put before Troubleshooting the first time). */
export const sudoersReadmeSection: GeneratedSection = {
  begin: beginMarker,
  end: endMarker,
  text: sudoersSection,
  insertAt: (readme) => readme.indexOf('\n## Troubleshooting'),
};

export const withSudoersSection = (readme: string) => withSection(readme, sudoersReadmeSection);

writeSectionWhenRun(import.meta.url, sudoersReadmeSection, 'the sudoers section');
