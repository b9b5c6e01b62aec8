import { describe, expect, it } from 'vitest';
import { explainSyncList, expectedSyncStates, formatSyncList, namesStandby, parseSyncList, satisfiable } from '../../src/facts/sync-standbys.js';
import { listWithout } from '../../steps/remove-standby.js';
import { satisfiableList } from '../../steps/sync-standbys.js';

describe('synchronous_standby_names', () => {
  it.each([
    ['FIRST 1 (a, "b c")', { method: 'first', count: 1, names: ['a', 'b c'] }],
    ['ANY 2 (a,b)', { method: 'any', count: 2, names: ['a', 'b'] }],
    ['any 1 (a, b)', { method: 'any', count: 1, names: ['a', 'b'] }],
    ['2 (a, b)', { method: 'first', count: 2, names: ['a', 'b'] }],
    ['a, b', { method: 'first', count: 1, names: ['a', 'b'] }],
    ['*', { method: 'first', count: 1, names: ['*'] }],
    ['', undefined],
  ])('%j reads as %j', (setting, list) => {
    expect(parseSyncList(setting)).toEqual(list);
  });

  it('finds a standby in every form, case-insensitively, and * names them all', () => {
    expect(namesStandby(parseSyncList('FIRST 1 (db2, db3)'), 'db3')).toBe(true);
    expect(namesStandby(parseSyncList('ANY 2 ("db2", db3)'), 'db2')).toBe(true);
    expect(namesStandby(parseSyncList('db2, db3'), 'DB3')).toBe(true);
    expect(namesStandby(parseSyncList('*'), 'db4')).toBe(true);
    expect(namesStandby(parseSyncList('db22'), 'db2')).toBe(false);
    expect(namesStandby(parseSyncList(''), 'db2')).toBe(false);
  });

  it('writes a list back as the server reads it, quoting what is not a plain name', () => {
    expect(formatSyncList({ method: 'any', count: 1, names: ['lab_one', 'lab_two'] })).toBe('ANY 1 (lab_one, lab_two)');
    expect(formatSyncList({ method: 'first', count: 2, names: ['Db2', 'first'] })).toBe('FIRST 2 ("Db2", first)');
  });

  it('explains who a commit waits for and what happens when standbys go away', () => {
    const [anyWaits, anyAway] = explainSyncList({ method: 'any', count: 1, names: ['a', 'b'] });
    expect(anyWaits).toContain('every commit waits until any 1 of a, b confirms it');
    expect(anyAway).toContain('Up to 1 of them may stop and commits go on');
    const [firstWaits, firstAway] = explainSyncList({ method: 'first', count: 2, names: ['a', 'b'] });
    expect(firstWaits).toContain('every commit waits until the first 2 of a, b that stream');
    expect(firstAway).toContain('if any of a, b stops or loses its connection, every commit waits');
  });

  it('gives each listed standby the sync_state pg_stat_replication shows', () => {
    expect([...expectedSyncStates({ method: 'first', count: 1, names: ['a', 'B'] })]).toEqual([['a', 'sync'], ['b', 'potential']]);
    expect([...expectedSyncStates({ method: 'any', count: 1, names: ['a', 'b'] })]).toEqual([['a', 'quorum'], ['b', 'quorum']]);
  });

  it('lowers an unsatisfied list to what streams, or off when nothing listed streams', () => {
    const firstTwo = { method: 'first' as const, count: 2, names: ['a', 'b'] };
    expect(satisfiable(firstTwo, ['a', 'b'])).toBe(true);
    expect(satisfiableList(firstTwo, ['a', 'b'])).toBeUndefined();
    expect(satisfiableList(firstTwo, ['a', 'c'])).toEqual({ list: { ...firstTwo, count: 1 } });
    expect(satisfiableList(firstTwo, ['c'])).toEqual({});
  });

  it('takes a removed standby out of the list: n never above the names left, off when none is left, * untouched', () => {
    expect(listWithout({ method: 'first', count: 2, names: ['a', 'b'] }, 'B')).toEqual({ list: { method: 'first', count: 1, names: ['a'] } });
    expect(listWithout({ method: 'any', count: 1, names: ['a', 'b', 'c'] }, 'b')).toEqual({ list: { method: 'any', count: 1, names: ['a', 'c'] } });
    expect(listWithout({ method: 'any', count: 1, names: ['a'] }, 'a')).toEqual({});
    expect(listWithout({ method: 'first', count: 1, names: ['*'] }, 'a')).toBeUndefined();
  });
});
