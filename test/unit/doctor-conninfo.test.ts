import { describe, expect, it } from 'vitest';
import { shownConninfo } from '../../src/doctor/render.js';
import { conninfo, parseConninfo } from '../../src/facts/conninfo.js';

describe("reading the standby's primary_conninfo", () => {
  it('reads what pg_basebackup -R writes, quoted password included', () => {
    const written = "user=replicator password='hand made \\'secret\\'' channel_binding=prefer host=10.77.0.11 port=5433 sslmode=prefer";
    expect(Object.fromEntries(parseConninfo(written)!)).toEqual({ user: 'replicator', password: "hand made 'secret'", channel_binding: 'prefer', host: '10.77.0.11', port: '5433', sslmode: 'prefer' });
  });

  it('reads back what the wizard writes, spaces around = and all', () => {
    const params: [string, string][] = [['host', 'db1'], ['passfile', '/srv/pg home/.pgpass'], ['application_name', "o'brien"]];
    expect(parseConninfo(conninfo(params))).toEqual(params);
    expect(parseConninfo('host = db1  port=5432')).toEqual([['host', 'db1'], ['port', '5432']]);
  });

  it('reads a postgresql:// URI', () => {
    expect(Object.fromEntries(parseConninfo('postgresql://repl:p%40ss@[fd00::1]:5433/postgres?application_name=s1')!)).toEqual({
      host: 'fd00::1',
      port: '5433',
      user: 'repl',
      password: 'p@ss',
      dbname: 'postgres',
      application_name: 's1',
    });
  });

  it('gives up on text libpq would reject', () => {
    expect(parseConninfo("host='unterminated")).toBeUndefined();
  });

  it('never shows a password in either form', () => {
    expect(shownConninfo("user=r password='a b' host=h")).toBe('user=r password=*** host=h');
    expect(shownConninfo('postgresql://repl:secret@db1:5433/')).toBe('postgresql://repl:***@db1:5433/');
  });
});
