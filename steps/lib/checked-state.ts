import type { StepContext } from '../contract.js';

/**
 * A step's read of the hosts, shared by check() and the plan() or apply() the runner calls
 * right after it on the same context, so that apply does not read everything again a moment
 * later. `afterCheck` takes the read once; verify() reads again, and may take from `checked`
 * what it need not read twice (facts its apply() cannot have changed).
 */
export function sharedWithCheck<T>(read: (ctx: StepContext) => Promise<T>) {
  const fromCheck = new WeakMap<StepContext, Promise<T>>();
  const forVerify = new WeakMap<StepContext, Promise<T>>();
  return {
    forCheck(ctx: StepContext): Promise<T> {
      const state = read(ctx);
      fromCheck.set(ctx, state);
      forVerify.set(ctx, state);
      return state;
    },
    afterCheck(ctx: StepContext): Promise<T> {
      const state = fromCheck.get(ctx);
      fromCheck.delete(ctx);
      return state ?? read(ctx);
    },
    /** The last check()'s read on this context, for verify(); undefined when check() did not run on it. */
    checked(ctx: StepContext): Promise<T> | undefined {
      return forVerify.get(ctx);
    },
  };
}
