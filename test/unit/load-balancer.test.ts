import {
  AddTagsCommand,
  CreateListenerCommand,
  CreateTargetGroupCommand,
  DeleteListenerCommand,
  DeleteTargetGroupCommand,
  DescribeListenersCommand,
  DescribeTagsCommand,
  DescribeTargetGroupAttributesCommand,
  DescribeTargetGroupsCommand,
  ModifyListenerCommand,
  ModifyTargetGroupAttributesCommand,
  ModifyTargetGroupCommand,
  RemoveTagsCommand,
  type Listener,
  type TargetGroup,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { beforeEach, describe, expect, it } from 'vitest';
import { loadBalancerStep, type LoadBalancerState } from '../../steps/load-balancer.js';
import { describeAwsError, UnsafeChangeError } from '../../src/core/errors.js';
import { ACCOUNT_ID, awsError, fixtureEnv, mockAws, testContext, writeCalls, type AwsMocks } from '../helpers/mock-aws.js';

const albArn = fixtureEnv.ALB_ARN!;
const certificateArn = fixtureEnv.CERT_ARN!;
const vpcId = fixtureEnv.VPC_ID!;
const tgArn = `arn:aws:elasticloadbalancing:us-east-1:${ACCOUNT_ID}:targetgroup/fintech-prod-tg/73e2d6bc24d8a067`;
const otherTgArn = `arn:aws:elasticloadbalancing:us-east-1:${ACCOUNT_ID}:targetgroup/other-team-tg/0123456789abcdef`;
const listenerArn = `arn:aws:elasticloadbalancing:us-east-1:${ACCOUNT_ID}:listener/app/fintech-prod-alb/50dc6c495c0c9188/f2f7dc8efc522ab2`;
const tls13 = 'ELBSecurityPolicy-TLS13-1-2-2021-06';
const tls12 = 'ELBSecurityPolicy-TLS-1-2-2017-01';
const tgResource = 'target group fintech-prod-tg';
const listenerResource = 'https listener :443 on fintech-prod-alb';
const tags = [
  { Key: 'Environment', Value: 'Production' },
  { Key: 'Project', Value: 'FinTechGlobal' },
  { Key: 'CostCenter', Value: 'CC-Corp' },
];

const inSyncTg: TargetGroup = {
  TargetGroupArn: tgArn,
  TargetGroupName: 'fintech-prod-tg',
  Protocol: 'HTTP',
  Port: 8080,
  VpcId: vpcId,
  HealthCheckProtocol: 'HTTP',
  HealthCheckPort: 'traffic-port',
  HealthCheckEnabled: true,
  HealthCheckIntervalSeconds: 30,
  HealthCheckTimeoutSeconds: 5,
  HealthyThresholdCount: 5,
  UnhealthyThresholdCount: 2,
  HealthCheckPath: '/health',
  Matcher: { HttpCode: '200' },
  LoadBalancerArns: [albArn],
  TargetType: 'ip',
  ProtocolVersion: 'HTTP1',
  IpAddressType: 'ipv4',
};

const attributes = (delay: string, stickiness = 'false') => [
  { Key: 'deregistration_delay.timeout_seconds', Value: delay },
  { Key: 'stickiness.enabled', Value: stickiness },
  { Key: 'stickiness.type', Value: 'lb_cookie' },
  { Key: 'load_balancing.algorithm.type', Value: 'round_robin' },
];

const inSyncListener: Listener = {
  ListenerArn: listenerArn,
  LoadBalancerArn: albArn,
  Port: 443,
  Protocol: 'HTTPS',
  Certificates: [{ CertificateArn: certificateArn }],
  SslPolicy: tls13,
  DefaultActions: [{ Type: 'forward', TargetGroupArn: tgArn }],
};
const httpListener: Listener = { ...inSyncListener, ListenerArn: `${listenerArn}0`, Port: 80, Protocol: 'HTTP', Certificates: [], SslPolicy: undefined };

const notFound = () => awsError('TargetGroupNotFoundException', 'One or more target groups not found', 'req-tg-missing');

let aws: AwsMocks;
beforeEach(() => {
  aws = mockAws();
});

function mockObserved(options: { tg?: TargetGroup; attrs?: ReturnType<typeof attributes>; listeners?: Listener[]; tgTags?: typeof tags; listenerTags?: typeof tags } = {}) {
  const { tg = inSyncTg, attrs = attributes('30'), listeners = [httpListener, inSyncListener], tgTags = tags, listenerTags = tags } = options;
  aws.elbv2.on(DescribeTargetGroupsCommand).resolves({ TargetGroups: [tg] });
  aws.elbv2.on(DescribeTargetGroupAttributesCommand).resolves({ Attributes: attrs });
  aws.elbv2.on(DescribeListenersCommand).resolves({ Listeners: listeners });
  aws.elbv2.on(DescribeTagsCommand).resolves({
    TagDescriptions: [
      { ResourceArn: tgArn, Tags: tgTags },
      { ResourceArn: listenerArn, Tags: listenerTags },
    ],
  });
}

describe('load-balancer step (1.5)', () => {
  it('creates the target group, its attributes and the HTTPS listener (TLS 1.3 policy) when missing', async () => {
    aws.elbv2.on(DescribeTargetGroupsCommand).rejects(notFound());
    aws.elbv2.on(DescribeListenersCommand).resolves({ Listeners: [httpListener] });
    aws.elbv2.on(CreateTargetGroupCommand).resolves({ TargetGroups: [inSyncTg] });
    aws.elbv2.on(ModifyTargetGroupAttributesCommand).resolves({});
    aws.elbv2.on(CreateListenerCommand).resolves({ Listeners: [inSyncListener] });
    const ctx = testContext();
    const plan = await loadBalancerStep.plan(ctx);
    expect(plan.changes.map((c) => [c.resource, c.action])).toEqual([
      [tgResource, 'create'],
      [listenerResource, 'create'],
    ]);
    expect(plan.outputs).toBeUndefined();
    expect(plan.before).toEqual({ targetGroup: { exists: false }, listener: { exists: false } });

    const out = await loadBalancerStep.apply(ctx, plan);
    expect(out).toEqual({ targetGroupArn: tgArn, listenerArn });
    expect(writeCalls(aws)).toEqual(['elbv2:CreateTargetGroup', 'elbv2:ModifyTargetGroupAttributes', 'elbv2:CreateListener']);
    expect(aws.elbv2.commandCalls(CreateTargetGroupCommand)[0].args[0].input).toEqual({
      Name: 'fintech-prod-tg',
      Protocol: 'HTTP',
      Port: 8080,
      VpcId: vpcId,
      TargetType: 'ip',
      HealthCheckProtocol: 'HTTP',
      HealthCheckPath: '/health',
      HealthCheckIntervalSeconds: 30,
      Tags: tags,
    });
    expect(aws.elbv2.commandCalls(ModifyTargetGroupAttributesCommand)[0].args[0].input).toEqual({
      TargetGroupArn: tgArn,
      Attributes: [
        { Key: 'deregistration_delay.timeout_seconds', Value: '30' },
        { Key: 'stickiness.enabled', Value: 'false' },
      ],
    });
    expect(aws.elbv2.commandCalls(CreateListenerCommand)[0].args[0].input).toEqual({
      LoadBalancerArn: albArn,
      Protocol: 'HTTPS',
      Port: 443,
      Certificates: [{ CertificateArn: certificateArn }],
      SslPolicy: tls13,
      DefaultActions: [{ Type: 'forward', TargetGroupArn: tgArn }],
      Tags: tags,
    });
  });

  it('plans nothing and writes nothing when target group, attributes and listener match the config', async () => {
    mockObserved();
    const ctx = testContext();
    const plan = await loadBalancerStep.plan(ctx);
    expect(plan.changes).toEqual([]);
    expect(plan.outputs).toEqual({ targetGroupArn: tgArn, listenerArn });
    expect(await loadBalancerStep.apply(ctx, plan)).toEqual({ targetGroupArn: tgArn, listenerArn });
    expect(writeCalls(aws)).toEqual([]);
    expect(aws.elbv2.commandCalls(DescribeTargetGroupsCommand)[0].args[0].input).toEqual({ Names: ['fintech-prod-tg'] });
  });

  it('finds the listener on a later page of DescribeListeners', async () => {
    mockObserved();
    aws.elbv2
      .on(DescribeListenersCommand)
      .resolvesOnce({ Listeners: [httpListener], NextMarker: 'page-2' })
      .resolves({ Listeners: [inSyncListener] });
    const plan = await loadBalancerStep.plan(testContext());
    expect(plan.changes).toEqual([]);
    expect(aws.elbv2.commandCalls(DescribeListenersCommand)[1].args[0].input).toEqual({ LoadBalancerArn: albArn, Marker: 'page-2' });
  });

  it('reports drift field by field and makes only the needed writes (deregistration delay 300 → 30)', async () => {
    mockObserved({
      tg: { ...inSyncTg, HealthCheckPath: '/' },
      attrs: attributes('300'),
      listeners: [{ ...inSyncListener, SslPolicy: tls12 }],
      tgTags: tags.slice(0, 2),
    });
    aws.elbv2.on(ModifyTargetGroupCommand).resolves({});
    aws.elbv2.on(ModifyTargetGroupAttributesCommand).resolves({});
    aws.elbv2.on(AddTagsCommand).resolves({});
    aws.elbv2.on(ModifyListenerCommand).resolves({});
    const ctx = testContext();
    const plan = await loadBalancerStep.plan(ctx);
    expect(plan.changes).toEqual([
      {
        resource: tgResource,
        action: 'update',
        fields: [
          { field: 'healthCheckPath', from: '/', to: '/health' },
          { field: 'attributes.deregistration_delay.timeout_seconds', from: '300', to: '30' },
          { field: 'tags.CostCenter', from: undefined, to: 'CC-Corp' },
        ],
      },
      { resource: listenerResource, action: 'update', fields: [{ field: 'sslPolicy', from: tls12, to: tls13 }] },
    ]);
    await loadBalancerStep.apply(ctx, plan);
    expect(writeCalls(aws)).toEqual(['elbv2:ModifyTargetGroup', 'elbv2:ModifyTargetGroupAttributes', 'elbv2:AddTags', 'elbv2:ModifyListener']);
    expect(aws.elbv2.commandCalls(ModifyTargetGroupCommand)[0].args[0].input).toEqual({ TargetGroupArn: tgArn, HealthCheckPath: '/health' });
    expect(aws.elbv2.commandCalls(ModifyTargetGroupAttributesCommand)[0].args[0].input).toEqual({
      TargetGroupArn: tgArn,
      Attributes: [{ Key: 'deregistration_delay.timeout_seconds', Value: '30' }],
    });
    expect(aws.elbv2.commandCalls(AddTagsCommand)[0].args[0].input).toEqual({ ResourceArns: [tgArn], Tags: [{ Key: 'CostCenter', Value: 'CC-Corp' }] });
    expect(aws.elbv2.commandCalls(ModifyListenerCommand)[0].args[0].input).toEqual({ ListenerArn: listenerArn, SslPolicy: tls13 });
  });

  it('modifies only the certificate when another certificate is on the listener', async () => {
    const oldCert = certificateArn.replace('0f6e8d8a', '99999999');
    mockObserved({ listeners: [{ ...inSyncListener, Certificates: [{ CertificateArn: oldCert, IsDefault: true }] }] });
    aws.elbv2.on(ModifyListenerCommand).resolves({});
    const ctx = testContext();
    const plan = await loadBalancerStep.plan(ctx);
    expect(plan.changes).toEqual([{ resource: listenerResource, action: 'update', fields: [{ field: 'certificateArn', from: oldCert, to: certificateArn }] }]);
    await loadBalancerStep.apply(ctx, plan);
    expect(aws.elbv2.commandCalls(ModifyListenerCommand)[0].args[0].input).toEqual({ ListenerArn: listenerArn, Certificates: [{ CertificateArn: certificateArn }] });
  });

  it.each([
    ['port', { Port: 80 }, 'port is 80, config wants 8080'],
    ['VPC', { VpcId: 'vpc-0ffffffffffffffff' }, `vpcId is vpc-0ffffffffffffffff, config wants ${vpcId}`],
    ['target type', { TargetType: 'instance' as const }, 'targetType is instance, config wants ip'],
  ])('refuses to plan when the target group %s differs: it cannot be modified', async (_label, drift, message) => {
    mockObserved({ tg: { ...inSyncTg, ...drift } });
    const error = await loadBalancerStep.plan(testContext()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnsafeChangeError);
    expect((error as Error).message).toContain(`${tgResource}: ${message}`);
    expect((error as Error).message).toContain('a person must replace the target group');
    expect(writeCalls(aws)).toEqual([]);
  });

  it("refuses to take over another team's listener on the port, naming the target group it forwards to", async () => {
    mockObserved({ listeners: [{ ...inSyncListener, DefaultActions: [{ Type: 'forward', TargetGroupArn: otherTgArn }] }] });
    const error = await loadBalancerStep.plan(testContext()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnsafeChangeError);
    expect((error as Error).message).toContain(`forwards to target group other-team-tg (${otherTgArn}), not only to fintech-prod-tg`);
    expect((error as Error).message).toContain('refuses to take it over');
    expect(writeCalls(aws)).toEqual([]);
  });

  it('refuses a listener on the port before our target group even exists', async () => {
    aws.elbv2.on(DescribeTargetGroupsCommand).rejects(notFound());
    aws.elbv2.on(DescribeListenersCommand).resolves({ Listeners: [{ ...inSyncListener, DefaultActions: [{ Type: 'forward', TargetGroupArn: otherTgArn }] }] });
    aws.elbv2.on(DescribeTagsCommand).resolves({ TagDescriptions: [] });
    const error = await loadBalancerStep.plan(testContext()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnsafeChangeError);
    expect((error as Error).message).toContain('other-team-tg');
  });

  it('refuses a listener that forwards to our target group and another one (weighted), or redirects', async () => {
    mockObserved({
      listeners: [
        {
          ...inSyncListener,
          DefaultActions: [{ Type: 'forward', ForwardConfig: { TargetGroups: [{ TargetGroupArn: tgArn, Weight: 50 }, { TargetGroupArn: otherTgArn, Weight: 50 }] } }],
        },
      ],
    });
    await expect(loadBalancerStep.plan(testContext())).rejects.toThrow(/other-team-tg/);
    aws.elbv2.on(DescribeListenersCommand).resolves({ Listeners: [{ ...inSyncListener, DefaultActions: [{ Type: 'redirect', RedirectConfig: { StatusCode: 'HTTP_301' } }] }] });
    await expect(loadBalancerStep.plan(testContext())).rejects.toThrow(/a redirect action/);
  });

  it('rollback deletes the listener, then the target group this run created; a second rollback does nothing', async () => {
    const before: LoadBalancerState = { targetGroup: { exists: false }, listener: { exists: false } };
    const order: string[] = [];
    aws.elbv2.on(DescribeTargetGroupsCommand).resolvesOnce({ TargetGroups: [inSyncTg] }).rejects(notFound());
    aws.elbv2.on(DescribeTargetGroupAttributesCommand).resolves({ Attributes: attributes('30') });
    aws.elbv2.on(DescribeListenersCommand).resolvesOnce({ Listeners: [httpListener, inSyncListener] }).resolves({ Listeners: [httpListener] });
    aws.elbv2.on(DescribeTagsCommand).resolves({ TagDescriptions: [] });
    aws.elbv2.on(DeleteListenerCommand).callsFake(() => (order.push('DeleteListener'), {}));
    aws.elbv2.on(DeleteTargetGroupCommand).callsFake(() => (order.push('DeleteTargetGroup'), {}));
    const ctx = testContext();
    await loadBalancerStep.rollback(ctx, before);
    expect(order).toEqual(['DeleteListener', 'DeleteTargetGroup']);
    expect(aws.elbv2.commandCalls(DeleteListenerCommand)[0].args[0].input).toEqual({ ListenerArn: listenerArn });
    expect(aws.elbv2.commandCalls(DeleteTargetGroupCommand)[0].args[0].input).toEqual({ TargetGroupArn: tgArn });
    await loadBalancerStep.rollback(ctx, before);
    expect(writeCalls(aws)).toEqual(['elbv2:DeleteListener', 'elbv2:DeleteTargetGroup']);
  });

  it('rollback never deletes a listener on the port that forwards elsewhere', async () => {
    const before: LoadBalancerState = { targetGroup: { exists: false }, listener: { exists: false } };
    mockObserved({ listeners: [{ ...inSyncListener, DefaultActions: [{ Type: 'forward', TargetGroupArn: otherTgArn }] }] });
    aws.elbv2.on(DeleteTargetGroupCommand).resolves({});
    await loadBalancerStep.rollback(testContext(), before);
    expect(writeCalls(aws)).toEqual(['elbv2:DeleteTargetGroup']);
  });

  it('rollback of a pre-existing target group and listener restores them and never deletes either; twice is safe', async () => {
    const before: LoadBalancerState = {
      targetGroup: {
        exists: true,
        arn: tgArn,
        healthCheckProtocol: 'HTTP',
        healthCheckPath: '/',
        healthCheckIntervalSeconds: 30,
        attributes: { 'deregistration_delay.timeout_seconds': '300', 'stickiness.enabled': 'false' },
        tags: { Environment: 'Production' },
      },
      listener: { exists: true, arn: listenerArn, protocol: 'HTTPS', sslPolicy: tls12, certificateArn, tags: {} },
    };
    // After apply: everything as the config wants; after the first rollback: as before.
    aws.elbv2.on(DescribeTargetGroupsCommand).resolvesOnce({ TargetGroups: [inSyncTg] }).resolves({ TargetGroups: [{ ...inSyncTg, HealthCheckPath: '/' }] });
    aws.elbv2.on(DescribeTargetGroupAttributesCommand).resolvesOnce({ Attributes: attributes('30') }).resolves({ Attributes: attributes('300') });
    aws.elbv2
      .on(DescribeListenersCommand)
      .resolvesOnce({ Listeners: [inSyncListener] })
      .resolves({ Listeners: [{ ...inSyncListener, SslPolicy: tls12 }] });
    aws.elbv2
      .on(DescribeTagsCommand)
      .resolvesOnce({ TagDescriptions: [{ ResourceArn: tgArn, Tags: tags }, { ResourceArn: listenerArn, Tags: [] }] })
      .resolves({ TagDescriptions: [{ ResourceArn: tgArn, Tags: tags.slice(0, 1) }, { ResourceArn: listenerArn, Tags: [] }] });
    aws.elbv2.on(ModifyListenerCommand).resolves({});
    aws.elbv2.on(ModifyTargetGroupCommand).resolves({});
    aws.elbv2.on(ModifyTargetGroupAttributesCommand).resolves({});
    aws.elbv2.on(RemoveTagsCommand).resolves({});
    const ctx = testContext();
    await loadBalancerStep.rollback(ctx, before);
    expect(writeCalls(aws)).toEqual(['elbv2:ModifyListener', 'elbv2:ModifyTargetGroup', 'elbv2:ModifyTargetGroupAttributes', 'elbv2:RemoveTags']);
    expect(aws.elbv2.commandCalls(ModifyListenerCommand)[0].args[0].input).toEqual({ ListenerArn: listenerArn, SslPolicy: tls12 });
    expect(aws.elbv2.commandCalls(ModifyTargetGroupCommand)[0].args[0].input).toEqual({ TargetGroupArn: tgArn, HealthCheckPath: '/' });
    expect(aws.elbv2.commandCalls(ModifyTargetGroupAttributesCommand)[0].args[0].input).toEqual({
      TargetGroupArn: tgArn,
      Attributes: [{ Key: 'deregistration_delay.timeout_seconds', Value: '300' }],
    });
    expect(aws.elbv2.commandCalls(RemoveTagsCommand)[0].args[0].input).toEqual({ ResourceArns: [tgArn], TagKeys: ['Project', 'CostCenter'] });
    await loadBalancerStep.rollback(ctx, before);
    expect(writeCalls(aws)).toHaveLength(4);
    expect(aws.elbv2.commandCalls(DeleteListenerCommand)).toHaveLength(0);
    expect(aws.elbv2.commandCalls(DeleteTargetGroupCommand)).toHaveLength(0);
  });

  it('surfaces an AWS error with its name and request id', async () => {
    aws.elbv2.on(DescribeTargetGroupsCommand).resolves({ TargetGroups: [inSyncTg] });
    aws.elbv2.on(DescribeListenersCommand).rejects(awsError('LoadBalancerNotFoundException', 'One or more load balancers not found', 'req-alb-9'));
    const error = await loadBalancerStep.plan(testContext()).catch((e: unknown) => e);
    expect(describeAwsError(error)).toBe('LoadBalancerNotFoundException: One or more load balancers not found — request id req-alb-9');
  });

  it('surfaces a failed write with its name and request id, after the writes before it', async () => {
    aws.elbv2.on(DescribeTargetGroupsCommand).rejects(notFound());
    aws.elbv2.on(DescribeListenersCommand).resolves({ Listeners: [] });
    aws.elbv2.on(CreateTargetGroupCommand).resolves({ TargetGroups: [inSyncTg] });
    aws.elbv2.on(ModifyTargetGroupAttributesCommand).resolves({});
    aws.elbv2.on(CreateListenerCommand).rejects(awsError('CertificateNotFoundException', 'Supplied certificate was not found', 'req-cert-1'));
    const ctx = testContext();
    const error = await loadBalancerStep.apply(ctx, await loadBalancerStep.plan(ctx)).catch((e: unknown) => e);
    expect(describeAwsError(error)).toBe('CertificateNotFoundException: Supplied certificate was not found — request id req-cert-1');
  });

  it('validate: OK when target group and listener match the config', async () => {
    mockObserved();
    const findings = await loadBalancerStep.validate(testContext());
    expect(findings.map((f) => [f.check, f.status])).toEqual([
      ['Target Group', 'OK'],
      ['HTTPS Listener', 'OK'],
    ]);
    expect(findings[1].reason).toBe(`HTTPS with ${tls13}, forwards to fintech-prod-tg`);
  });

  it('validate: FAIL for a drifted target group and a listener with a TLS 1.2 policy forwarding elsewhere', async () => {
    mockObserved({
      attrs: attributes('300', 'true'),
      listeners: [{ ...inSyncListener, SslPolicy: tls12, DefaultActions: [{ Type: 'forward', TargetGroupArn: otherTgArn }] }],
    });
    const findings = await loadBalancerStep.validate(testContext());
    expect(findings).toEqual([
      {
        check: 'Target Group',
        status: 'FAIL',
        resource: tgResource,
        reason: 'attributes.deregistration_delay.timeout_seconds is 300, want 30; attributes.stickiness.enabled is true, want false',
      },
      {
        check: 'HTTPS Listener',
        status: 'FAIL',
        resource: listenerResource,
        reason: `sslPolicy is ${tls12}, want ${tls13}; forwards to other-team-tg, not only to fintech-prod-tg`,
      },
    ]);
  });

  it('validate: FAIL when neither exists', async () => {
    aws.elbv2.on(DescribeTargetGroupsCommand).rejects(notFound());
    aws.elbv2.on(DescribeListenersCommand).resolves({ Listeners: [httpListener] });
    const findings = await loadBalancerStep.validate(testContext());
    expect(findings.map((f) => [f.check, f.status, f.reason])).toEqual([
      ['Target Group', 'FAIL', 'target group does not exist'],
      ['HTTPS Listener', 'FAIL', 'no listener on port 443 of fintech-prod-alb'],
    ]);
  });
});
