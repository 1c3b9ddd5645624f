"""CloudFormation resource types the local cloud adds to moto, so the real template deploys and runs.

moto skips AWS::Glue::Job, AWS::Glue::Database and AWS::SNS::Subscription, and creates state
machines in its non-executing backend ignoring DefinitionS3Location and DefinitionSubstitutions.
Athena's work group and named queries are added too (the local Athena runs them). Alarms,
dashboards, the Glue security configuration and resource policies stay skipped:
they do not change what runs, and cfn-lint and checkov check them statically.
"""

from __future__ import annotations

import json
from typing import Any, cast

from moto.athena.models import athena_backends
from moto.glue.models import glue_backends
from moto.s3.models import s3_backends
from moto.sns.models import sns_backends
from moto.stepfunctions.parser.models import stepfunctions_parser_backends

from glue_etl_local import packaging


class Model:
    """What moto's CloudFormation parser calls on a resource model. Deliberately not a subclass of
    moto's CloudFormationModel: those register themselves for the whole process on import, while
    these must exist only while the local cloud's patch is installed."""

    TYPE = ""
    NAME_PROPERTY = ""

    def __init__(self, physical_resource_id: str) -> None:
        self.physical_resource_id = physical_resource_id

    @classmethod
    def cloudformation_type(cls) -> str:
        return cls.TYPE

    @classmethod
    def cloudformation_name_type(cls) -> str:
        return cls.NAME_PROPERTY

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return False

    def get_cfn_attribute(self, attribute_name: str) -> str:
        raise KeyError(attribute_name)

    def is_created(self) -> bool:
        return True


class GlueDatabase(Model):
    TYPE = "AWS::Glue::Database"
    NAME_PROPERTY = "DatabaseName"  # unused: the name sits in DatabaseInput.Name

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> GlueDatabase:
        database_input = dict(cloudformation_json["Properties"]["DatabaseInput"])
        name = database_input.get("Name") or resource_name.lower().replace("-", "_")
        database_input["Name"] = name
        glue_backends[account_id][region_name].create_database(name, database_input)
        return cls(name)

    @classmethod
    def update_from_cloudformation_json(
        cls, original_resource: Any, new_resource_name: str, cloudformation_json: dict[str, Any],
        account_id: str, region_name: str,
    ) -> GlueDatabase:  # fmt: skip
        current = original_resource.physical_resource_id
        database_input = dict(cloudformation_json["Properties"]["DatabaseInput"])
        if database_input.get("Name", current) != current:
            cls.delete_from_cloudformation_json(current, cloudformation_json, account_id, region_name)
            return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)
        glue_backends[account_id][region_name].update_database(current, database_input)
        return original_resource  # type: ignore[no-any-return]

    @classmethod
    def delete_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        backend = glue_backends[account_id][region_name]
        if resource_name in backend.databases:
            backend.delete_database(resource_name)


