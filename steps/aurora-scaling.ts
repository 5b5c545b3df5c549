// Runbook 2.2: Aurora reader replicas — ReadReplicaCount 1–5, target tracking on reader CPU 60 %.
import { DescribeDBClustersCommand, type DBCluster } from '@aws-sdk/client-rds';
import { isAwsError } from '../src/core/errors.js';
import type { Step, StepContext } from '../src/core/step.js';
import { policySpec, targetTrackingStep, type InputState } from './shared/target-tracking.js';

/**
 * The cluster is an input the runbook assumes. Application Auto Scaling registers a target for any
 * cluster id (moto does not check either), and reader scaling only works on an available Aurora
 * cluster with a writer to copy readers from: check it before the first write.
 */
async function auroraCluster(ctx: StepContext): Promise<InputState> {
  const id = ctx.config.inputs.auroraClusterId;
  const resource = `aurora cluster ${id}`;
  let cluster: DBCluster | undefined;
  try {
    const { DBClusters } = await ctx.clients.rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: id }));
    cluster = DBClusters?.[0];
  } catch (error) {
    if (!isAwsError(error, 'DBClusterNotFoundFault')) throw error;
  }
  if (!cluster) {
    return { resource, summary: '', problems: [`Aurora cluster ${id} does not exist (inputs.auroraClusterId): create it before section 2.2`] };
  }
  const problems: string[] = [];
  if (cluster.Engine && !cluster.Engine.startsWith('aurora')) {
    problems.push(`DB cluster ${id} runs ${cluster.Engine}: reader auto scaling (rds:cluster:ReadReplicaCount) needs an Aurora cluster`);
  }
  if (cluster.Status !== 'available') {
    problems.push(`Aurora cluster ${id} is "${cluster.Status ?? 'unknown'}", not "available": wait for it before registering reader auto scaling`);
  }
  const writer = cluster.DBClusterMembers?.find((m) => m.IsClusterWriter);
  if (!writer) {
    problems.push(`Aurora cluster ${id} has no writer instance: Aurora Auto Scaling adds readers only to a cluster with a primary`);
  }
  return { resource, problems, summary: `${cluster.Engine ?? 'aurora'} cluster available, writer ${writer?.DBInstanceIdentifier ?? '?'}` };
}

export const auroraScalingStep: Step<'aurora-scaling'> = targetTrackingStep({
  id: 'aurora-scaling',
  section: '2.2',
  title: 'Aurora reader auto scaling',
  input: auroraCluster,
  target: (config) => ({
    serviceNamespace: 'rds',
    scalableDimension: 'rds:cluster:ReadReplicaCount',
    resourceId: `cluster:${config.inputs.auroraClusterId}`,
    minCapacity: config.scaling.aurora.minCapacity,
    maxCapacity: config.scaling.aurora.maxCapacity,
    policies: [policySpec(config.scaling.aurora.policy, 'RDSReaderAverageCPUUtilization')],
  }),
});
