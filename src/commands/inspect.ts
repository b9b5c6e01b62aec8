import { terminalIo } from '../io.js';
import type { Options } from '../options.js';
import { hostReport } from '../report.js';
import { sudoersCaveats } from '../remote/sudoers.js';
import { openSession } from '../jobs/session.js';

export async function inspectCommand(options: Options): Promise<number> {
  const io = terminalIo();
  const { facts, close } = await openSession(options, io);
  try {
    if (options.json) console.log(JSON.stringify({ ok: true, ...facts }, null, 2));
    else {
      // A cascade's upstream sits between the two: primary → upstream → standby.
      const hosts = [facts.primary, ...(facts.upstream ? [facts.upstream] : []), facts.standby];
      console.log([...hosts.flatMap((host) => [...hostReport(host, options.sudoersFor), '']), 'About these sudo rules:', ...sudoersCaveats.map((caveat) => `- ${caveat.replaceAll('`', '')}`)].join('\n'));
    }
    return 0;
  } finally {
    await close();
  }
}
