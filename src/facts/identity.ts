import type { Host } from '../remote/host.js';
import * as privileged from '../remote/commands.js';

/**
 * What tells whether two named clusters are one and the same, read without writing anything
 * (a marker written into PGDATA would be copied by the clone). Servers cloned from one VM
 * image share /etc/machine-id, often the host name and the data directory path, but never a
 * running kernel: one directory is the same directory only on the same kernel.
 */
export interface ClusterIdentity {
  /** /proc/sys/kernel/random/boot_id: new at every boot, different on every machine. */
  bootId: string;
  /** device:inode of the data directory (symlinks followed). */
  directory: string;
  /** The first lines of postmaster.pid (pid, data directory, start time, port, …) while the server runs. */
  postmaster?: string;
}

/** The server's OS user reads it: postmaster.pid sits in its 0700 data directory. */
export async function readClusterIdentity(host: Host, dataDirectory: string, running: boolean): Promise<ClusterIdentity> {
  const output = await host.run(privileged.clusterIdentity(dataDirectory, running), { as: 'postgres' });
  const [bootId = '', directory = '', ...pidFile] = output.split('\n');
  const postmaster = pidFile.join('\n').trim();
  return { bootId: bootId.trim(), directory: directory.trim(), ...(postmaster ? { postmaster } : {}) };
}

/** Same kernel, and the same directory or the same running postmaster. */
export const sameCluster = (a: ClusterIdentity, b: ClusterIdentity) =>
  a.bootId !== '' &&
  a.bootId === b.bootId &&
  ((a.directory !== '' && a.directory === b.directory) || (a.postmaster !== undefined && a.postmaster === b.postmaster));
