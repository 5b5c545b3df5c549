// Several environments: which files `--config` names, the rate-control flags, the summary table.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { summaryTable } from '../../src/commands/environments.js';
import { configFiles, rateControl } from '../../src/commands/inputs.js';
import { UsageError } from '../../src/core/errors.js';

describe('configFiles', () => {
  it('defaults to production.yaml, keeps files as given, and expands a folder to its YAML files in name order', () => {
    expect(configFiles(undefined)).toEqual(['config/production.yaml']);
    const dir = mkdtempSync(join(tmpdir(), 'envs-'));
    for (const name of ['b.yaml', 'a.yml', 'notes.txt']) writeFileSync(join(dir, name), '');
    mkdirSync(join(dir, 'sub'));
    expect(configFiles([dir, 'x.yaml'])).toEqual([join(dir, 'a.yml'), join(dir, 'b.yaml'), 'x.yaml']);
  });

  it('an empty folder is a usage error naming it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'envs-'));
    expect(() => configFiles([dir])).toThrow(UsageError);
    expect(() => configFiles([dir])).toThrow(/holds no \.yaml file/);
  });
});

describe('rateControl', () => {
  it('defaults: 4 at once, no error limit; bad values name the flag', () => {
    expect(rateControl({})).toEqual({ maxConcurrency: 4, maxErrors: Number.POSITIVE_INFINITY });
    expect(rateControl({ maxConcurrency: '2', maxErrors: '0' })).toEqual({ maxConcurrency: 2, maxErrors: 0 });
    expect(() => rateControl({ maxConcurrency: '0' })).toThrow(/--max-concurrency: "0"/);
    expect(() => rateControl({ maxErrors: 'many' })).toThrow(/--max-errors: "many"/);
  });
});

describe('summaryTable', () => {
  it('one aligned row per environment, "-" where a value is unknown', () => {
    const rows = summaryTable([
      { config: 'prod.yaml', account: '111111111111', region: 'us-east-1', cluster: 'prod', outcome: 'in sync', exitCode: 0, changes: 0, writes: 0 },
      { config: 'staging-eu.yaml', outcome: 'not run', exitCode: null },
    ]);
    expect(rows).toEqual([
      'ENVIRONMENT      ACCOUNT       REGION     CLUSTER  OUTCOME  CHANGES  WRITES',
      'prod.yaml        111111111111  us-east-1  prod     in sync  0        0',
      'staging-eu.yaml  -             -          -        not run  -        -',
    ]);
  });
});
