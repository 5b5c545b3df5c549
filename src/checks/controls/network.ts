// The network the runbook depends on but does not create: the app subnets (3.1), the two security
// groups (3.4, and the ALB's), the ALB's listeners. These are the input controls the apply
// preflight evaluates before the first write; validate evaluates them too.
import type { IpPermission, RouteTable, SecurityGroup } from '@aws-sdk/client-ec2';
import type { Listener } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { ControlReader } from './read.js';
import { notEvaluated, type ControlSpec, type Evaluation } from './types.js';

// --- security group rules -------------------------------------------------------------------

/** `tcp 8080 from 0.0.0.0/0, sg-…`: a rule as a person reads it. */
export function describeRule(rule: IpPermission): string {
  const protocol = rule.IpProtocol === '-1' ? 'all traffic' : `${rule.IpProtocol} ${rule.FromPort}${rule.ToPort !== rule.FromPort ? `-${rule.ToPort}` : ''}`;
  const sources = [
    ...(rule.IpRanges ?? []).map((r) => r.CidrIp),
    ...(rule.Ipv6Ranges ?? []).map((r) => r.CidrIpv6),
    ...(rule.PrefixListIds ?? []).map((p) => p.PrefixListId),
    ...(rule.UserIdGroupPairs ?? []).map((g) => g.GroupId),
  ];
  return `${protocol} from ${sources.join(', ') || 'nothing'}`;
}

const protocolOf = (rule: IpPermission) => ({ '6': 'tcp', '17': 'udp' })[rule.IpProtocol ?? ''] ?? rule.IpProtocol;

/** Does the rule admit this port over this protocol ('-1' admits everything)? */
function admits(rule: IpPermission, protocol: 'tcp' | 'udp', port: number): boolean {
  if (rule.IpProtocol === '-1') return true;
  if (protocolOf(rule) !== protocol) return false;
  return (rule.FromPort ?? 0) <= port && port <= (rule.ToPort ?? 65535);
}

const fromIpv4World = (rule: IpPermission) => (rule.IpRanges ?? []).some((r) => r.CidrIp === '0.0.0.0/0');
const fromIpv6World = (rule: IpPermission) => (rule.Ipv6Ranges ?? []).some((r) => r.CidrIpv6 === '::/0');
const fromWorld = (rule: IpPermission) => fromIpv4World(rule) || fromIpv6World(rule);

/**
 * The part of a rule a world-ingress control objects to: AWS folds every source of one
 * protocol/port into one permission (`tcp 8080 from sg-alb, 0.0.0.0/0`); evidence names the world one.
 */
const worldPart = (rule: IpPermission, ipv4 = true, ipv6 = true): IpPermission => ({
  ...rule,
  IpRanges: ipv4 ? (rule.IpRanges ?? []).filter((r) => r.CidrIp === '0.0.0.0/0') : [],
  Ipv6Ranges: ipv6 ? (rule.Ipv6Ranges ?? []).filter((r) => r.CidrIpv6 === '::/0') : [],
  PrefixListIds: [],
  UserIdGroupPairs: [],
});

/** EC2.18's default parameters: authorizedTcpPorts 80, 443; authorizedUdpPorts none. */
export const EC2_18_AUTHORIZED_TCP = [80, 443];
/** EC2.19's high-risk ports (not customizable). */
export const EC2_19_HIGH_RISK = [20, 21, 22, 23, 25, 110, 135, 143, 445, 1433, 1434, 3000, 3306, 3389, 4333, 5000, 5432, 5500, 5601, 8080, 8088, 8888, 9200, 9300];
/** EC2.53 / EC2.54: remote server administration ports. */
export const ADMIN_PORTS = [22, 3389];

interface GroupRef {
  id: string;
  role: string;
}

const groupsOf = (read: ControlReader): GroupRef[] => [
  { id: read.config.inputs.ecsSecurityGroupId, role: "the tasks'" },
  { id: read.config.inputs.albSecurityGroupId, role: "the ALB's" },
];

/** One result per security group; a group that is not found cannot be evaluated. */
async function onGroups(read: ControlReader, groups: GroupRef[], judge: (group: SecurityGroup, base: Pick<Evaluation, 'resource' | 'resourceArn' | 'requestId'>) => Promise<Evaluation> | Evaluation) {
  const { value, requestId } = await read.securityGroups();
  return Promise.all(
    groups.map((g) => {
      const resource = `security group ${g.id} (${g.role})`;
      const group = value.find((sg) => sg.GroupId === g.id);
      if (!group) return notEvaluated(resource, 'the security group was not found', { requestId });
      return judge(group, { resource, resourceArn: group.SecurityGroupArn ?? read.securityGroupArn(g.id), requestId });
    }),
  );
}

