import { reviewQuestion, typedConfirmationProblem, type Choice, type Io, type PlanReview } from '../io.js';
import type { HostKeyDecision, UnknownHostKey } from '../remote/connect.js';

/** A question the core is waiting on, shown by the app until the operator answers. */
export type PendingQuestion =
  | { kind: 'choice'; title: string; details: string[]; choices: Choice<unknown>[]; answer: (value: unknown) => void }
  | { kind: 'text'; title: string; details: string[]; mask?: string; problem?: (value: string) => string | undefined; answer: (value: string) => void }
  | { kind: 'review'; title: string; details: string[]; review: PlanReview; answer: (go: boolean) => void };

type Question = PendingQuestion extends infer Q ? (Q extends PendingQuestion ? Omit<Q, 'answer'> : never) : never;

/**
 * The Io port for the Ink app: each question becomes screen state, answered by a menu or a
 * text field. `cancel` (Esc) rejects the open question, so the step waiting on it stops.
 */
export function inkIo(show: (question: PendingQuestion | undefined) => void): Io & { cancel(reason: Error): void } {
  let queue: Promise<unknown> = Promise.resolve();
  let rejectOpen: ((reason: Error) => void) | undefined;
  const ask = <T>(question: Question): Promise<T> => {
    const turn = queue.then(
      () =>
        new Promise<T>((resolve, reject) => {
          rejectOpen = reject;
          const answer = (value: unknown) => {
            show(undefined);
            rejectOpen = undefined;
            resolve(value as T);
          };
          show({ ...question, answer } as PendingQuestion);
        }),
    );
    queue = turn.catch(() => undefined);
    return turn;
  };
  const yesNo: Choice<boolean>[] = [
    { label: 'No, stop here', value: false },
    { label: 'Yes', value: true },
  ];
  return {
    cancel: (reason) => {
      show(undefined);
      rejectOpen?.(reason);
    },
    interactive: true,
    confirmHostKey: (key: UnknownHostKey) =>
      ask<HostKeyDecision>({
        kind: 'choice',
        title: `The ${key.role} host ${key.host} port ${key.port} is not in known_hosts`,
        details: [`${key.keyType} key fingerprint is ${key.fingerprint}`, 'Compare it with the server (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub) before trusting it.'],
        choices: [
          { label: 'Trust it and save it to known_hosts', value: 'trust-and-save' },
          { label: 'Trust it for this run only', value: 'trust-once' },
          { label: 'Reject and stop', value: 'reject' },
        ],
      }),
    choose: <T>(title: string, choices: Choice<T>[]) => ask<T>({ kind: 'choice', title, details: [], choices }),
    askSecret: (title: string) => ask<string>({ kind: 'text', title, details: [], mask: '*' }),
    confirm: async (title: string, _flag: string, typed?: string) =>
      typed
        ? (await ask<string>({ kind: 'text', title: `Type ${typed} to confirm:`, details: [title], problem: (answer) => typedConfirmationProblem(answer, typed) })).trim() === typed
        : ask<boolean>({ kind: 'choice', title, details: [], choices: yesNo }),
    reviewPlan: (review: PlanReview) => ask<boolean>({ kind: 'review', title: reviewQuestion(review), details: [], review }),
  };
}
