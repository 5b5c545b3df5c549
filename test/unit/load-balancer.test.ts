// Runbook 1.5 against a small fake ELBv2. Mocked because moto cannot show them: AWS's spellings
// (a forward as TargetGroupArn plus a one-group ForwardConfig, Order 1, mTLS mode off, the default
// certificate listed twice by DescribeListenerCertificates, AWS's full attribute set) and a lost
// CreateListener reply. Two listeners on one port happen only on moto (AWS refuses the second).
import {
  AddListenerCertificatesCommand,
  AddTagsCommand,
  CreateListenerCommand,
  CreateTargetGroupCommand,
  DeleteListenerCommand,
  DeleteTargetGroupCommand,
  DescribeListenerCertificatesCommand,
  DescribeListenersCommand,
  DescribeTagsCommand,
  DescribeTargetGroupAttributesCommand,
  DescribeTargetGroupsCommand,
  ModifyListenerCommand,
  ModifyTargetGroupAttributesCommand,
  ModifyTargetGroupCommand,
  RemoveListenerCertificatesCommand,
  RemoveTagsCommand,
  type Certificate,
  type Listener,
  type Tag,
  type TargetGroup,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { beforeEach, describe, expect, it } from 'vitest';
import { AmbiguousWriteError } from '../../src/core/actions.js';
import { describeAwsError, UnsafeChangeError } from '../../src/core/errors.js';
import { loadBalancerStep } from '../../steps/load-balancer.js';
import { ACCOUNT_ID, awsError, fixtureEnv, mockAws, testContext, writeCalls, type AwsMocks } from '../helpers/mock-aws.js';

const albArn = fixtureEnv.ALB_ARN!;
const certificateArn = fixtureEnv.CERT_ARN!;
const otherCert = certificateArn.replace('0f6e8d8a', '99999999');
const vpcId = fixtureEnv.VPC_ID!;
const tgArn = `arn:aws:elasticloadbalancing:us-east-1:${ACCOUNT_ID}:targetgroup/fintech-prod-tg/73e2d6bc24d8a067`;
const otherTgArn = `arn:aws:elasticloadbalancing:us-east-1:${ACCOUNT_ID}:targetgroup/other-team-tg/0123456789abcdef`;
const listenerArn = `arn:aws:elasticloadbalancing:us-east-1:${ACCOUNT_ID}:listener/app/fintech-prod-alb/50dc6c495c0c9188/f2f7dc8efc522ab2`;
const secondListenerArn = `${listenerArn.slice(0, -4)}9999`;
const httpListenerArn = `${listenerArn.slice(0, -4)}0080`;
const tls13 = 'ELBSecurityPolicy-TLS13-1-2-Res-2021-06'; // the config's default (Security Hub ELB.17 recommends it)
const tls12 = 'ELBSecurityPolicy-TLS-1-2-2017-01';
const tgResource = 'target group fintech-prod-tg';
const listenerResource = 'https listener :443 on fintech-prod-alb';
const allTags: Tag[] = [
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

/** What AWS reports for a new ALB target group of ip targets (moto reports fewer, plus waf.fail_open.enabled). */
const awsDefaultAttributes: Record<string, string> = {
  'deregistration_delay.timeout_seconds': '300',
  'stickiness.enabled': 'false',
  'stickiness.type': 'lb_cookie',
  'stickiness.lb_cookie.duration_seconds': '86400',
  'stickiness.app_cookie.cookie_name': '',
  'stickiness.app_cookie.duration_seconds': '86400',
  'slow_start.duration_seconds': '0',
  'load_balancing.algorithm.type': 'round_robin',
  'load_balancing.algorithm.anomaly_mitigation': 'off',
  'load_balancing.cross_zone.enabled': 'use_load_balancer_configuration',
  'target_group_health.dns_failover.minimum_healthy_targets.count': '1',
  'target_group_health.dns_failover.minimum_healthy_targets.percentage': 'off',
  'target_group_health.unhealthy_state_routing.minimum_healthy_targets.count': '1',
  'target_group_health.unhealthy_state_routing.minimum_healthy_targets.percentage': 'off',
};

/** A forward to one target group as AWS describes it: both spellings, Order 1. */
const awsForward = (arn: string) => ({
  Type: 'forward' as const,
  TargetGroupArn: arn,
  Order: 1,
  ForwardConfig: { TargetGroups: [{ TargetGroupArn: arn, Weight: 1 }], TargetGroupStickinessConfig: { Enabled: false } },
});

const inSyncListener: Listener = {
  ListenerArn: listenerArn,
  LoadBalancerArn: albArn,
  Port: 443,
  Protocol: 'HTTPS',
  Certificates: [{ CertificateArn: certificateArn }],
  SslPolicy: tls13,
  DefaultActions: [awsForward(tgArn)],
  MutualAuthentication: { Mode: 'off', IgnoreClientCertificateExpiry: false },
};
const httpListener: Listener = {
  ListenerArn: httpListenerArn,
  LoadBalancerArn: albArn,
  Port: 80,
  Protocol: 'HTTP',
  DefaultActions: [{ Type: 'redirect', RedirectConfig: { Protocol: 'HTTPS', Port: '443', StatusCode: 'HTTP_301' } }],
};

const notFound = () => awsError('TargetGroupNotFoundException', 'One or more target groups not found', 'req-tg-missing');

/**
 * A small fake ELBv2 behind the mocks (one ALB with an HTTP :80 listener that is not ours): reads
 * answer from `world`, writes change it, so a second plan or rollback sees what the first did.
 */
interface FakeListener {
  listener: Listener;
  /** The certificate list as DescribeListenerCertificates reports it. */
  certs: Certificate[];
}
interface World {
  tg?: TargetGroup;
  attrs: Record<string, string>;
  listeners: FakeListener[];
  tags: Record<string, Tag[]>;
}
let world: World;
let aws: AwsMocks;
let ids = 0;

const clone = <T>(value: T): T => structuredClone(value);
const ours = (listener: Listener = inSyncListener): FakeListener => ({ listener: clone(listener), certs: [{ CertificateArn: certificateArn, IsDefault: true }] });
const inSyncWorld = (): World => ({
  tg: clone(inSyncTg),
  attrs: { ...awsDefaultAttributes, 'deregistration_delay.timeout_seconds': '30' },
  listeners: [ours()],
  tags: { [tgArn]: clone(allTags), [listenerArn]: clone(allTags) },
});
const emptyWorld = (): World => ({ attrs: {}, listeners: [], tags: {} });
const findListener = (arn: string) => {
  const found = world.listeners.find((l) => l.listener.ListenerArn === arn);
  if (!found) throw awsError('ListenerNotFoundException', 'The specified listener does not exist.');
  return found;
};

beforeEach(() => {
  aws = mockAws();
  world = inSyncWorld();
  ids = 0;
  const e = aws.elbv2;
  e.on(DescribeTargetGroupsCommand).callsFake(async () => {
    if (!world.tg) throw notFound();
    return { TargetGroups: [clone(world.tg)] };
  });
  e.on(DescribeTargetGroupAttributesCommand).callsFake(async () => ({ Attributes: Object.entries(world.attrs).map(([Key, Value]) => ({ Key, Value })) }));
  e.on(DescribeListenersCommand).callsFake(async () => ({ Listeners: [clone(httpListener), ...world.listeners.map((l) => clone(l.listener))] }));
  e.on(DescribeListenerCertificatesCommand).callsFake(async (input) => ({ Certificates: clone(findListener(input.ListenerArn).certs) }));
  e.on(DescribeTagsCommand).callsFake(async (input) => ({
    TagDescriptions: (input.ResourceArns as string[]).map((arn) => ({ ResourceArn: arn, Tags: clone(world.tags[arn] ?? []) })),
  }));

  e.on(CreateTargetGroupCommand).callsFake(async (input) => {
    if (world.tg) throw awsError('DuplicateTargetGroupNameException', 'A target group with the specified name already exists.');
    const { Name, Tags, ...rest } = input;
    world.tg = { ...rest, TargetGroupArn: tgArn, TargetGroupName: Name, LoadBalancerArns: [] };
    world.attrs = { ...awsDefaultAttributes };
    world.tags[tgArn] = Tags ?? [];
    return { TargetGroups: [clone(world.tg)] };
  });
  e.on(ModifyTargetGroupCommand).callsFake(async (input) => {
    const { TargetGroupArn: _arn, ...fields } = input;
    world.tg = { ...world.tg!, ...fields };
    return { TargetGroups: [clone(world.tg)] };
  });
  e.on(ModifyTargetGroupAttributesCommand).callsFake(async (input) => {
    for (const { Key, Value } of input.Attributes) world.attrs[Key] = Value;
    return { Attributes: [] };
  });
  e.on(DeleteTargetGroupCommand).callsFake(async () => {
    if (!world.tg) throw notFound();
    if (world.listeners.some((l) => JSON.stringify(l.listener.DefaultActions).includes(tgArn))) {
      throw awsError('ResourceInUseException', 'The target group is currently in use by a listener or a rule');
    }
    world.tg = undefined;
    return {};
  });
  e.on(CreateListenerCommand).callsFake(async (input) => {
    const arn = ids++ ? secondListenerArn : listenerArn;
    const target = input.DefaultActions[0].TargetGroupArn;
    const listener: Listener = {
      ListenerArn: arn,
      LoadBalancerArn: input.LoadBalancerArn,
      Port: input.Port,
      Protocol: input.Protocol,
      Certificates: input.Certificates,
      SslPolicy: input.SslPolicy,
      DefaultActions: [awsForward(target)],
      MutualAuthentication: { Mode: 'off' },
    };
    world.listeners.push({ listener, certs: input.Certificates.map((c: Certificate) => ({ CertificateArn: c.CertificateArn, IsDefault: true })) });
    world.tags[arn] = input.Tags ?? [];
    return { Listeners: [clone(listener)] };
  });
  e.on(ModifyListenerCommand).callsFake(async (input) => {
    const found = findListener(input.ListenerArn);
    const { ListenerArn: _arn, ...fields } = input;
    found.listener = { ...found.listener, ...fields };
    if (input.Certificates) found.certs = [{ CertificateArn: input.Certificates[0].CertificateArn, IsDefault: true }, ...found.certs.filter((c) => !c.IsDefault)];
    return { Listeners: [clone(found.listener)] };
  });
  e.on(AddListenerCertificatesCommand).callsFake(async (input) => {
    findListener(input.ListenerArn).certs.push(...input.Certificates.map((c: Certificate) => ({ CertificateArn: c.CertificateArn, IsDefault: false })));
    return { Certificates: input.Certificates };
  });
  e.on(RemoveListenerCertificatesCommand).callsFake(async (input) => {
    const found = findListener(input.ListenerArn);
    const gone = input.Certificates.map((c: Certificate) => c.CertificateArn);
    found.certs = found.certs.filter((c) => c.IsDefault || !gone.includes(c.CertificateArn));
    return {};
  });
  e.on(DeleteListenerCommand).callsFake(async (input) => {
    findListener(input.ListenerArn);
    world.listeners = world.listeners.filter((l) => l.listener.ListenerArn !== input.ListenerArn);
    return {};
  });
  e.on(AddTagsCommand).callsFake(async (input) => {
    for (const arn of input.ResourceArns) {
      const keep = (world.tags[arn] ?? []).filter((t) => !input.Tags.some((n: Tag) => n.Key === t.Key));
      world.tags[arn] = [...keep, ...input.Tags];
    }
    return {};
  });
  e.on(RemoveTagsCommand).callsFake(async (input) => {
    for (const arn of input.ResourceArns) world.tags[arn] = (world.tags[arn] ?? []).filter((t) => !input.TagKeys.includes(t.Key));
    return {};
  });
});

const ops = () => writeCalls(aws);
const planned = (plan: { actions: Array<{ service: string; operation: string }> }) => plan.actions.map((a) => `${a.service}:${a.operation}`);

describe('load-balancer step (1.5)', () => {
  it('creates the target group (every health-check field explicit), its attributes and the HTTPS listener (TLS 1.3 policy) when missing', async () => {
    world = emptyWorld();
    const ctx = testContext();
    const plan = await loadBalancerStep.plan(ctx);
    expect(plan.changes.map((c) => [c.resource, c.action])).toEqual([
      [tgResource, 'create'],
      [listenerResource, 'create'],
    ]);
    expect(plan.changes[1].note).toContain('instead of the runbook');
    expect(plan.before).toEqual({ 'target-group': undefined, listener: undefined });
    // ARNs only known after apply are ref tokens, bound by the creates.
    expect(plan.outputs).toEqual({ targetGroupArn: '{{ref:load-balancer.targetGroupArn}}', listenerArn: '{{ref:load-balancer.listenerArn}}' });
    expect(planned(plan)).toEqual(['elbv2:CreateTargetGroup', 'elbv2:ModifyTargetGroupAttributes', 'elbv2:CreateListener']);

    const out = await loadBalancerStep.apply(ctx, plan);
    expect(out).toEqual({ targetGroupArn: tgArn, listenerArn });
    expect(ops()).toEqual(planned(plan));
    expect(aws.elbv2.commandCalls(CreateTargetGroupCommand)[0].args[0].input).toEqual({
      Name: 'fintech-prod-tg',
      Protocol: 'HTTP',
      ProtocolVersion: 'HTTP1',
      Port: 8080,
      VpcId: vpcId,
      TargetType: 'ip',
      HealthCheckProtocol: 'HTTP',
      HealthCheckPort: 'traffic-port',
      HealthCheckPath: '/health',
      HealthCheckIntervalSeconds: 30,
      HealthCheckTimeoutSeconds: 5,
      HealthyThresholdCount: 5,
      UnhealthyThresholdCount: 2,
      Matcher: { HttpCode: '200' },
      HealthCheckEnabled: true,
      IpAddressType: 'ipv4',
      Tags: allTags,
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
      Tags: allTags,
    });

    // What was created is in sync: a second plan has nothing to do.
    expect((await loadBalancerStep.plan(ctx)).changes).toEqual([]);
  });

  it('plans nothing and writes nothing when target group, attributes and listener match (AWS spellings normalised)', async () => {
    // The listener is described as AWS does: TargetGroupArn and a one-group ForwardConfig, Order 1,
    // MutualAuthentication off; the target group's attributes include AWS's defaults.
    const ctx = testContext();
    const plan = await loadBalancerStep.plan(ctx);
    expect(plan.changes).toEqual([]);
    expect(plan.actions).toEqual([]);
    expect(plan.notes).toBeUndefined();
    expect(plan.outputs).toEqual({ targetGroupArn: tgArn, listenerArn });
    expect(await loadBalancerStep.apply(ctx, plan)).toEqual({ targetGroupArn: tgArn, listenerArn });
    expect(ops()).toEqual([]);
    expect(aws.elbv2.commandCalls(DescribeTargetGroupsCommand)[0].args[0].input).toEqual({ Names: ['fintech-prod-tg'] });
  });

  it('finds the listener on a later page of DescribeListeners (the SDK paginator)', async () => {
    aws.elbv2
      .on(DescribeListenersCommand)
      .resolvesOnce({ Listeners: [httpListener], NextMarker: 'page-2' })
      .resolves({ Listeners: [inSyncListener] });
    const plan = await loadBalancerStep.plan(testContext());
    expect(plan.changes).toEqual([]);
    expect(aws.elbv2.commandCalls(DescribeListenersCommand)[1].args[0].input).toEqual({ LoadBalancerArn: albArn, Marker: 'page-2' });
  });

  it('health-check timeout, thresholds, matcher and port changed out of band are drift, restored by one ModifyTargetGroup (issue 7 case e)', async () => {
    world.tg = { ...world.tg!, HealthCheckTimeoutSeconds: 10, HealthyThresholdCount: 3, UnhealthyThresholdCount: 5, Matcher: { HttpCode: '200-499' }, HealthCheckPort: '9000' };
    const ctx = testContext();
    const plan = await loadBalancerStep.plan(ctx);
    expect(plan.changes).toEqual([
      {
        resource: tgResource,
        action: 'update',
        fields: [
          { field: 'HealthCheckPort', from: '9000', to: 'traffic-port' },
          { field: 'HealthCheckTimeoutSeconds', from: 10, to: 5 },
          { field: 'HealthyThresholdCount', from: 3, to: 5 },
          { field: 'Matcher.HttpCode', from: '200-499', to: '200' },
          { field: 'UnhealthyThresholdCount', from: 5, to: 2 },
        ],
      },
    ]);
    expect(planned(plan)).toEqual(['elbv2:ModifyTargetGroup']);
    await loadBalancerStep.apply(ctx, plan);
    expect(ops()).toEqual(['elbv2:ModifyTargetGroup']);
    expect(aws.elbv2.commandCalls(ModifyTargetGroupCommand)[0].args[0].input).toEqual({
      TargetGroupArn: tgArn,
      HealthCheckPort: 'traffic-port',
      HealthCheckTimeoutSeconds: 5,
      HealthyThresholdCount: 5,
      UnhealthyThresholdCount: 2,
      Matcher: { HttpCode: '200' },
    });
    expect((await loadBalancerStep.plan(ctx)).changes).toEqual([]);
  });

  it('reports attribute, tag and SSL-policy drift field by field and makes exactly the converging writes', async () => {
    world.tg = { ...world.tg!, HealthCheckPath: '/' };
    world.attrs['deregistration_delay.timeout_seconds'] = '300';
    world.tags[tgArn] = allTags.slice(0, 2);
    world.listeners[0].listener.SslPolicy = tls12;
    const ctx = testContext();
    const plan = await loadBalancerStep.plan(ctx);
    expect(plan.changes).toEqual([
      {
        resource: tgResource,
        action: 'update',
        fields: [
          { field: 'HealthCheckPath', from: '/', to: '/health' },
          { field: 'Tags.CostCenter', from: undefined, to: 'CC-Corp' },
          { field: 'attributes.deregistration_delay.timeout_seconds', from: '300', to: '30' },
        ],
      },
      { resource: listenerResource, action: 'update', fields: [{ field: 'SslPolicy', from: tls12, to: tls13 }] },
    ]);
    await loadBalancerStep.apply(ctx, plan);
    expect(ops()).toEqual(['elbv2:ModifyTargetGroup', 'elbv2:ModifyTargetGroupAttributes', 'elbv2:AddTags', 'elbv2:ModifyListener']);
    expect(ops()).toEqual(planned(plan));
    expect(aws.elbv2.commandCalls(ModifyTargetGroupCommand)[0].args[0].input).toEqual({ TargetGroupArn: tgArn, HealthCheckPath: '/health' });
    expect(aws.elbv2.commandCalls(ModifyTargetGroupAttributesCommand)[0].args[0].input).toEqual({
      TargetGroupArn: tgArn,
      Attributes: [{ Key: 'deregistration_delay.timeout_seconds', Value: '30' }],
    });
    expect(aws.elbv2.commandCalls(AddTagsCommand)[0].args[0].input).toEqual({ ResourceArns: [tgArn], Tags: [{ Key: 'CostCenter', Value: 'CC-Corp' }] });
    expect(aws.elbv2.commandCalls(ModifyListenerCommand)[0].args[0].input).toEqual({ ListenerArn: listenerArn, SslPolicy: tls13 });
    expect((await loadBalancerStep.plan(ctx)).changes).toEqual([]);
  });

  it('an attribute moved off its AWS default out of band is drift and goes back to the default; foreign tags are left alone', async () => {
    world.attrs['slow_start.duration_seconds'] = '120';
    world.attrs['load_balancing.algorithm.type'] = 'least_outstanding_requests';
    world.tags[tgArn].push({ Key: 'SecurityScanner', Value: 'seen' });
    const ctx = testContext();
    const plan = await loadBalancerStep.plan(ctx);
    expect(plan.changes[0].fields).toEqual([
      { field: 'attributes.load_balancing.algorithm.type', from: 'least_outstanding_requests', to: undefined },
      { field: 'attributes.slow_start.duration_seconds', from: '120', to: undefined },
    ]);
    await loadBalancerStep.apply(ctx, plan);
    expect(ops()).toEqual(['elbv2:ModifyTargetGroupAttributes']);
    expect(aws.elbv2.commandCalls(ModifyTargetGroupAttributesCommand)[0].args[0].input.Attributes).toEqual([
      { Key: 'slow_start.duration_seconds', Value: '0' },
      { Key: 'load_balancing.algorithm.type', Value: 'round_robin' },
    ]);
    expect(world.tags[tgArn]).toContainEqual({ Key: 'SecurityScanner', Value: 'seen' });
  });

  it('an extra certificate on the listener is drift, removed with RemoveListenerCertificates (issue 7 case g)', async () => {
    // AWS lists the default certificate twice when it is also in the list: that copy is no extra.
    world.listeners[0].certs.push({ CertificateArn: certificateArn, IsDefault: false }, { CertificateArn: otherCert, IsDefault: false });
    const ctx = testContext();
    const plan = await loadBalancerStep.plan(ctx);
    expect(plan.changes).toEqual([{ resource: listenerResource, action: 'update', fields: [{ field: 'extraCertificates', from: [otherCert], to: undefined }] }]);
    const findings = await loadBalancerStep.validate(ctx);
    expect(findings[1]).toMatchObject({ check: 'HTTPS Listener', status: 'FAIL', reason: expect.stringContaining('extraCertificates') });
    await loadBalancerStep.apply(ctx, plan);
    expect(ops()).toEqual(['elbv2:RemoveListenerCertificates']);
    expect(aws.elbv2.commandCalls(RemoveListenerCertificatesCommand)[0].args[0].input).toEqual({ ListenerArn: listenerArn, Certificates: [{ CertificateArn: otherCert }] });
    expect((await loadBalancerStep.plan(ctx)).changes).toEqual([]);
  });

  it('replaces only the default certificate when another one is the default', async () => {
    world.listeners[0] = { listener: { ...inSyncListener, Certificates: [{ CertificateArn: otherCert }] }, certs: [{ CertificateArn: otherCert, IsDefault: true }] };
    const ctx = testContext();
    const plan = await loadBalancerStep.plan(ctx);
    expect(plan.changes[0].fields).toEqual([{ field: 'Certificates.0.CertificateArn', from: otherCert, to: certificateArn }]);
    await loadBalancerStep.apply(ctx, plan);
    expect(aws.elbv2.commandCalls(ModifyListenerCommand)[0].args[0].input).toEqual({ ListenerArn: listenerArn, Certificates: [{ CertificateArn: certificateArn }] });
  });

  it('mTLS turned on and a weighted forward config are drift, converged by one ModifyListener', async () => {
    const trustStore = `arn:aws:elasticloadbalancing:us-east-1:${ACCOUNT_ID}:truststore/ts/1`;
    world.listeners[0].listener.MutualAuthentication = { Mode: 'verify', TrustStoreArn: trustStore };
    world.listeners[0].listener.DefaultActions = [
      { Type: 'forward', TargetGroupArn: tgArn, ForwardConfig: { TargetGroups: [{ TargetGroupArn: tgArn, Weight: 1 }], TargetGroupStickinessConfig: { Enabled: true, DurationSeconds: 3600 } } },
    ];
    const ctx = testContext();
    const plan = await loadBalancerStep.plan(ctx);
    expect(plan.changes[0].fields!.map((f) => f.field)).toEqual(['DefaultActions.0.ForwardConfig', 'MutualAuthentication']);
    await loadBalancerStep.apply(ctx, plan);
    expect(aws.elbv2.commandCalls(ModifyListenerCommand)[0].args[0].input).toEqual({
      ListenerArn: listenerArn,
      DefaultActions: [{ Type: 'forward', TargetGroupArn: tgArn }],
      MutualAuthentication: { Mode: 'off' },
    });
  });

  describe('the ignore lists are deny-lists', () => {
    it('target group: a field nobody thought of is refused; the fields AWS sets itself are not drift', async () => {
      world.tg = { ...world.tg!, TargetControlPort: 7000, SomethingNew: { enabled: true } } as TargetGroup;
      const error = await loadBalancerStep.plan(testContext()).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UnsafeChangeError);
      expect(String(error)).toMatch(/TargetControlPort is 7000, wanted unset/);
      world.tg = { ...inSyncTg, SomethingNew: { enabled: true } } as TargetGroup;
      expect(String(await loadBalancerStep.plan(testContext()).catch((e: unknown) => e))).toMatch(/SomethingNew differ\(s\) and cannot be changed in place/);
      world.tg = { ...inSyncTg, LoadBalancerArns: [albArn, `${albArn}0`] };
      expect((await loadBalancerStep.plan(testContext())).changes).toEqual([]);
    });

    it('target group attributes: one whose AWS default this tool does not know is refused', async () => {
      world.attrs['brand_new.attribute'] = 'on';
      const error = await loadBalancerStep.plan(testContext()).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UnsafeChangeError);
      expect(String(error)).toMatch(/attributes\.brand_new\.attribute is on, and this tool does not know its default; a person must decide/);
    });

    it('listener: a field nobody thought of is refused; its ARN and other listeners on the port are not compared', async () => {
      world.listeners[0].listener = { ...inSyncListener, SomethingNew: 'x' } as Listener;
      expect(String(await loadBalancerStep.plan(testContext()).catch((e: unknown) => e))).toMatch(
        /https listener :443 on fintech-prod-alb: SomethingNew differ\(s\) and cannot be changed in place/,
      );
      world.listeners[0].listener = { ...inSyncListener, AlpnPolicy: ['HTTP2Only'] };
      const plan = await loadBalancerStep.plan(testContext());
      expect(plan.changes[0].fields).toEqual([{ field: 'AlpnPolicy', from: ['HTTP2Only'], to: undefined }]);
      expect(plan.actions[0].input).toEqual({ ListenerArn: listenerArn, AlpnPolicy: ['None'] });
    });
  });

  it.each([
    ['port', { Port: 80 }, 'Port is 80, wanted 8080'],
    ['VPC', { VpcId: 'vpc-0ffffffffffffffff' }, `VpcId is vpc-0ffffffffffffffff, wanted ${vpcId}`],
    ['target type', { TargetType: 'instance' as const }, 'TargetType is instance, wanted ip'],
    ['protocol version', { ProtocolVersion: 'HTTP2' }, 'ProtocolVersion is HTTP2, wanted HTTP1'],
  ])('refuses to plan when the target group %s differs: it cannot be modified', async (_label, drift, message) => {
    world.tg = { ...inSyncTg, ...drift };
    const error = await loadBalancerStep.plan(testContext()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnsafeChangeError);
    expect((error as Error).message).toContain(`${tgResource}: ${message}`);
    expect((error as Error).message).toContain('a person must replace the target group');
    expect(ops()).toEqual([]);
  });

  it("refuses to take over another team's listener on the port, naming the target group it forwards to", async () => {
    world.listeners[0].listener.DefaultActions = [{ Type: 'forward', TargetGroupArn: otherTgArn }];
    const error = await loadBalancerStep.plan(testContext()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnsafeChangeError);
    expect((error as Error).message).toContain(`forwards to target group other-team-tg (${otherTgArn}), not only to fintech-prod-tg`);
    expect((error as Error).message).toContain('refuses to take it over');
    expect(ops()).toEqual([]);
  });

  it('refuses a listener on the port before our target group even exists', async () => {
    world = { ...emptyWorld(), listeners: [ours({ ...inSyncListener, DefaultActions: [{ Type: 'forward', TargetGroupArn: otherTgArn }] })] };
    const error = await loadBalancerStep.plan(testContext()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnsafeChangeError);
    expect((error as Error).message).toContain('other-team-tg');
  });

  it('refuses a listener that forwards to our target group and another one (weighted), or redirects', async () => {
    world.listeners[0].listener.DefaultActions = [
      { Type: 'forward', ForwardConfig: { TargetGroups: [{ TargetGroupArn: tgArn, Weight: 50 }, { TargetGroupArn: otherTgArn, Weight: 50 }] } },
    ];
    await expect(loadBalancerStep.plan(testContext())).rejects.toThrow(/other-team-tg/);
    world.listeners[0].listener.DefaultActions = [{ Type: 'redirect', RedirectConfig: { StatusCode: 'HTTP_301' } }];
    await expect(loadBalancerStep.plan(testContext())).rejects.toThrow(/a redirect action/);
  });

  it('two listeners on the port (moto accepts a second one, AWS does not; unit-tested): a note and a validate FAIL, never a delete', async () => {
    world.listeners.push(ours({ ...inSyncListener, ListenerArn: secondListenerArn }));
    world.tags[secondListenerArn] = clone(allTags);
    const ctx = testContext();
    const plan = await loadBalancerStep.plan(ctx);
    expect(plan.changes).toEqual([]);
    expect(plan.outputs.listenerArn).toBe(listenerArn);
    expect(plan.notes).toEqual([`2 listeners on port 443 of fintech-prod-alb: this tool manages ${listenerArn} and leaves ${secondListenerArn} for a person to delete`]);
    const findings = await loadBalancerStep.validate(ctx);
    expect(findings[1]).toMatchObject({ check: 'HTTPS Listener', status: 'FAIL', reason: expect.stringContaining('2 listeners on port 443') });
    await loadBalancerStep.apply(ctx, plan);
    expect(ops()).toEqual([]);
  });

  it('adopts the listener whose CreateListener reply was lost instead of creating a second one (unit-tested: the lost reply is simulated)', async () => {
    world.listeners = [];
    delete world.tags[listenerArn];
    aws.elbv2.on(CreateListenerCommand).callsFakeOnce(async (input) => {
      world.listeners.push(ours());
      world.tags[listenerArn] = input.Tags;
      throw new AmbiguousWriteError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
    });
    const ctx = testContext();
    const plan = await loadBalancerStep.plan(ctx);
    expect(planned(plan)).toEqual(['elbv2:CreateListener']);
    const out = await loadBalancerStep.apply(ctx, plan);
    expect(out).toEqual({ targetGroupArn: tgArn, listenerArn });
    expect(aws.elbv2.commandCalls(CreateListenerCommand)).toHaveLength(1);
    expect(world.listeners).toHaveLength(1);
  });

  describe('rollback', () => {
    async function createdByThisRun() {
      world = emptyWorld();
      const ctx = testContext();
      const plan = await loadBalancerStep.plan(ctx);
      await loadBalancerStep.apply(ctx, plan);
      aws.elbv2.resetHistory();
      return { ctx, before: plan.before };
    }

    it('deletes the listener, then the target group this run created; a second rollback does nothing', async () => {
      const { ctx, before } = await createdByThisRun();
      const created = new Set(['target-group', 'listener']);
      const rollback = await loadBalancerStep.planRollback(ctx, before, created);
      expect(rollback.changes.map((c) => [c.resource, c.action])).toEqual([
        [listenerResource, 'delete'],
        [tgResource, 'delete'],
      ]);
      await loadBalancerStep.rollback(ctx, before, created);
      expect(ops()).toEqual(['elbv2:DeleteListener', 'elbv2:DeleteTargetGroup']);
      expect(aws.elbv2.commandCalls(DeleteListenerCommand)[0].args[0].input).toEqual({ ListenerArn: listenerArn });
      expect(aws.elbv2.commandCalls(DeleteTargetGroupCommand)[0].args[0].input).toEqual({ TargetGroupArn: tgArn });
      expect(await loadBalancerStep.rollback(ctx, before, created)).toEqual([]);
      expect(ops()).toHaveLength(2);
    });

    it('deletes nothing this run did not provably create, and says so', async () => {
      const { ctx, before } = await createdByThisRun();
      const notes = await loadBalancerStep.rollback(ctx, before, new Set());
      expect(ops()).toEqual([]);
      expect(notes).toEqual([`${listenerResource}: not created by this run (no reply or token proves it), left as it is`, `${tgResource}: not created by this run (no reply or token proves it), left as it is`]);
    });

    it('only the target group when the listener was never created', async () => {
      const { ctx, before } = await createdByThisRun();
      world.listeners = [];
      await loadBalancerStep.rollback(ctx, before, new Set(['target-group']));
      expect(ops()).toEqual(['elbv2:DeleteTargetGroup']);
    });

    it('never deletes a listener on the port that forwards elsewhere, even when the journal says one was created', async () => {
      const { ctx, before } = await createdByThisRun();
      world.listeners[0].listener.DefaultActions = [{ Type: 'forward', TargetGroupArn: otherTgArn }];
      const notes = await loadBalancerStep.rollback(ctx, before, new Set(['listener']));
      expect(ops()).toEqual([]);
      expect(notes.join()).toMatch(/forwards to other-team-tg, not only to fintech-prod-tg: kept/);
    });

    it('converges a pre-existing target group and listener back to before (extra certificate included), never deletes; twice is a no-op', async () => {
      // Before the run: the old health-check path, the AWS default delay, one tag, a TLS 1.2 policy
      // and an extra certificate; apply then converged everything to the config.
      world.tg = { ...inSyncTg, HealthCheckPath: '/' };
      world.attrs['deregistration_delay.timeout_seconds'] = '300';
      world.tags[tgArn] = allTags.slice(0, 1);
      world.listeners[0].listener.SslPolicy = tls12;
      world.listeners[0].certs.push({ CertificateArn: otherCert, IsDefault: false });
      const ctx = testContext();
      const plan = await loadBalancerStep.plan(ctx);
      await loadBalancerStep.apply(ctx, plan);
      expect((await loadBalancerStep.plan(ctx)).changes).toEqual([]);
      aws.elbv2.resetHistory();

      await loadBalancerStep.rollback(ctx, plan.before, new Set());
      expect(ops()).toEqual([
        'elbv2:ModifyListener',
        'elbv2:AddListenerCertificates',
        'elbv2:ModifyTargetGroup',
        'elbv2:ModifyTargetGroupAttributes',
        'elbv2:RemoveTags',
      ]);
      expect(aws.elbv2.commandCalls(ModifyListenerCommand)[0].args[0].input).toEqual({ ListenerArn: listenerArn, SslPolicy: tls12 });
      expect(aws.elbv2.commandCalls(AddListenerCertificatesCommand)[0].args[0].input).toEqual({ ListenerArn: listenerArn, Certificates: [{ CertificateArn: otherCert }] });
      expect(aws.elbv2.commandCalls(ModifyTargetGroupCommand)[0].args[0].input).toEqual({ TargetGroupArn: tgArn, HealthCheckPath: '/' });
      expect(aws.elbv2.commandCalls(ModifyTargetGroupAttributesCommand)[0].args[0].input).toEqual({
        TargetGroupArn: tgArn,
        Attributes: [{ Key: 'deregistration_delay.timeout_seconds', Value: '300' }],
      });
      expect(aws.elbv2.commandCalls(RemoveTagsCommand)[0].args[0].input).toEqual({ ResourceArns: [tgArn], TagKeys: ['Project', 'CostCenter'] });
      await loadBalancerStep.rollback(ctx, plan.before, new Set());
      expect(ops()).toHaveLength(5);
      expect(aws.elbv2.commandCalls(DeleteListenerCommand)).toHaveLength(0);
      expect(aws.elbv2.commandCalls(DeleteTargetGroupCommand)).toHaveLength(0);
    });
  });

  it('surfaces an AWS error with its name and request id', async () => {
    aws.elbv2.on(DescribeListenersCommand).rejects(awsError('LoadBalancerNotFoundException', 'One or more load balancers not found', 'req-alb-9'));
    const error = await loadBalancerStep.plan(testContext()).catch((e: unknown) => e);
    expect(describeAwsError(error)).toBe('LoadBalancerNotFoundException: One or more load balancers not found — request id req-alb-9');
  });

  it('surfaces a failed write with its name and request id, after the writes before it', async () => {
    world = emptyWorld();
    aws.elbv2.on(CreateListenerCommand).rejects(awsError('CertificateNotFoundException', 'Supplied certificate was not found', 'req-cert-1'));
    const ctx = testContext();
    const error = await loadBalancerStep.apply(ctx, await loadBalancerStep.plan(ctx)).catch((e: unknown) => e);
    expect(describeAwsError(error)).toBe('CertificateNotFoundException: Supplied certificate was not found — request id req-cert-1');
    expect(ops()).toEqual(['elbv2:CreateTargetGroup', 'elbv2:ModifyTargetGroupAttributes', 'elbv2:CreateListener']);
  });

  describe('validate', () => {
    it('OK when target group and listener match the config', async () => {
      const findings = await loadBalancerStep.validate(testContext());
      expect(findings.map((f) => [f.check, f.status])).toEqual([
        ['Target Group', 'OK'],
        ['HTTPS Listener', 'OK'],
      ]);
      expect(findings[0].reason).toBe('HTTP:8080 ip targets, health check /health every 30s, deregistration delay 30s, stickiness false');
      expect(findings[1].reason).toBe(`HTTPS with ${tls13}, forwards to fintech-prod-tg`);
    });

    it('FAIL naming the drifted fields, and a listener with a TLS 1.2 policy forwarding elsewhere', async () => {
      world.attrs = { ...world.attrs, 'deregistration_delay.timeout_seconds': '300', 'stickiness.enabled': 'true' };
      world.tg = { ...world.tg!, HealthCheckTimeoutSeconds: 10 };
      world.listeners[0].listener = { ...inSyncListener, SslPolicy: tls12, DefaultActions: [{ Type: 'forward', TargetGroupArn: otherTgArn }] };
      const findings = await loadBalancerStep.validate(testContext());
      expect(findings).toEqual([
        {
          check: 'Target Group',
          status: 'FAIL',
          resource: tgResource,
          reason: 'differs from the config: HealthCheckTimeoutSeconds, attributes.deregistration_delay.timeout_seconds, attributes.stickiness.enabled (run plan)',
        },
        {
          check: 'HTTPS Listener',
          status: 'FAIL',
          resource: listenerResource,
          reason: 'differs from the config: DefaultActions.0.TargetGroupArn, SslPolicy (run plan); forwards to other-team-tg, not only to fintech-prod-tg',
        },
      ]);
    });

    it('FAIL when neither exists', async () => {
      world = emptyWorld();
      const findings = await loadBalancerStep.validate(testContext());
      expect(findings.map((f) => [f.check, f.status, f.reason])).toEqual([
        ['Target Group', 'FAIL', 'does not exist'],
        ['HTTPS Listener', 'FAIL', 'no listener on port 443 of fintech-prod-alb'],
      ]);
    });

    it('FAIL "could not be evaluated" when a read is denied, never OK', async () => {
      aws.elbv2.on(DescribeListenerCertificatesCommand).rejects(awsError('AccessDenied', 'not authorized to perform elasticloadbalancing:DescribeListenerCertificates', 'req-7'));
      const findings = await loadBalancerStep.validate(testContext());
      expect(findings.map((f) => [f.check, f.status])).toEqual([
        ['Target Group', 'FAIL'],
        ['HTTPS Listener', 'FAIL'],
      ]);
      expect(findings[1].reason).toMatch(/^could not be evaluated: AccessDenied/);
    });
  });
});
