/**
 * --timings: where a run's time went (Node's start and module load, connecting, discovery,
 * each precheck, each step), printed on stderr when the run ends. Off by default: then
 * `timed` only runs its work. Times are from the process's start (performance.now()).
 */
interface Span {
  name: string;
  startMs: number;
  endMs: number;
}

let spans: Span[] | undefined;

/** `enteredMs`: when the CLI's main began; before it, Node's own start and the CLI's static imports. */
export function startTimings(enteredMs: number): void {
  spans = [{ name: 'node start, cli module load', startMs: 0, endMs: enteredMs }];
}

/** Runs `work` and, with --timings, records how long it took under `name`. */
export async function timed<T>(name: string, work: () => Promise<T>): Promise<T> {
  if (!spans) return work();
  const span = { name, startMs: performance.now(), endMs: Number.NaN };
  spans.push(span);
  try {
    return await work();
  } finally {
    span.endMs = performance.now();
  }
}

/** One line a span, in start order: its start, its length (side by side spans overlap), its name. */
export function timingsText(): string | undefined {
  if (!spans) return undefined;
  const seconds = (ms: number) => `${(ms / 1000).toFixed(3)} s`.padStart(9);
  const lines = [...spans]
    .sort((a, b) => a.startMs - b.startMs)
    .map((span) => `timings: at ${seconds(span.startMs)} took ${seconds(span.endMs - span.startMs)}  ${span.name}`);
  return [...lines, `timings: ${seconds(performance.now()).trim()} in all`].join('\n');
}
