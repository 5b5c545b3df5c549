#!/usr/bin/env bash
# The runbook's own commands for sections 1.1–2.3 (../shared/runbook.md), as an operator would
# paste them, with the aws CLI. `npm run bench` (scripts/bench.ts) times this script against
# `fintech-runbook apply` on the same emulator. The values are the runbook's; the ids
# ($ACCOUNT_ID, $VPC_ID, $ALB_ARN, $CERT_ARN, $APP_SUB_A, $APP_SUB_B, $ECS_SG) come from the
# environment, as the runbook expects. Where it differs from the runbook, a comment says why
# ("moto:" marks what only the emulator needs).
#
#   ENDPOINT_URL   where every call goes (the bench's latency proxy in front of moto); required
#   AWS_CLI        the aws executable (default: aws on PATH)
set -euo pipefail

AWS_CLI="${AWS_CLI:-aws}"
if ! command -v "$AWS_CLI" >/dev/null 2>&1; then
  echo "runbook.sh: the aws CLI is not installed: install it with  pip install awscli  (or AWS CLI v2)" >&2
  exit 127
fi
: "${ENDPOINT_URL:?set ENDPOINT_URL (e.g. the emulator, http://127.0.0.1:PORT)}"
for var in ACCOUNT_ID VPC_ID ALB_ARN CERT_ARN APP_SUB_A APP_SUB_B ECS_SG; do
  if [ -z "${!var:-}" ]; then echo "runbook.sh: $var is not set" >&2; exit 2; fi
done
# Only ever the given endpoint (the emulator on loopback): refuse anything else.
case "$ENDPOINT_URL" in
  http://127.0.0.1:*|http://localhost:*) ;;
  *) echo "runbook.sh: ENDPOINT_URL must be a loopback emulator, got $ENDPOINT_URL" >&2; exit 2 ;;
esac
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
# The runbook's commands read as written: `aws ...` is the CLI pointed at the endpoint.
aws() { "$AWS_CLI" --endpoint-url "$ENDPOINT_URL" "$@"; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"

# ---- 1.1 Create ECS Cluster
aws ecs create-cluster \
  --cluster-name fintech-prod-cluster \
  --capacity-providers FARGATE FARGATE_SPOT \
  --default-capacity-provider-strategy capacityProvider=FARGATE_SPOT,weight=2 capacityProvider=FARGATE,weight=1 \
  --tags key=Environment,value=Production key=Project,value=FinTechGlobal key=CostCenter,value=CC-Corp \
  --settings name=containerInsights,value=enabled

aws ecs describe-clusters --clusters fintech-prod-cluster --include SETTINGS STATISTICS TAGS

# ---- 1.2 ECR Repository Setup
aws ecr create-repository \
  --repository-name fintech-api \
  --image-scanning-configuration scanOnPush=true \
  --encryption-configuration encryptionType=KMS \
  --image-tag-mutability IMMUTABLE \
  --tags Key=Environment,Value=Production Key=Project,Value=FinTechGlobal

cat > lifecycle-policy.json << 'JSON'
{
    "rules": [
        {
            "rulePriority": 1,
            "description": "Keep last 30 production images",
            "selection": {
                "tagStatus": "tagged",
                "tagPrefixList": ["prod"],
                "countType": "imageCountMoreThan",
                "countNumber": 30
            },
            "action": { "type": "expire" }
        }
    ]
}
JSON

aws ecr put-lifecycle-policy --repository-name fintech-api --lifecycle-policy-text file://lifecycle-policy.json

# ---- 1.3 IAM Roles
cat > ecs-trust.json << 'JSON'
{
  "Version": "2012-10-17",
  "Statement": [
    { "Effect": "Allow", "Principal": { "Service": "ecs-tasks.amazonaws.com" }, "Action": "sts:AssumeRole" }
  ]
}
JSON

cat > exec-policy.json << 'JSON'
{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "ecr:GetAuthorizationToken",
                "ecr:BatchCheckLayerAvailability",
                "ecr:GetDownloadUrlForLayer",
                "ecr:BatchGetImage",
                "logs:CreateLogStream",
                "logs:PutLogEvents",
                "secretsmanager:GetSecretValue",
                "ssm:GetParameters"
            ],
            "Resource": "*"
        }
    ]
}
JSON

