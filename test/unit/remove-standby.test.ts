import { describe, expect, it } from 'vitest';
import { namedAsSynchronous } from '../../steps/remove-standby.js';

describe('namedAsSynchronous', () => {
  it('finds a standby in every form of synchronous_standby_names, and * names them all', () => {
    expect(namedAsSynchronous('FIRST 1 (db2, db3)', 'db3')).toBe(true);
    expect(namedAsSynchronous('ANY 2 ("db2", db3)', 'db2')).toBe(true);
    expect(namedAsSynchronous('2 (db2, db3)', 'db2')).toBe(true);
    expect(namedAsSynchronous('db2, db3', 'DB3')).toBe(true);
    expect(namedAsSynchronous('*', 'db4')).toBe(true);
  });

  it('does not match another name or an empty setting', () => {
    expect(namedAsSynchronous('FIRST 1 (db2, db3)', 'db4')).toBe(false);
    expect(namedAsSynchronous('db22', 'db2')).toBe(false);
    expect(namedAsSynchronous('', 'db2')).toBe(false);
  });
});
