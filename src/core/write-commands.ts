// The write commands a plan's actions may name (src/core/actions.ts sends them by service and
// operation).
import {
  DeleteScalingPolicyCommand as AutoScalingDeleteScalingPolicy,
  DeregisterScalableTargetCommand as AutoScalingDeregisterScalableTarget,
  PutScalingPolicyCommand as AutoScalingPutScalingPolicy,
  RegisterScalableTargetCommand as AutoScalingRegisterScalableTarget,
} from '@aws-sdk/client-application-auto-scaling';
import {
  DeleteAlarmsCommand as CloudWatchDeleteAlarms,
  PutMetricAlarmCommand as CloudWatchPutMetricAlarm,
  TagResourceCommand as CloudWatchTagResource,
  UntagResourceCommand as CloudWatchUntagResource,
} from '@aws-sdk/client-cloudwatch';
import {
  AssociateKmsKeyCommand as LogsAssociateKmsKey,
  CreateLogGroupCommand as LogsCreateLogGroup,
  DeleteLogGroupCommand as LogsDeleteLogGroup,
  DeleteRetentionPolicyCommand as LogsDeleteRetentionPolicy,
  DisassociateKmsKeyCommand as LogsDisassociateKmsKey,
  PutRetentionPolicyCommand as LogsPutRetentionPolicy,
  TagResourceCommand as LogsTagResource,
  UntagResourceCommand as LogsUntagResource,
} from '@aws-sdk/client-cloudwatch-logs';
import {
  CreateRepositoryCommand as EcrCreateRepository,
  DeleteLifecyclePolicyCommand as EcrDeleteLifecyclePolicy,
  DeleteRepositoryCommand as EcrDeleteRepository,
  DeleteRepositoryPolicyCommand as EcrDeleteRepositoryPolicy,
  PutImageScanningConfigurationCommand as EcrPutImageScanningConfiguration,
  PutImageTagMutabilityCommand as EcrPutImageTagMutability,
  PutLifecyclePolicyCommand as EcrPutLifecyclePolicy,
  SetRepositoryPolicyCommand as EcrSetRepositoryPolicy,
  TagResourceCommand as EcrTagResource,
  UntagResourceCommand as EcrUntagResource,
} from '@aws-sdk/client-ecr';
import {
  CreateClusterCommand as EcsCreateCluster,
  CreateServiceCommand as EcsCreateService,
  DeleteClusterCommand as EcsDeleteCluster,
  DeleteServiceCommand as EcsDeleteService,
  DeregisterTaskDefinitionCommand as EcsDeregisterTaskDefinition,
  PutClusterCapacityProvidersCommand as EcsPutClusterCapacityProviders,
  RegisterTaskDefinitionCommand as EcsRegisterTaskDefinition,
  TagResourceCommand as EcsTagResource,
  UntagResourceCommand as EcsUntagResource,
  UpdateClusterCommand as EcsUpdateCluster,
  UpdateServiceCommand as EcsUpdateService,
} from '@aws-sdk/client-ecs';
import {
  AddListenerCertificatesCommand as ElbAddListenerCertificates,
  AddTagsCommand as ElbAddTags,
  CreateListenerCommand as ElbCreateListener,
  CreateTargetGroupCommand as ElbCreateTargetGroup,
  DeleteListenerCommand as ElbDeleteListener,
  DeleteTargetGroupCommand as ElbDeleteTargetGroup,
  ModifyListenerCommand as ElbModifyListener,
  ModifyTargetGroupCommand as ElbModifyTargetGroup,
  ModifyTargetGroupAttributesCommand as ElbModifyTargetGroupAttributes,
  RemoveListenerCertificatesCommand as ElbRemoveListenerCertificates,
  RemoveTagsCommand as ElbRemoveTags,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import {
  AttachRolePolicyCommand as IamAttachRolePolicy,
  CreateRoleCommand as IamCreateRole,
  DeleteRoleCommand as IamDeleteRole,
  DeleteRolePermissionsBoundaryCommand as IamDeleteRolePermissionsBoundary,
  DeleteRolePolicyCommand as IamDeleteRolePolicy,
  DetachRolePolicyCommand as IamDetachRolePolicy,
  PutRolePermissionsBoundaryCommand as IamPutRolePermissionsBoundary,
  PutRolePolicyCommand as IamPutRolePolicy,
  TagRoleCommand as IamTagRole,
  UntagRoleCommand as IamUntagRole,
  UpdateAssumeRolePolicyCommand as IamUpdateAssumeRolePolicy,
  UpdateRoleCommand as IamUpdateRole,
} from '@aws-sdk/client-iam';

/**
 * The write commands plans may hold, by service and operation: every `act(...)` of the steps. Named
 * one by one, not `import * as ecs`: a namespace looked up by name keeps each client's every
 * command and schema in the bundle (about 1 MB of start-up parsing). A new `act` needs its
 * command here; test/unit/actions.test.ts checks that each one the steps plan is.
 */
export const writeCommands = {
  autoscaling: {
    DeleteScalingPolicy: AutoScalingDeleteScalingPolicy,
    DeregisterScalableTarget: AutoScalingDeregisterScalableTarget,
    PutScalingPolicy: AutoScalingPutScalingPolicy,
    RegisterScalableTarget: AutoScalingRegisterScalableTarget,
  },
  cloudwatch: {
    DeleteAlarms: CloudWatchDeleteAlarms,
    PutMetricAlarm: CloudWatchPutMetricAlarm,
    TagResource: CloudWatchTagResource,
    UntagResource: CloudWatchUntagResource,
  },
  logs: {
    AssociateKmsKey: LogsAssociateKmsKey,
    CreateLogGroup: LogsCreateLogGroup,
    DeleteLogGroup: LogsDeleteLogGroup,
    DeleteRetentionPolicy: LogsDeleteRetentionPolicy,
    DisassociateKmsKey: LogsDisassociateKmsKey,
    PutRetentionPolicy: LogsPutRetentionPolicy,
    TagResource: LogsTagResource,
    UntagResource: LogsUntagResource,
  },
  ecr: {
    CreateRepository: EcrCreateRepository,
    DeleteLifecyclePolicy: EcrDeleteLifecyclePolicy,
    DeleteRepository: EcrDeleteRepository,
    DeleteRepositoryPolicy: EcrDeleteRepositoryPolicy,
    PutImageScanningConfiguration: EcrPutImageScanningConfiguration,
    PutImageTagMutability: EcrPutImageTagMutability,
    PutLifecyclePolicy: EcrPutLifecyclePolicy,
    SetRepositoryPolicy: EcrSetRepositoryPolicy,
    TagResource: EcrTagResource,
    UntagResource: EcrUntagResource,
  },
  ecs: {
    CreateCluster: EcsCreateCluster,
    CreateService: EcsCreateService,
    DeleteCluster: EcsDeleteCluster,
    DeleteService: EcsDeleteService,
    DeregisterTaskDefinition: EcsDeregisterTaskDefinition,
    PutClusterCapacityProviders: EcsPutClusterCapacityProviders,
    RegisterTaskDefinition: EcsRegisterTaskDefinition,
    TagResource: EcsTagResource,
    UntagResource: EcsUntagResource,
    UpdateCluster: EcsUpdateCluster,
    UpdateService: EcsUpdateService,
  },
  elbv2: {
    AddListenerCertificates: ElbAddListenerCertificates,
    AddTags: ElbAddTags,
    CreateListener: ElbCreateListener,
    CreateTargetGroup: ElbCreateTargetGroup,
    DeleteListener: ElbDeleteListener,
    DeleteTargetGroup: ElbDeleteTargetGroup,
    ModifyListener: ElbModifyListener,
    ModifyTargetGroup: ElbModifyTargetGroup,
    ModifyTargetGroupAttributes: ElbModifyTargetGroupAttributes,
    RemoveListenerCertificates: ElbRemoveListenerCertificates,
    RemoveTags: ElbRemoveTags,
  },
  iam: {
    AttachRolePolicy: IamAttachRolePolicy,
    CreateRole: IamCreateRole,
    DeleteRole: IamDeleteRole,
    DeleteRolePermissionsBoundary: IamDeleteRolePermissionsBoundary,
    DeleteRolePolicy: IamDeleteRolePolicy,
    DetachRolePolicy: IamDetachRolePolicy,
    PutRolePermissionsBoundary: IamPutRolePermissionsBoundary,
    PutRolePolicy: IamPutRolePolicy,
    TagRole: IamTagRole,
    UntagRole: IamUntagRole,
    UpdateAssumeRolePolicy: IamUpdateAssumeRolePolicy,
    UpdateRole: IamUpdateRole,
  },
} as const;