cat > task-policy.json << 'JSON'
{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "dynamodb:PutItem",
                "dynamodb:GetItem",
                "dynamodb:Query",
                "s3:PutObject",
                "s3:GetObject"
            ],
            "Resource": [
                "arn:aws:dynamodb:us-east-1:*:table/FinTechTransactions",
                "arn:aws:s3:::fintech-data-lake-prod/*"
            ]
        }
    ]
}
JSON

aws iam create-role --role-name FinTech-ECS-ExecRole --assume-role-policy-document file://ecs-trust.json
aws iam put-role-policy --role-name FinTech-ECS-ExecRole --policy-name ExecPermissions --policy-document file://exec-policy.json

aws iam create-role --role-name FinTech-ECS-TaskRole --assume-role-policy-document file://ecs-trust.json
aws iam put-role-policy --role-name FinTech-ECS-TaskRole --policy-name AppPermissions --policy-document file://task-policy.json

# ---- 1.4 Task Definition
aws logs create-log-group --log-group-name /ecs/fintech-api --tags Key=Environment,Value=Production

aws ecs register-task-definition \
  --family fintech-api-task \
  --network-mode awsvpc \
  --requires-compatibilities FARGATE \
  --cpu 1024 \
  --memory 2048 \
  --execution-role-arn arn:aws:iam::${ACCOUNT_ID}:role/FinTech-ECS-ExecRole \
  --task-role-arn arn:aws:iam::${ACCOUNT_ID}:role/FinTech-ECS-TaskRole \
  --container-definitions '[
    {
      "name": "api-container",
      "image": "'${ACCOUNT_ID}'.dkr.ecr.us-east-1.amazonaws.com/fintech-api:latest",
      "essential": true,
      "portMappings": [{"containerPort": 8080, "protocol": "tcp"}],
      "secrets": [
        {"name": "DB_PASSWORD", "valueFrom": "arn:aws:secretsmanager:us-east-1:'${ACCOUNT_ID}':secret:fintech/db-credentials:password::"}
      ],
      "environment": [
        {"name": "ENV", "value": "production"},
        {"name": "REGION", "value": "us-east-1"}
      ],
      "logConfiguration": {
        "logDriver": "awsfirelens",
        "options": {
            "Name": "cloudwatch",
            "region": "us-east-1",
            "log_group_name": "/ecs/fintech-api",
            "log_stream_prefix": "app"
        }
      },
      "healthCheck": {
        "command": ["CMD-SHELL", "curl -f http://localhost:8080/health || exit 1"],
        "interval": 30,
        "timeout": 5,
        "retries": 3
      }
    },
    {
      "name": "log_router",
      "image": "amazon/aws-for-fluent-bit:latest",
      "essential": true,
      "firelensConfiguration": {"type": "fluentbit"},
      "memoryReservation": 50
    }
  ]'

# ---- 1.5 ALB Integration
TG_ARN=$(aws elbv2 create-target-group \
  --name fintech-prod-tg \
  --protocol HTTP --port 8080 \
  --vpc-id $VPC_ID \
  --target-type ip \
  --health-check-path "/health" \
  --health-check-interval-seconds 30 \
  --query 'TargetGroups[0].TargetGroupArn' --output text)

aws elbv2 modify-target-group-attributes --target-group-arn $TG_ARN --attributes Key=deregistration_delay.timeout_seconds,Value=30 Key=stickiness.enabled,Value=false

aws elbv2 create-listener \
  --load-balancer-arn $ALB_ARN \
  --protocol HTTPS --port 443 \
  --certificates CertificateArn=$CERT_ARN \
  --ssl-policy ELBSecurityPolicy-TLS-1-2-2017-01 \
  --default-actions Type=forward,TargetGroupArn=$TG_ARN

