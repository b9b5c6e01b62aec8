import React from 'react';
import { render } from 'ink';
import type { Options } from '../options.js';
import { App } from './App.js';

export async function runApp(options: Options): Promise<number> {
  let exitCode = 0;
  const instance = render(<App options={options} onExit={(code) => (exitCode = code)} />, { exitOnCtrlC: false });
  await instance.waitUntilExit();
  return exitCode;
}
