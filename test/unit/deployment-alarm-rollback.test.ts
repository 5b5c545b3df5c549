// Service Stable after a deployment that a deployment alarm rolled back (issue 12). moto never
// fails or rolls back a deployment and has no DescribeServiceDeployments, so this is mocked: the
// shapes are the ECS API's (Service.currentServiceDeployment, ServiceDeployment.alarms.triggeredAlarmNames,
// Deployment.rolloutStateReason).
import { DescribeServiceDeploymentsCommand, DescribeServicesCommand, type Deployment, type Service } from '@aws-sdk/client-ecs';
import { beforeEach, describe, expect, it } from 'vitest';
import { judgeDeployment } from '../../src/aws/deployment.js';
import { serviceStable } from '../../src/checks/post-deploy.js';
import { ACCOUNT_ID, awsError, mockAws, testContext, type AwsMocks } from '../helpers/mock-aws.js';

const tdArn = (revision: number) => `arn:aws:ecs:us-east-1:${ACCOUNT_ID}:task-definition/fintech-api-task:${revision}`;
const ours = 'ecs-svc/2000000000000000008';
const serviceDeploymentArn = `arn:aws:ecs:us-east-1:${ACCOUNT_ID}:service-deployment/fintech-prod-cluster/fintech-api-svc/2000000000000000008`;
const alarm = 'fintech-api-svc-deploy-payment-latency';

const deployment = (id: string, revision: number, extra: Partial<Deployment> = {}): Deployment => ({
  id,
  status: 'PRIMARY',
  taskDefinition: tdArn(revision),
  desiredCount: 3,
  runningCount: 3,
  rolloutState: 'COMPLETED',
  createdAt: new Date('2025-03-01T10:00:00Z'),
  ...extra,
});

/** ECS after the alarm fired: the rollback deployment (revision 7) is PRIMARY, ours (8) failed and drains. */
const rolledBack = (extra: Partial<Service> = {}): Service => ({
  serviceName: 'fintech-api-svc',
  status: 'ACTIVE',
  taskDefinition: tdArn(7),
  desiredCount: 3,
  runningCount: 3,
  currentServiceDeployment: serviceDeploymentArn,
  deployments: [
    deployment('ecs-svc/rollback', 7, { rolloutState: 'IN_PROGRESS' }),
    deployment(ours, 8, { status: 'ACTIVE', rolloutState: 'FAILED', rolloutStateReason: `ECS deployment ${ours} failed: alarm(s) detected.` }),
  ],
  events: [],
  ...extra,
});

let aws: AwsMocks;
beforeEach(() => {
  aws = mockAws();
});

describe('Service Stable with deployment alarms', () => {
  it('a deployment rolled back on alarm fails Service Stable, naming the alarm that fired', async () => {
    aws.ecs.on(DescribeServicesCommand).resolves({ services: [rolledBack()] });
    aws.ecs.on(DescribeServiceDeploymentsCommand).resolves({
      serviceDeployments: [
        { serviceDeploymentArn, status: 'ROLLBACK_IN_PROGRESS', alarms: { status: 'TRIGGERED', alarmNames: [alarm, 'fintech-api-svc-deploy-api-errors'], triggeredAlarmNames: [alarm] } },
      ],
    });
    const finding = await serviceStable(testContext(), true, { deploymentId: ours, taskDefinition: tdArn(8) });
    expect(finding.status).toBe('FAIL');
    expect(finding.reason).toMatch(new RegExp(`^rolled back on alarm ${alarm}: deployment ${ours} is no longer PRIMARY`));
    expect(aws.ecs.commandCalls(DescribeServiceDeploymentsCommand)[0].args[0].input).toEqual({ serviceDeploymentArns: [serviceDeploymentArn] });
  });

  it('validate (no wait) judges the same way', async () => {
    aws.ecs.on(DescribeServicesCommand).resolves({ services: [rolledBack()] });
    aws.ecs.on(DescribeServiceDeploymentsCommand).resolves({ serviceDeployments: [{ status: 'ROLLBACK_SUCCESSFUL', alarms: { triggeredAlarmNames: [alarm] } }] });
    const finding = await serviceStable(testContext(), false, { taskDefinition: tdArn(8) });
    expect(finding).toMatchObject({ status: 'FAIL', reason: expect.stringContaining(`rolled back on alarm ${alarm}`) });
  });

  it('without DescribeServiceDeployments (no permission): still FAIL, and the reason ECS gave says it was an alarm', async () => {
    aws.ecs.on(DescribeServicesCommand).resolves({ services: [rolledBack()] });
    aws.ecs.on(DescribeServiceDeploymentsCommand).rejects(awsError('AccessDeniedException', 'not authorized'));
    const finding = await serviceStable(testContext(), true, { deploymentId: ours, taskDefinition: tdArn(8) });
    expect(finding.status).toBe('FAIL');
    expect(finding.reason).toContain('alarm(s) detected');
    expect(finding.reason).toMatch(/^failed on a deployment alarm: /);
  });

  it('a circuit-breaker rollback (no alarm) is not blamed on an alarm, and asks ECS which alarms fired', async () => {
    const service = rolledBack({
      deployments: [deployment('ecs-svc/rollback', 7), deployment(ours, 8, { status: 'ACTIVE', rolloutState: 'FAILED', rolloutStateReason: 'tasks failed to start' })],
    });
    aws.ecs.on(DescribeServicesCommand).resolves({ services: [service] });
    aws.ecs.on(DescribeServiceDeploymentsCommand).resolves({ serviceDeployments: [{ status: 'ROLLBACK_SUCCESSFUL', alarms: { triggeredAlarmNames: [] } }] });
    const finding = await serviceStable(testContext(), true, { deploymentId: ours, taskDefinition: tdArn(8) });
    expect(finding.status).toBe('FAIL');
    expect(finding.reason).not.toMatch(/alarm/);
  });

  it('a stable deployment makes no DescribeServiceDeployments call', async () => {
    aws.ecs.on(DescribeServicesCommand).resolves({ services: [{ ...rolledBack(), taskDefinition: tdArn(8), deployments: [deployment(ours, 8)] }] });
    const finding = await serviceStable(testContext(), true, { deploymentId: ours, taskDefinition: tdArn(8) });
    expect(finding.status).toBe('OK');
    expect(aws.ecs.commandCalls(DescribeServiceDeploymentsCommand)).toHaveLength(0);
  });

  it('judgeDeployment puts the triggered alarms first in a failed verdict only', () => {
    expect(judgeDeployment(rolledBack(), { deploymentId: ours }, [alarm]).reason).toMatch(new RegExp(`^rolled back on alarm ${alarm}`));
    const stable = { ...rolledBack(), taskDefinition: tdArn(8), deployments: [deployment(ours, 8)] };
    expect(judgeDeployment(stable, { deploymentId: ours }, [alarm]).state).toBe('stable');
  });
});
