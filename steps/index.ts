import type { Step } from './contract.js';
import { replicationRoleStep } from './replication-role.js';
import { primarySettingsStep } from './primary-settings.js';
import { pgHbaStep } from './pg-hba.js';
import { replicationSlotStep } from './replication-slot.js';
import { cloneStandbyStep } from './clone-standby.js';
import { recoveryConfigStep } from './recovery-config.js';
import { startStandbyStep } from './start-standby.js';
import { verifyStreamingStep } from './verify-streaming.js';

/** The runbook's eight steps, in the order they must run. */
export const setupSteps: readonly Step[] = [
  replicationRoleStep,
  primarySettingsStep,
  pgHbaStep,
  replicationSlotStep,
  cloneStandbyStep,
  recoveryConfigStep,
  startStandbyStep,
  verifyStreamingStep,
];
