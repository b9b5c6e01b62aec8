import { describe, expect, it } from 'vitest';
import { initialReview, reduceReview } from '../../src/ui/steps-review.js';

describe('plan review state', () => {
  const steps = 3;
  const items = steps + 2;

  it('starts on the first answer, so Enter alone answers it', () => {
    expect(initialReview(steps)).toEqual({ cursor: 3, open: [] });
  });

  it('opens and closes the step under the cursor, and Enter on an answer changes nothing', () => {
    let state = initialReview(steps);
    state = reduceReview(state, 'up', items, steps);
    state = reduceReview(state, 'enter', items, steps);
    expect(state).toEqual({ cursor: 2, open: [2] });
    state = reduceReview(state, 'enter', items, steps);
    expect(state.open).toEqual([]);
    state = reduceReview(reduceReview(state, 'down', items, steps), 'enter', items, steps);
    expect(state).toEqual({ cursor: 3, open: [] });
  });

  it('keeps the cursor inside the list', () => {
    let state = initialReview(steps);
    for (let i = 0; i < 10; i++) state = reduceReview(state, 'down', items, steps);
    expect(state.cursor).toBe(4);
    for (let i = 0; i < 10; i++) state = reduceReview(state, 'up', items, steps);
    expect(state.cursor).toBe(0);
  });
});