class GlueJob(Model):
    TYPE = "AWS::Glue::Job"
    NAME_PROPERTY = "Name"

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> GlueJob:
        p = cloudformation_json["Properties"]
        arguments: dict[str, Any] = {
            "name": resource_name,
            "role": p["Role"],
            "command": p["Command"],
            "description": p.get("Description"),
            "log_uri": p.get("LogUri"),
            "execution_property": p.get("ExecutionProperty"),
            "default_arguments": {k: str(v) for k, v in (p.get("DefaultArguments") or {}).items()},
            "non_overridable_arguments": p.get("NonOverridableArguments"),
            "connections": p.get("Connections"),
            "max_retries": int(p.get("MaxRetries", 0)),
            "allocated_capacity": p.get("AllocatedCapacity"),
            "timeout": int(p["Timeout"]) if p.get("Timeout") else None,
            "max_capacity": p.get("MaxCapacity"),
            "security_configuration": p.get("SecurityConfiguration"),
            "tags": p.get("Tags") or {},
            "notification_property": p.get("NotificationProperty"),
            "glue_version": p.get("GlueVersion"),
            "number_of_workers": int(p["NumberOfWorkers"]) if p.get("NumberOfWorkers") else None,
            "worker_type": p.get("WorkerType"),
            "code_gen_configuration_nodes": None,
            "execution_class": p.get("ExecutionClass"),
            "source_control_details": None,
        }
        glue_backends[account_id][region_name].create_job(**arguments)
        return cls(resource_name)

    @classmethod
    def update_from_cloudformation_json(
        cls, original_resource: Any, new_resource_name: str, cloudformation_json: dict[str, Any],
        account_id: str, region_name: str,
    ) -> GlueJob:  # fmt: skip
        backend = glue_backends[account_id][region_name]
        current = original_resource.physical_resource_id
        runs = backend.jobs[current].job_runs if current in backend.jobs else []
        cls.delete_from_cloudformation_json(current, cloudformation_json, account_id, region_name)
        updated = cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)
        backend.jobs[updated.physical_resource_id].job_runs = runs  # an update keeps the job's run history, as on AWS
        return updated

    @classmethod
    def delete_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        glue_backends[account_id][region_name].delete_job(resource_name)


class SnsSubscription(Model):
    TYPE = "AWS::SNS::Subscription"
    NAME_PROPERTY = ""

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> SnsSubscription:
        p = cloudformation_json["Properties"]
        backend = sns_backends[account_id][region_name]
        subscription = backend.subscribe(p["TopicArn"], p["Endpoint"], p["Protocol"])
        if p.get("FilterPolicy"):
            backend.set_subscription_attributes(subscription.arn, "FilterPolicy", json.dumps(p["FilterPolicy"]))
        return cls(subscription.arn)

    @classmethod
    def update_from_cloudformation_json(
        cls, original_resource: Any, new_resource_name: str, cloudformation_json: dict[str, Any],
        account_id: str, region_name: str,
    ) -> SnsSubscription:  # fmt: skip
        cls.delete_from_cloudformation_json(
            original_resource.physical_resource_id, cloudformation_json, account_id, region_name
        )
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)

    @classmethod
    def delete_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        sns_backends[account_id][region_name].unsubscribe(resource_name)


class AthenaWorkGroup(Model):
    TYPE = "AWS::Athena::WorkGroup"
    NAME_PROPERTY = "Name"

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> AthenaWorkGroup:
        p = cloudformation_json["Properties"]
        athena_backends[account_id][region_name].create_work_group(
            p["Name"], p.get("WorkGroupConfiguration", {}), p.get("Description", ""), p.get("Tags", [])
        )
        return cls(p["Name"])

    @classmethod
    def update_from_cloudformation_json(
        cls, original_resource: Any, new_resource_name: str, cloudformation_json: dict[str, Any],
        account_id: str, region_name: str,
    ) -> AthenaWorkGroup:  # fmt: skip
        return cast(AthenaWorkGroup, original_resource)

    @classmethod
    def delete_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        athena_backends[account_id][region_name].delete_work_group(resource_name)


class AthenaNamedQuery(Model):
    """The stack's named queries, so they can be listed and run in the local cloud's Athena."""

    TYPE = "AWS::Athena::NamedQuery"
    NAME_PROPERTY = ""

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> AthenaNamedQuery:
        p = cloudformation_json["Properties"]
        query_id = athena_backends[account_id][region_name].create_named_query(
            p["Name"], p.get("Description", ""), p["Database"], p["QueryString"], p.get("WorkGroup", "primary")
        )
        return cls(query_id)

    @classmethod
    def update_from_cloudformation_json(
        cls, original_resource: Any, new_resource_name: str, cloudformation_json: dict[str, Any],
        account_id: str, region_name: str,
    ) -> AthenaNamedQuery:  # fmt: skip
        backend = athena_backends[account_id][region_name]
        backend.named_queries.pop(original_resource.physical_resource_id, None)
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)

    @classmethod
    def delete_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        athena_backends[account_id][region_name].named_queries.pop(resource_name, None)


