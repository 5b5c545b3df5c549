// A command's input, checked before any AWS client, step or SDK module is loaded: the config files
// `--config` names, the rate control of several environments, the global flags and the config
// itself. A problem here is exit 2 with no AWS call, and costs only this module, zod and yaml.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, type RunbookConfig } from '../config.js';
import { UsageError } from '../core/errors.js';
import { parseStepList } from '../core/step.js';

/** `--config` values → config files: a folder stands for its *.yaml / *.yml files, in name order (config/production.yaml by default). */
export function configFiles(values: string[] | undefined): string[] {
  const given = values?.length ? values : ['config/production.yaml'];
  return given.flatMap((value) => {
    if (existsSync(value) && statSync(value).isDirectory()) {
      const files = readdirSync(value).filter((f) => /\.ya?ml$/.test(f)).sort().map((f) => join(value, f));
      if (!files.length) throw new UsageError(`--config: folder ${value} holds no .yaml file`);
      return files;
    }
    return [value];
  });
}

export interface RateControl {
  maxConcurrency: number;
  maxErrors: number;
}

export function rateControl(flags: { maxConcurrency?: string; maxErrors?: string }): RateControl {
  const whole = (value: string | undefined, fallback: number, name: string, min: number) => {
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > 1000) throw new UsageError(`${name}: "${value}" is not a whole number from ${min} to 1000`);
    return n;
  };
  return {
    maxConcurrency: whole(flags.maxConcurrency, 4, '--max-concurrency', 1),
    maxErrors: whole(flags.maxErrors, Number.POSITIVE_INFINITY as number, '--max-errors', 0),
  };
}

export interface SessionInputs {
  config: RunbookConfig;
  pollSeconds: number;
}

/** The flags and the config of one environment, checked; `--only` names checked against the step ids. */
export function checkSessionInputs(options: { config: string; pollInterval: string; endpointUrl?: string; only?: string; region?: string }): SessionInputs {
  const pollSeconds = Number(options.pollInterval);
  if (!Number.isFinite(pollSeconds) || pollSeconds <= 0 || pollSeconds > 300) {
    throw new UsageError(`--poll-interval: "${options.pollInterval}" is not a number of seconds between 0 and 300`);
  }
  if (options.endpointUrl && !/^https?:\/\/[^/]+/.test(options.endpointUrl)) {
    throw new UsageError(`--endpoint-url: "${options.endpointUrl}" is not an http(s) URL`);
  }
  parseStepList(options.only || undefined, '--only');
  return { config: loadConfig(options.config, process.env, { region: options.region }), pollSeconds };
}