/** FAIL listing the offending rules, or OK. */
function rulesVerdict(base: Pick<Evaluation, 'resource' | 'resourceArn' | 'requestId'>, offending: IpPermission[], failWhy: string, okReason: string): Evaluation {
  return offending.length
    ? { ...base, status: 'FAIL', reason: `${failWhy}: ${offending.map(describeRule).join('; ')}`, observed: offending.map(describeRule) }
    : { ...base, status: 'OK', reason: okReason };
}

function worldAdmin(ipv6: boolean) {
  return (read: ControlReader) =>
    onGroups(read, groupsOf(read), (group, base) =>
      rulesVerdict(
        base,
        (group.IpPermissions ?? [])
          .filter((rule) => (ipv6 ? fromIpv6World(rule) : fromIpv4World(rule)) && ADMIN_PORTS.some((p) => admits(rule, 'tcp', p) || admits(rule, 'udp', p)))
          .map((rule) => worldPart(rule, !ipv6, ipv6)),
        `admits ${ADMIN_PORTS.join('/')} from ${ipv6 ? '::/0' : '0.0.0.0/0'}`,
        `no ingress from ${ipv6 ? '::/0' : '0.0.0.0/0'} to ports ${ADMIN_PORTS.join(', ')}`,
      ),
    );
}

// --- listeners ------------------------------------------------------------------------------

/** Every default action redirects to HTTPS (none forwards). */
export function redirectsToHttps(listener: Listener): boolean {
  const actions = listener.DefaultActions ?? [];
  return actions.length > 0 && actions.every((a) => a.Type === 'redirect' && a.RedirectConfig?.Protocol === 'HTTPS');
}

const listenerName = (l: Listener) => `listener ${l.Protocol}:${l.Port}`;
const albName = (read: ControlReader) => read.config.inputs.albArn.split('/')[2] ?? read.config.inputs.albArn;

/**
 * ELB.17's recommended policies (`sslPolicies`, not customizable), as the control reference lists
 * them today. Earlier revisions of the reference also listed ELBSecurityPolicy-TLS13-1-2-2021-06
 * and its FIPS variant; they are no longer recommended, so they FAIL here as they do in Security Hub.
 */
export const ELB17_RECOMMENDED_POLICIES = [
  'ELBSecurityPolicy-TLS13-1-3-2021-06',
  'ELBSecurityPolicy-TLS13-1-3-FIPS-2023-04',
  'ELBSecurityPolicy-TLS13-1-2-Res-2021-06',
  'ELBSecurityPolicy-TLS13-1-2-Res-FIPS-2023-04',
  'ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09',
  'ELBSecurityPolicy-TLS13-1-3-PQ-2025-09',
  'ELBSecurityPolicy-TLS13-1-2-Res-FIPS-PQ-2025-09',
  'ELBSecurityPolicy-TLS13-1-3-FIPS-PQ-2025-09',
];

// --- subnets --------------------------------------------------------------------------------

export function routesToInternet(table: RouteTable | undefined): boolean {
  return (table?.Routes ?? []).some((r) => r.GatewayId?.startsWith('igw-') && r.State !== 'blackhole');
}

