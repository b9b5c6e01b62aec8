import { doctorNodes, examine, type DoctorNodes, type Examination } from '../doctor/doctor.js';
import type { Options } from '../options.js';
import type { Emit } from './events.js';

export { doctorNodes, type DoctorNodes };

/** The diagnose job: both servers read afresh, the findings judged from what was read. */
export async function diagnoseJob(nodes: DoctorNodes, options: Options, emit: Emit): Promise<Examination> {
  const examination = await examine(nodes, options);
  emit({ type: 'diagnosed', examination });
  return examination;
}
