import type { Choice, Io } from '../io.js';
import type { HostKeyDecision, UnknownHostKey } from '../remote/connect.js';

/** A question the core is waiting on, shown by the app until the operator answers. */
export interface PendingQuestion {
  title: string;
  details: string[];
  choices: Choice<unknown>[];
  answer: (value: unknown) => void;
}

/** The Io port for the Ink app: each question becomes screen state, answered by a menu. */
export function inkIo(show: (question: PendingQuestion | undefined) => void): Io {
  let queue: Promise<unknown> = Promise.resolve();
  const ask = <T>(title: string, details: string[], choices: Choice<T>[]): Promise<T> => {
    const turn = queue.then(
      () =>
        new Promise<T>((resolve) => {
          show({
            title,
            details,
            choices,
            answer: (value) => {
              show(undefined);
              resolve(value as T);
            },
          });
        }),
    );
    queue = turn.catch(() => undefined);
    return turn;
  };
  return {
    interactive: true,
    confirmHostKey: (key: UnknownHostKey) =>
      ask<HostKeyDecision>(
        `The ${key.role} host ${key.host} port ${key.port} is not in known_hosts`,
        [`${key.keyType} key fingerprint is ${key.fingerprint}`, 'Compare it with the server (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub) before trusting it.'],
        [
          { label: 'Trust it and save it to known_hosts', value: 'trust-and-save' },
          { label: 'Trust it for this run only', value: 'trust-once' },
          { label: 'Reject and stop', value: 'reject' },
        ],
      ),
    choose: <T>(question: string, choices: Choice<T>[]) => ask(question, [], choices),
  };
}
