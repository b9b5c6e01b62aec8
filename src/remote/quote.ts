/**
 * POSIX shell quoting. ssh2 (like OpenSSH) sends one command string that the remote login
 * shell parses, so every argument is wrapped in single quotes, where nothing is special
 * except the single quote itself.
 */
export function shellQuote(arg: string): string {
  if (arg.includes('\0')) throw new Error('a command argument cannot contain a NUL byte');
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

export function commandLine(argv: readonly string[]): string {
  if (argv.length === 0) throw new Error('empty command');
  return argv.map(shellQuote).join(' ');
}