def _definition(properties: dict[str, Any], account_id: str) -> str:
    if "DefinitionS3Location" in properties:
        location = properties["DefinitionS3Location"]
        key = s3_backends[account_id]["global"].get_object(location["Bucket"], location["Key"])
        if key is None:
            raise ValueError(f"DefinitionS3Location s3://{location['Bucket']}/{location['Key']} does not exist")
        text = key.value.decode("utf-8")
    elif "Definition" in properties:
        text = json.dumps(properties["Definition"])
    else:
        text = properties["DefinitionString"]
    substitutions = {k: str(v) for k, v in (properties.get("DefinitionSubstitutions") or {}).items()}
    return packaging.substitute(text, substitutions)


class StateMachine(Model):
    """Created in the executing backend, with the definition as Step Functions would see it."""

    TYPE = "AWS::StepFunctions::StateMachine"
    NAME_PROPERTY = "StateMachineName"

    def __init__(self, arn: str, name: str) -> None:
        super().__init__(arn)
        self.name = name

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in ("Arn", "Name")

    def get_cfn_attribute(self, attribute_name: str) -> str:
        return {"Arn": self.physical_resource_id, "Name": self.name}[attribute_name]

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> StateMachine:
        p = cloudformation_json["Properties"]
        # moto's own StateMachine model wins the name-property lookup, so read the name here.
        name = p.get("StateMachineName") or resource_name
        machine = stepfunctions_parser_backends[account_id][region_name].create_state_machine(
            name=name,
            definition=_definition(p, account_id),
            roleArn=p["RoleArn"],
            tags=[{"key": tag["Key"], "value": tag["Value"]} for tag in p.get("Tags") or []],
            sm_type=p.get("StateMachineType", "STANDARD"),
        )
        return cls(machine.arn, name)

    @classmethod
    def update_from_cloudformation_json(
        cls, original_resource: Any, new_resource_name: str, cloudformation_json: dict[str, Any],
        account_id: str, region_name: str,
    ) -> StateMachine:  # fmt: skip
        p = cloudformation_json["Properties"]
        stepfunctions_parser_backends[account_id][region_name].update_state_machine(
            arn=original_resource.physical_resource_id, definition=_definition(p, account_id), role_arn=p["RoleArn"]
        )
        return original_resource  # type: ignore[no-any-return]

    @classmethod
    def delete_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        stepfunctions_parser_backends[account_id][region_name].delete_state_machine(resource_name)


class MwaaEnvironment(Model):
    """Recorded, not run (moto has no MWAA): the DAGs run locally with `airflow dags test`. Its
    attributes exist so a template's outputs can name them."""

    TYPE = "AWS::MWAA::Environment"
    NAME_PROPERTY = "Name"

    def __init__(self, name: str, account_id: str, region_name: str) -> None:
        super().__init__(name)
        self.arn = f"arn:aws:airflow:{region_name}:{account_id}:environment/{name}"
        self.webserver_url = f"{name}.airflow.{region_name}.local"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in ("Arn", "WebserverUrl")

    def get_cfn_attribute(self, attribute_name: str) -> str:
        return {"Arn": self.arn, "WebserverUrl": self.webserver_url}[attribute_name]

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> MwaaEnvironment:
        return cls(cloudformation_json["Properties"].get("Name") or resource_name, account_id, region_name)

    @classmethod
    def update_from_cloudformation_json(
        cls, original_resource: Any, new_resource_name: str, cloudformation_json: dict[str, Any],
        account_id: str, region_name: str,
    ) -> MwaaEnvironment:  # fmt: skip
        return cast(MwaaEnvironment, original_resource)

    @classmethod
    def delete_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        return None


MODELS: dict[str, type[Model]] = {
    model.cloudformation_type(): model
    for model in (
        GlueDatabase,
        GlueJob,
        SnsSubscription,
        StateMachine,
        AthenaWorkGroup,
        AthenaNamedQuery,
        MwaaEnvironment,
    )
}
