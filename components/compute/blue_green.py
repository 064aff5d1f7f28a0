"""The ETL service as a blue/green pair on the cluster, switched by `kingtavo:activeColor`.

Both colors are always deployed: `etl-blue` and `etl-green` each run their own release
from settings. Two Services choose between them by the pod label `color`:

- `etl-live` selects the active color: the traffic everyone uses;
- `etl-preview` selects the idle color: a new release is smoke-tested there before the flip.

Flipping the setting changes those two selectors and nothing else, so a switch and a
rollback are the same small, instant update. The idle color keeps as many replicas as the
live one unless `etl.idleReplicas` says otherwise, so rolling back needs no scale-up.

The namespace, its service account and that account's IAM role (`ServiceNamespace`,
components/compute/namespace.py) come first, because the ETL's secrets need the role and the
namespace before the Deployments exist.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from components.compute.namespace import ServiceNamespace
from components.core.context import StackContext
from components.core.settings import COLORS, EtlSettings

APP = "etl"
RUN_AS_USER = 10001


def color_labels(color: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": APP, "app.kubernetes.io/part-of": "kingtavo", "color": color}


def image_version(image: str) -> str:
    """The tag or a short digest: a label value that says which release a Deployment runs."""
    if "@sha256:" in image:
        return "sha256-" + image.rsplit(":", 1)[1][:12]
    return image.rsplit(":", 1)[1][:63]


@dataclass(frozen=True)
class BlueGreenArgs:
    ctx: StackContext
    settings: EtlSettings
    active_color: str
    k8s_provider: k8s.Provider
    namespace: ServiceNamespace
    # env var -> (Kubernetes Secret name, key): secrets reach the container only through secretKeyRef
    secret_env: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    # plain, non-secret configuration, delivered through a ConfigMap
    config_env: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    # what the service account may read (its own secrets only) and the key that decrypts them
    readable_secret_arns: Sequence[pulumi.Input[str]] = ()
    secrets_kms_key_arn: pulumi.Input[str] | None = None


class BlueGreenService(pulumi.ComponentResource):
    """Outputs: live_color, live_release, idle_release, live_service, preview_service, live_service_name,
    pod_selector."""

    def __init__(self, name: str, args: BlueGreenArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kingtavo:compute:BlueGreenService", name, None, opts)
        settings = args.settings
        k8s_opts = pulumi.ResourceOptions(parent=self, provider=args.k8s_provider)
        namespace = args.namespace.namespace_name
        idle_color = "green" if args.active_color == "blue" else "blue"

        if args.readable_secret_arns:
            self._grant_secret_reads(name, args)

        self.config_map = k8s.core.v1.ConfigMap(
            f"{name}-config",
            metadata={"name": f"{APP}-config", "namespace": namespace, "labels": {"app.kubernetes.io/name": APP}},
            data={"ENVIRONMENT": args.ctx.environment, "PORT": str(settings.port), **args.config_env},
            opts=k8s_opts)

        self.deployments: dict[str, k8s.apps.v1.Deployment] = {}
        for color in COLORS:
            replicas = settings.replicas if color == args.active_color else settings.idle_replica_count
            self.deployments[color] = self._deployment(name, color, replicas, args, k8s_opts)
            k8s.policy.v1.PodDisruptionBudget(
                f"{name}-{color}-pdb",
                metadata={"name": f"{APP}-{color}", "namespace": namespace, "labels": color_labels(color)},
                spec={"maxUnavailable": 1, "selector": {"matchLabels": color_labels(color)}},
                opts=k8s_opts)

        # The only two resources that read the active color.
        self.live_service = self._service(name, "live", args.active_color, namespace, settings.port, k8s_opts)
        self.preview_service = self._service(name, "preview", idle_color, namespace, settings.port, k8s_opts)

        self.live_color = args.active_color
        # What monitoring watches: the live Service by name, and every ETL pod (both colors) by label.
        self.live_service_name = f"{APP}-live"
        self.pod_selector = {"app.kubernetes.io/name": APP}
        self.live_release = settings.release(args.active_color).image
        self.idle_release = settings.release(idle_color).image
        self.register_outputs({"liveColor": self.live_color, "liveRelease": self.live_release,
                               "idleRelease": self.idle_release})

    def _grant_secret_reads(self, name: str, args: BlueGreenArgs) -> None:
        statements: list[dict] = [{
            "Sid": "ReadOwnSecrets",
            "Effect": "Allow",
            "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
            "Resource": list(args.readable_secret_arns),
        }]
        if args.secrets_kms_key_arn is not None:
            statements.append({
                "Sid": "DecryptOwnSecrets",
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": args.secrets_kms_key_arn,
                # StringLike: the region is not known here, and StringEquals would not expand the wildcard
                "Condition": {"StringEquals": {
                    "kms:ViaService": f"secretsmanager.{args.ctx.aws.region}.amazonaws.com"}},
            })
        args.namespace.role.grant(f"{name}-read-secrets", pulumi.Output.all(*[
            pulumi.Output.from_input(s) for s in statements]).apply(list))

    def _deployment(self, name: str, color: str, replicas: int, args: BlueGreenArgs,
                    opts: pulumi.ResourceOptions) -> k8s.apps.v1.Deployment:
        settings = args.settings
        image = settings.release(color).image
        labels = color_labels(color)
        env = [
            {"name": env_name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}
            for env_name, (secret, key) in sorted(args.secret_env.items())
        ]
        env.append({"name": "RELEASE_COLOR", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['color']"}}})
        probe = {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 10, "timeoutSeconds": 2,
                 "failureThreshold": 3}
        container = {
            "name": APP,
            "image": image,
            "imagePullPolicy": "IfNotPresent",
            "ports": [{"name": "http", "containerPort": settings.port, "protocol": "TCP"}],
            "envFrom": [{"configMapRef": {"name": f"{APP}-config"}}],
            "env": env,
            "resources": {
                "requests": {"cpu": settings.cpu_request, "memory": settings.memory_request},
                "limits": {"cpu": settings.cpu_limit, "memory": settings.memory_limit},
            },
            "livenessProbe": {**probe, "initialDelaySeconds": 10},
            "readinessProbe": {**probe, "httpGet": {"path": "/readyz", "port": "http"}},
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": RUN_AS_USER,
                "runAsGroup": RUN_AS_USER,
                "allowPrivilegeEscalation": False,
                "readOnlyRootFilesystem": True,
                "privileged": False,
                "capabilities": {"drop": ["ALL"]},
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],  # noqa: S108 - an emptyDir, not the host's
        }
        return k8s.apps.v1.Deployment(
            f"{name}-{color}",
            metadata={"name": f"{APP}-{color}", "namespace": args.namespace.namespace_name,
                      "labels": {**labels, "app.kubernetes.io/version": image_version(image)}},
            spec={
                "replicas": replicas,
                "revisionHistoryLimit": 5,
                "selector": {"matchLabels": labels},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
                "template": {
                    "metadata": {"labels": {**labels, "app.kubernetes.io/version": image_version(image)}},
                    "spec": {
                        "serviceAccountName": args.namespace.service_account_name,
                        "automountServiceAccountToken": False,
                        "securityContext": {
                            "runAsNonRoot": True,
                            "runAsUser": RUN_AS_USER,
                            "runAsGroup": RUN_AS_USER,
                            "fsGroup": RUN_AS_USER,
                            "seccompProfile": {"type": "RuntimeDefault"},
                        },
                        "containers": [container],
                        "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}}],
                        "topologySpreadConstraints": [{
                            "maxSkew": 1,
                            "topologyKey": "topology.kubernetes.io/zone",
                            "whenUnsatisfiable": "ScheduleAnyway",
                            "labelSelector": {"matchLabels": labels},
                        }],
                        "terminationGracePeriodSeconds": 60,
                    },
                },
            },
            opts=opts)

    def _service(self, name: str, role: str, color: str, namespace: pulumi.Input[str], port: int,
                 opts: pulumi.ResourceOptions) -> k8s.core.v1.Service:
        return k8s.core.v1.Service(
            f"{name}-{role}-service",
            metadata={"name": f"{APP}-{role}", "namespace": namespace,
                      "labels": {"app.kubernetes.io/name": APP, "kingtavo.com/traffic": role}},
            spec={
                "type": "ClusterIP",
                "selector": color_labels(color),
                "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
            },
            opts=opts)
