// Runbook 2.1: ECS service auto scaling — desired count 3–10, target tracking on CPU 70 % and memory 75 %.
import { names } from '../src/config.js';
import type { Step } from '../src/core/step.js';
import { policySpec, targetTrackingStep } from './shared/target-tracking.js';

export const ecsScalingStep: Step<'ecs-scaling'> = targetTrackingStep({
  id: 'ecs-scaling',
  section: '2.1',
  title: 'ECS service auto scaling',
  needs: ['service'], // AWS (and moto) register a target only for an existing service
  target: (config) => ({
    serviceNamespace: 'ecs',
    scalableDimension: 'ecs:service:DesiredCount',
    resourceId: names.ecsResourceId(config),
    minCapacity: config.scaling.ecs.minCapacity,
    maxCapacity: config.scaling.ecs.maxCapacity,
    policies: [
      policySpec(config.scaling.ecs.cpu, 'ECSServiceAverageCPUUtilization'),
      policySpec(config.scaling.ecs.memory, 'ECSServiceAverageMemoryUtilization'),
    ],
  }),
});
