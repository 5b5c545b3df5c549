// The runbook, in order. "Where is section 1.5?" → steps/load-balancer.ts.
import { parseStepList, type Step, type StepId } from '../src/core/step.js';
import { auroraScalingStep } from './aurora-scaling.js';
import { businessMetricsStep } from './business-metrics.js';
import { clusterStep } from './cluster.js';
import { deploymentAlarmsStep } from './deployment-alarms.js';
import { dynamodbScalingStep } from './dynamodb-scaling.js';
import { ecrStep } from './ecr.js';
import { ecsScalingStep } from './ecs-scaling.js';
import { iamStep } from './iam.js';
import { loadBalancerStep } from './load-balancer.js';
import { serviceStep } from './service.js';
import { taskDefinitionStep } from './task-definition.js';

export const runbook: Step[] = [
  clusterStep, // 1.1
  ecrStep, // 1.2
  iamStep, // 1.3
  taskDefinitionStep, // 1.4
  loadBalancerStep, // 1.5 (listener before the service: DESIGN.md §8 row 13)
  deploymentAlarmsStep, // 2.4 deployment alarms (before the service, which names them)
  serviceStep, // 1.6
  ecsScalingStep, // 2.1
  auroraScalingStep, // 2.2
  dynamodbScalingStep, // 2.3
  businessMetricsStep, // 2.4
] as Step[];

/** `--only cluster,ecr` → those steps, in runbook order. Unknown ids are a usage error. */
export function selectSteps(only: string | undefined): Step[] {
  const wanted = parseStepList(only || undefined, '--only');
  return wanted ? runbook.filter((step) => wanted.includes(step.id as StepId)) : runbook;
}