# ---- 1.6 ECS Service Creation
aws ecs create-service \
  --cluster fintech-prod-cluster \
  --service-name fintech-api-svc \
  --task-definition fintech-api-task \
  --desired-count 3 \
  --launch-type FARGATE \
  --network-configuration "awsvpcConfiguration={subnets=[$APP_SUB_A,$APP_SUB_B],securityGroups=[$ECS_SG],assignPublicIp=DISABLED}" \
  --load-balancers targetGroupArn=$TG_ARN,containerName=api-container,containerPort=8080 \
  --health-check-grace-period-seconds 60 \
  --deployment-configuration "deploymentCircuitBreaker={enable=true,rollback=true}" \
  --tags key=Environment,value=Production

# ---- 2.1 ECS Auto Scaling
aws application-autoscaling register-scalable-target \
  --service-namespace ecs \
  --scalable-dimension ecs:service:DesiredCount \
  --resource-id service/fintech-prod-cluster/fintech-api-svc \
  --min-capacity 3 \
  --max-capacity 10

aws application-autoscaling put-scaling-policy \
  --service-namespace ecs \
  --scalable-dimension ecs:service:DesiredCount \
  --resource-id service/fintech-prod-cluster/fintech-api-svc \
  --policy-name fintech-cpu-scaling \
  --policy-type TargetTrackingScaling \
  --target-tracking-scaling-policy-configuration '{
    "TargetValue": 70.0,
    "PredefinedMetricSpecification": { "PredefinedMetricType": "ECSServiceAverageCPUUtilization" },
    "ScaleOutCooldown": 60,
    "ScaleInCooldown": 300
  }'

aws application-autoscaling put-scaling-policy \
  --service-namespace ecs \
  --scalable-dimension ecs:service:DesiredCount \
  --resource-id service/fintech-prod-cluster/fintech-api-svc \
  --policy-name fintech-mem-scaling \
  --policy-type TargetTrackingScaling \
  --target-tracking-scaling-policy-configuration '{
    "TargetValue": 75.0,
    "PredefinedMetricSpecification": { "PredefinedMetricType": "ECSServiceAverageMemoryUtilization" }
  }'

# ---- 2.2 Aurora Auto Scaling
aws application-autoscaling register-scalable-target \
  --service-namespace rds \
  --resource-id cluster:fintech-db-cluster \
  --scalable-dimension rds:cluster:ReadReplicaCount \
  --min-capacity 1 \
  --max-capacity 5

aws application-autoscaling put-scaling-policy \
  --service-namespace rds \
  --resource-id cluster:fintech-db-cluster \
  --scalable-dimension rds:cluster:ReadReplicaCount \
  --policy-name aurora-read-scaling \
  --policy-type TargetTrackingScaling \
  --target-tracking-scaling-policy-configuration '{
    "TargetValue": 60.0,
    "PredefinedMetricSpecification": { "PredefinedMetricType": "RDSReaderAverageCPUUtilization" }
  }'

# ---- 2.3 DynamoDB Auto Scaling
aws application-autoscaling register-scalable-target \
  --service-namespace dynamodb \
  --resource-id table/FinTechTransactions \
  --scalable-dimension dynamodb:table:WriteCapacityUnits \
  --min-capacity 5 \
  --max-capacity 100

aws application-autoscaling put-scaling-policy \
  --service-namespace dynamodb \
  --resource-id table/FinTechTransactions \
  --scalable-dimension dynamodb:table:WriteCapacityUnits \
  --policy-name dynamodb-write-scaling \
  --policy-type TargetTrackingScaling \
  --target-tracking-scaling-policy-configuration '{
    "TargetValue": 70.0,
    "PredefinedMetricSpecification": { "PredefinedMetricType": "DynamoDBWriteCapacityUtilization" }
  }'
