import type { SetupSettings } from '../../steps/contract.js';

/** Settings as prepare.ts resolves them for the lab pair; unit tests override what they vary. */
export const sampleSettings: SetupSettings = {
  roleName: 'repl',
  password: 'never shown',
  passwordGenerated: false,
  slotName: 'pgrepl_10_77_0_12',
  primaryAddress: '10.77.0.11',
  standbyAddress: '10.77.0.12',
  primaryListenAddress: '10.77.0.11',
  checkpoint: 'fast',
  keepOldData: true,
  passfile: '/var/lib/postgresql/.pgpass',
};
