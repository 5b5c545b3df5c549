// The one JSON document a command prints with --json, and the AWS calls made so far (for the error
// document). No AWS SDK here: the CLI's error handler loads this module for a config error too.
import { AsyncLocalStorage } from 'node:async_hooks';

let jsonPrinted = false;
/** Whether this process already wrote its one JSON document (the error handler writes one if not). */
export const jsonDocumentPrinted = () => jsonPrinted;

/** Several environments in one run: each one's JSON document is collected here, not printed. */
export const jsonSink = new AsyncLocalStorage<unknown[]>();

export function printJson(report: unknown): void {
  const sink = jsonSink.getStore();
  if (sink) {
    sink.push(report);
    return;
  }
  jsonPrinted = true;
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
}

export interface CallsSoFar {
  reads: number;
  writes: number;
  byOperation: unknown[];
}

let callSource: (() => CallsSoFar) | undefined;
/** The session's call counter, once one is open (src/commands/shared.ts openSession). */
export function registerCallsSoFar(source: () => CallsSoFar): void {
  callSource = source;
}

/** AWS calls made so far by this process's session (for the error document): none before one opened. */
export const callsSoFar = (): CallsSoFar => callSource?.() ?? { reads: 0, writes: 0, byOperation: [] };
