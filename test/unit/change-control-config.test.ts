// The issue 12 config settings: deploy.blockSeverity and deploy.alarms, approval, changeCalendar.
// Every problem names its field; nothing is sent to AWS.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.js';
import { ConfigError } from '../../src/core/errors.js';
import { fixtureEnv, productionYaml } from '../helpers/mock-aws.js';

const parse = (text: string) => parseConfig(text, fixtureEnv, 'config/production.yaml');
function problems(text: string): string[] {
  try {
    parse(text);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}
const edit = (from: string, to: string) => {
  expect(productionYaml).toContain(from);
  return productionYaml.replace(from, to);
};
const latency = '    paymentLatency: { statistic: p99, threshold: 1000, periodSeconds: 60, evaluationPeriods: 3, datapointsToAlarm: 2 }';

describe('issue 12 config', () => {
  it("production.yaml: CRITICAL gate, the three alarms, no approval rule and no calendar (nothing changes for a single operator)", () => {
    const config = parse(productionYaml);
    expect(config.deploy?.blockSeverity).toBe('CRITICAL');
    expect(config.deploy?.alarms?.paymentLatency).toEqual({ statistic: 'p99', threshold: 1000, periodSeconds: 60, evaluationPeriods: 3, datapointsToAlarm: 2 });
    expect(config.approval).toBeUndefined();
    expect(config.changeCalendar).toBeUndefined();
  });

  it('blockSeverity defaults to CRITICAL; a typo is named', () => {
    expect(parse(edit('  blockSeverity: CRITICAL', '  # blockSeverity: CRITICAL')).deploy?.blockSeverity).toBe('CRITICAL');
    expect(problems(edit('blockSeverity: CRITICAL', 'blockSeverity: SEVERE'))).toEqual([expect.stringMatching(/^deploy\.blockSeverity: /)]);
  });

  it.each([
    ['statistic: p99', 'statistic: median', 'deploy.alarms.paymentLatency.statistic: must be SampleCount, Average, Sum, Minimum, Maximum or a percentile such as p99'],
    ['periodSeconds: 60, evaluationPeriods: 3, datapointsToAlarm: 2 }   # ms', 'periodSeconds: 45, evaluationPeriods: 3, datapointsToAlarm: 2 }   # ms', 'deploy.alarms.paymentLatency.periodSeconds: must be 10, 30 or a multiple of 60 seconds (CloudWatch alarm periods)'],
    ['datapointsToAlarm: 2 }   # ms', 'datapointsToAlarm: 4 }   # ms', 'deploy.alarms.paymentLatency.datapointsToAlarm: datapointsToAlarm must not exceed evaluationPeriods'],
    ['threshold: 1000', 'threshold: -1', 'deploy.alarms.paymentLatency.threshold: Too small: expected number to be >=0'],
  ])('a bad alarm setting is named: %s → %s', (from, to, problem) => {
    expect(latency).toContain(from.replace('   # ms', ''));
    expect(problems(edit(from, to))).toEqual([problem]);
  });

  it('an unknown alarm key is refused (strict)', () => {
    expect(problems(edit(latency, `${latency}\n    cpu: { statistic: Sum, threshold: 1, periodSeconds: 60, evaluationPeriods: 1 }`))).toEqual([
      expect.stringMatching(/^deploy\.alarms: Unrecognized key: "cpu"/),
    ]);
  });

  it('approval.required and changeCalendar parse; a calendar ARN must be a document in this account and region', () => {
    const config = parse(`${productionYaml}\napproval: { required: true }\nchangeCalendar: fintech-prod-freeze\n`);
    expect(config.approval).toEqual({ required: true });
    expect(config.changeCalendar).toBe('fintech-prod-freeze');
    expect(parse(`${productionYaml}\nchangeCalendar: arn:aws:ssm:us-east-1:123456789012:document/fintech-prod-freeze\n`).changeCalendar).toContain('document/');
    expect(problems(`${productionYaml}\nchangeCalendar: "freeze calendar"\n`)).toEqual(['changeCalendar: must be a Systems Manager Change Calendar name or document ARN']);
    expect(problems(`${productionYaml}\napproval: { required: yes please }\n`)).toEqual([expect.stringMatching(/^approval\.required: /)]);
  });
});