export const networkControls: ControlSpec[] = [
  {
    id: 'EC2.15',
    source: 'security-hub',
    title: 'Amazon EC2 subnets should not automatically assign public IP addresses',
    short: 'Subnets assign no public IP',
    severity: 'medium',
    passes: 'Fails if MapPublicIpOnLaunch is true for the subnet.',
    resourceType: 'AWS::EC2::Subnet',
    reads: ['ec2:DescribeSubnets MapPublicIpOnLaunch'],
    checklist: ['3.1'],
    differs: "Evaluated on the two app subnets the tasks run in (APP_SUB_A/B), not every subnet of the account (the ALB's public subnets are not this runbook's).",
    input: true,
    steps: ['service'],
    evaluate: async (read) => {
      const { value, requestId } = await read.subnets();
      return read.config.inputs.appSubnetIds.map((id): Evaluation => {
        const resource = `subnet ${id}`;
        const subnet = value.find((s) => s.SubnetId === id);
        if (!subnet) return notEvaluated(resource, 'the subnet was not found', { requestId });
        const base = { resource, resourceArn: subnet.SubnetArn ?? read.subnetArn(id), requestId, observed: { MapPublicIpOnLaunch: !!subnet.MapPublicIpOnLaunch } };
        return subnet.MapPublicIpOnLaunch
          ? { ...base, status: 'FAIL', reason: 'MapPublicIpOnLaunch is true: instances launched here get public IPs' }
          : { ...base, status: 'OK', reason: 'MapPublicIpOnLaunch false' };
      });
    },
  },
  {
    id: 'RB.EC2.3',
    source: 'runbook',
    title: 'The app subnets are private: no route to an internet gateway',
    short: 'App subnets have no IGW route',
    severity: 'high',
    passes: "Fails if the route table of an app subnet (its own, else the VPC's main table) routes to an internet gateway.",
    resourceType: 'AWS::EC2::Subnet',
    reads: ['ec2:DescribeRouteTables Routes[].GatewayId, Associations'],
    checklist: ['3.1'],
    input: true,
    steps: ['service'],
    evaluate: async (read) => {
      const { value: tables, requestId } = await read.routeTables();
      const main = tables.find((t) => t.Associations?.some((a) => a.Main));
      return read.config.inputs.appSubnetIds.map((id): Evaluation => {
        const table = tables.find((t) => t.Associations?.some((a) => a.SubnetId === id)) ?? main;
        const base = { resource: `subnet ${id}`, resourceArn: read.subnetArn(id), requestId };
        if (!table) return notEvaluated(base.resource, 'no route table applies to it', { requestId });
        const igw = (table.Routes ?? []).filter((r) => r.GatewayId?.startsWith('igw-') && r.State !== 'blackhole').map((r) => `${r.DestinationCidrBlock ?? r.DestinationIpv6CidrBlock} → ${r.GatewayId}`);
        return routesToInternet(table)
          ? { ...base, status: 'FAIL', reason: `routes to an internet gateway via ${table.RouteTableId} (${igw.join(', ')}): it is public, not private`, observed: { routeTable: table.RouteTableId, routes: igw } }
          : { ...base, status: 'OK', reason: `route table ${table.RouteTableId} has no internet gateway route`, observed: { routeTable: table.RouteTableId } };
      });
    },
  },
  {
    id: 'RB.EC2.1',
    source: 'runbook',
    title: "The tasks' security group admits only the app port, only from the ALB's security group",
    short: "Tasks' SG: app port from ALB SG only",
    severity: 'high',
    passes: "Passes if every ingress rule is tcp <app port> from the ALB's security group (no CIDR, no prefix list) and one such rule exists.",
    resourceType: 'AWS::EC2::SecurityGroup',
    reads: ['ec2:DescribeSecurityGroups IpPermissions'],
    checklist: ['3.4'],
    input: true,
    steps: ['service'],
    evaluate: (read) => {
      const albSg = read.config.inputs.albSecurityGroupId;
      const port = read.config.taskDefinition.api.port;
      return onGroups(read, [groupsOf(read)[0]], (group, base) => {
        const rules = group.IpPermissions ?? [];
        const allowed = (rule: IpPermission) =>
          protocolOf(rule) === 'tcp' &&
          rule.FromPort === port &&
          rule.ToPort === port &&
          !(rule.IpRanges ?? []).length &&
          !(rule.Ipv6Ranges ?? []).length &&
          !(rule.PrefixListIds ?? []).length &&
          (rule.UserIdGroupPairs ?? []).every((pair) => pair.GroupId === albSg);
        // Of a permission on the app port, only its other sources are extra (AWS folds sources into one permission).
        const extra = rules
          .filter((rule) => !allowed(rule))
          .map((rule) =>
            protocolOf(rule) === 'tcp' && rule.FromPort === port && rule.ToPort === port
              ? { ...rule, UserIdGroupPairs: (rule.UserIdGroupPairs ?? []).filter((pair) => pair.GroupId !== albSg) }
              : rule,
          );
        if (extra.length) return rulesVerdict(base, extra, `admits more than tcp ${port} from ${albSg}`, '');
        const fromAlb = rules.some((rule) => (rule.UserIdGroupPairs ?? []).some((pair) => pair.GroupId === albSg));
        return fromAlb
          ? { ...base, status: 'OK', reason: `admits only tcp ${port} from ${albSg}` }
          : { ...base, status: 'FAIL', reason: `no rule admits tcp ${port} from ${albSg}: the ALB cannot reach the tasks`, observed: rules.map(describeRule) };
      });
    },
  },
  {
    id: 'RB.EC2.2',
    source: 'runbook',
    title: "The ALB's security group admits only the HTTPS listener's port, and 80 only where an HTTP listener redirects to HTTPS",
    short: "ALB SG: 443 (80 only to redirect)",
    severity: 'high',
    passes: 'Passes if every ingress rule is tcp <HTTPS listener port>, or tcp 80 while the ALB has an HTTP:80 listener whose default actions all redirect to HTTPS.',
    resourceType: 'AWS::EC2::SecurityGroup',
    reads: ['ec2:DescribeSecurityGroups IpPermissions', 'elasticloadbalancing:DescribeListeners'],
    checklist: [],
    input: true,
    steps: ['load-balancer'],
    evaluate: async (read) => {
      const https = read.config.loadBalancer.listener.port;
      const { value: listeners } = await read.listeners();
      const redirect80 = listeners.some((l) => l.Port === 80 && l.Protocol === 'HTTP' && redirectsToHttps(l));
      return onGroups(read, [groupsOf(read)[1]], (group, base) => {
        const allowed = (rule: IpPermission) =>
          protocolOf(rule) === 'tcp' && rule.FromPort === rule.ToPort && (rule.FromPort === https || (rule.FromPort === 80 && redirect80));
        const extra = (group.IpPermissions ?? []).filter((rule) => !allowed(rule));
        return rulesVerdict(
          base,
          extra,
          `admits more than tcp ${https}${redirect80 ? ' and 80 (redirected)' : ' (80 only with an HTTP listener that redirects to HTTPS)'}`,
          `admits only tcp ${https}${redirect80 ? ', and 80 which redirects to HTTPS' : ''}`,
        );
      });
    },
  },
  {
    id: 'EC2.18',
    source: 'security-hub',
    title: 'Security groups should only allow unrestricted incoming traffic for authorized ports',
    short: 'Unrestricted ingress: 80/443 only',
    severity: 'high',
    passes: `Fails if a security group admits 0.0.0.0/0 or ::/0 on a port that is not authorized (authorizedTcpPorts default ${EC2_18_AUTHORIZED_TCP.join(', ')}; authorizedUdpPorts none).`,
    resourceType: 'AWS::EC2::SecurityGroup',
    reads: ['ec2:DescribeSecurityGroups IpPermissions'],
    checklist: ['3.4'],
    differs: "Evaluated with Security Hub's default parameters, on the two security groups this runbook depends on.",
    input: true,
    steps: ['service', 'load-balancer'],
    evaluate: (read) =>
      onGroups(read, groupsOf(read), (group, base) =>
        rulesVerdict(
          base,
          (group.IpPermissions ?? [])
            .filter((rule) => {
              if (!fromWorld(rule)) return false;
              if (protocolOf(rule) !== 'tcp') return true; // all traffic, UDP, ICMP: none authorized
              const [from, to] = [rule.FromPort ?? 0, rule.ToPort ?? 65535];
              return to - from > EC2_18_AUTHORIZED_TCP.length || ![...Array(to - from + 1).keys()].every((i) => EC2_18_AUTHORIZED_TCP.includes(from + i));
            })
            .map((rule) => worldPart(rule)),
          `admits 0.0.0.0/0 or ::/0 beyond tcp ${EC2_18_AUTHORIZED_TCP.join('/')}`,
          `unrestricted ingress only on tcp ${EC2_18_AUTHORIZED_TCP.join('/')}, if any`,
        ),
      ),
  },
  {
    id: 'EC2.19',
    source: 'security-hub',
    title: 'Security groups should not allow unrestricted access to ports with high risk',
    short: 'No high-risk port open to world',
    severity: 'critical',
    passes: `Fails if a security group admits 0.0.0.0/0 or ::/0 to any of ${EC2_19_HIGH_RISK.join(', ')}.`,
    resourceType: 'AWS::EC2::SecurityGroup',
    reads: ['ec2:DescribeSecurityGroups IpPermissions'],
    checklist: ['3.4'],
    input: true,
    steps: ['service', 'load-balancer'],
    evaluate: (read) =>
      onGroups(read, groupsOf(read), (group, base) =>
        rulesVerdict(
          base,
          (group.IpPermissions ?? []).filter((rule) => fromWorld(rule) && EC2_19_HIGH_RISK.some((p) => admits(rule, 'tcp', p))).map((rule) => worldPart(rule)),
          'admits a high-risk port from 0.0.0.0/0 or ::/0',
          'no high-risk port open to 0.0.0.0/0 or ::/0',
        ),
      ),
  },
  {
    id: 'EC2.53',
    source: 'security-hub',
    title: 'EC2 security groups should not allow ingress from 0.0.0.0/0 to remote server administration ports',
    short: 'No 22/3389 from 0.0.0.0/0',
    severity: 'high',
    passes: 'Fails if a security group admits 0.0.0.0/0 to port 22 or 3389 (including through all-traffic rules).',
    resourceType: 'AWS::EC2::SecurityGroup',
    reads: ['ec2:DescribeSecurityGroups IpPermissions'],
    checklist: ['3.4'],
    input: true,
    steps: ['service', 'load-balancer'],
    evaluate: worldAdmin(false),
  },
  {
    id: 'EC2.54',
    source: 'security-hub',
    title: 'EC2 security groups should not allow ingress from ::/0 to remote server administration ports',
    short: 'No 22/3389 from ::/0',
    severity: 'high',
    passes: 'Fails if a security group admits ::/0 to port 22 or 3389 (including through all-traffic rules).',
    resourceType: 'AWS::EC2::SecurityGroup',
    reads: ['ec2:DescribeSecurityGroups IpPermissions'],
    checklist: ['3.4'],
    input: true,
    steps: ['service', 'load-balancer'],
    evaluate: worldAdmin(true),
  },
  {
    id: 'ELB.1',
    source: 'security-hub',
    title: 'Application Load Balancer should be configured to redirect all HTTP requests to HTTPS',
    short: 'HTTP redirects to HTTPS',
    severity: 'medium',
    passes: 'Fails if any HTTP listener of the Application Load Balancer does not redirect HTTP to HTTPS.',
    resourceType: 'AWS::ElasticLoadBalancingV2::LoadBalancer',
    reads: ['elasticloadbalancing:DescribeListeners Protocol, DefaultActions'],
    checklist: [],
    differs: "Judges each HTTP listener's default actions (all must redirect to HTTPS); listener rules are not read.",
    input: true,
    steps: ['load-balancer'],
    evaluate: async (read) => {
      const { value: listeners, requestId } = await read.listeners();
      const resource = `load balancer ${albName(read)}`;
      const base = { resource, resourceArn: read.config.inputs.albArn, requestId };
      const http = listeners.filter((l) => l.Protocol === 'HTTP');
      const observed = http.map((l) => ({ listener: `${l.Protocol}:${l.Port}`, defaultActions: (l.DefaultActions ?? []).map((a) => a.Type) }));
      const broken = http.filter((l) => !redirectsToHttps(l));
      if (!http.length) return [{ ...base, status: 'OK', reason: 'no HTTP listener', observed }];
      return [
        broken.length
          ? { ...base, status: 'FAIL', reason: `${broken.map((l) => `${listenerName(l)} (${l.ListenerArn}) ${(l.DefaultActions ?? []).map((a) => a.Type).join('+') || 'has no action'}, not a redirect to HTTPS`).join('; ')}`, observed }
          : { ...base, status: 'OK', reason: `every HTTP listener redirects to HTTPS (${http.map(listenerName).join(', ')})`, observed },
      ];
    },
  },
  {
    id: 'ELB.17',
    source: 'security-hub',
    title: 'Application and Network Load Balancers with listeners should use recommended security policies',
    short: 'Recommended TLS policy',
    severity: 'medium',
    passes: `Fails if an HTTPS (or TLS) listener does not use one of the recommended security policies: ${ELB17_RECOMMENDED_POLICIES.join(', ')}.`,
    resourceType: 'AWS::ElasticLoadBalancingV2::Listener',
    reads: ['elasticloadbalancing:DescribeListeners SslPolicy'],
    checklist: [],
    input: true,
    steps: ['load-balancer'],
    evaluate: async (read, mode) => {
      const { value: listeners, requestId } = await read.listeners();
      const ours = read.config.loadBalancer.listener.port;
      // Before apply, the listener on the configured port is this runbook's to converge (its SSL
      // policy comes from the config): only the ALB's other listeners are inputs.
      const judged = listeners.filter((l) => (l.Protocol === 'HTTPS' || l.Protocol === 'TLS') && (mode === 'validate' || l.Port !== ours));
      if (!judged.length) {
        return [{ resource: `load balancer ${albName(read)}`, resourceArn: read.config.inputs.albArn, requestId, status: 'SKIP', reason: `no HTTPS or TLS listener${mode === 'preflight' ? ' besides the one apply converges' : ''} (not applicable)` }];
      }
      return judged.map((l): Evaluation => {
        const base = { resource: `${listenerName(l)} on ${albName(read)}`, resourceArn: l.ListenerArn, requestId, observed: { SslPolicy: l.SslPolicy ?? null } };
        return l.SslPolicy && ELB17_RECOMMENDED_POLICIES.includes(l.SslPolicy)
          ? { ...base, status: 'OK', reason: `SslPolicy ${l.SslPolicy}` }
          : { ...base, status: 'FAIL', reason: `SslPolicy ${l.SslPolicy ?? '(none)'} is not a recommended security policy` };
      });
    },
  },
];
