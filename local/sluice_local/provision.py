"""Creating the template's tables, queues and bucket in an emulator (moto in-process or moto server)."""

from __future__ import annotations

import json
import secrets
from typing import TYPE_CHECKING

import boto3

if TYPE_CHECKING:
    from types_boto3_s3.type_defs import QueueConfigurationTypeDef
    from types_boto3_sqs.literals import QueueAttributeNameType

from sluice_local.template import ACCOUNT, REGION, Template

_TABLE_KEYS = ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "LocalSecondaryIndexes",
               "BillingMode", "ProvisionedThroughput", "StreamSpecification")


def provision(template: Template, session: boto3.session.Session | None = None) -> dict[str, str]:
    """Creates every table, queue and bucket; returns the environment the functions run with."""
    session = session or boto3.session.Session(region_name=REGION)
    dynamodb = session.client("dynamodb")
    sqs = session.client("sqs")
    s3 = session.client("s3")
    # Idempotent: a restored emulator (SLUICE_DATA_DIR) already has what an earlier start created.
    existing_tables = set(dynamodb.get_paginator("list_tables").paginate().build_full_result().get("TableNames", []))
    existing_buckets = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}

    for logical, resource in template.of_type("AWS::DynamoDB::Table").items():
        props = template.resolve(resource["Properties"])
        name = props.get("TableName", logical)
        if name not in existing_tables:  # restored from the data directory: kept as it is
            dynamodb.create_table(TableName=name, **{k: v for k, v in props.items() if k in _TABLE_KEYS})
            ttl = props.get("TimeToLiveSpecification")
            if ttl:
                dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
        template.physical[logical] = {"Ref": name, "Arn": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"}

    queues = template.of_type("AWS::SQS::Queue")
    # Dead-letter queues first: the others name them in their redrive policies.
    for logical in sorted(queues, key=lambda q: "RedrivePolicy" in queues[q].get("Properties", {})):
        props = template.resolve(queues[logical].get("Properties", {}))
        name = props.get("QueueName", logical)
        attributes: dict[QueueAttributeNameType, str] = {}
        for key in ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds", "ReceiveMessageWaitTimeSeconds"):
            if key in props:
                attributes[key] = str(props[key])
        if "RedrivePolicy" in props:
            attributes["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
        try:
            url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        except sqs.exceptions.QueueNameExists:  # restored with other attributes: the template's win
            url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
            sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)
        template.physical[logical] = {"Ref": url, "QueueName": name,
                                      "Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"}

    for logical in template.of_type("AWS::Serverless::HttpApi"):  # the bucket's CORS rule names the API
        template.physical[logical] = {"Ref": "local"}

    for logical, resource in template.of_type("AWS::S3::Bucket").items():
        props = template.resolve(resource.get("Properties", {}))
        name = props.get("BucketName", logical.lower())
        if name not in existing_buckets:
            s3.create_bucket(Bucket=name)
        template.physical[logical] = {"Ref": name, "Arn": f"arn:aws:s3:::{name}"}
        notification = props.get("NotificationConfiguration", {})
        queue_configs: list[QueueConfigurationTypeDef] = []
        for config in notification.get("QueueConfigurations", []):
            entry: QueueConfigurationTypeDef = {"QueueArn": config["Queue"], "Events": [config["Event"]]}
            rules = config.get("Filter", {}).get("S3Key", {}).get("Rules")
            if rules:
                entry["Filter"] = {"Key": {"FilterRules": rules}}
            queue_configs.append(entry)
        if queue_configs:
            s3.put_bucket_notification_configuration(
                Bucket=name, NotificationConfiguration={"QueueConfigurations": queue_configs})

    secrets_manager = session.client("secretsmanager")
    for logical in template.of_type("AWS::SecretsManager::Secret"):
        try:
            arn = secrets_manager.describe_secret(SecretId=f"sluice-{logical}")["ARN"]  # restored: same value
        except secrets_manager.exceptions.ResourceNotFoundException:
            arn = secrets_manager.create_secret(Name=f"sluice-{logical}",
                                                SecretString=secrets.token_urlsafe(36))["ARN"]
        template.physical[logical] = {"Ref": arn, "Arn": arn}

    for logical in template.of_type("AWS::Serverless::Function"):
        template.physical[logical] = {"Ref": logical, "Arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{logical}"}
    for logical in template.of_type("AWS::Serverless::LayerVersion"):
        template.physical[logical] = {"Ref": f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:{logical}:1"}

    environment: dict[str, str] = {}
    for spec in template.functions().values():
        for key, value in spec.environment.items():
            resolved = str(template.resolve(value))
            if environment.get(key, resolved) != resolved:
                raise ValueError(f"functions disagree on {key}; the local stack runs them in one process")
            environment[key] = resolved
    if environment.get("SENDER_EMAIL"):  # the emulator refuses mail from unverified senders, as SES does
        session.client("ses").verify_email_identity(EmailAddress=environment["SENDER_EMAIL"])
    return environment

