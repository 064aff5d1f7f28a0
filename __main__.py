"""Kingtavo's infrastructure: the composition root. Load settings, build components, export.

No resource logic lives here: each plane is a component in `components/`, handed the typed
slice of the settings it needs. With invalid settings nothing below the first line runs, so
no resource is registered.
"""

import pulumi

from components.kms import AwsContext, PlatformKey, PlatformKeyArgs
from components.network import Network, NetworkArgs
from components.settings import load_settings, present_config_keys

settings = load_settings(present_keys=present_config_keys())
aws_ctx = AwsContext.lookup()
protect = settings.is_production

platform_key = PlatformKey("platform-key", PlatformKeyArgs(
    environment=settings.environment, aws=aws_ctx, deletion_window_days=settings.secrets.kms_deletion_window_days,
    protect=protect))
network = Network("network", NetworkArgs(
    settings=settings.network, environment=settings.environment, cluster_name=settings.cluster.name,
    kms_key_arn=platform_key.arn, protect=protect))

pulumi.export("environment", settings.environment)
pulumi.export("liveColor", settings.active_color)
pulumi.export("vpcId", network.vpc_id)
pulumi.export("privateSubnetIds", network.private_subnet_ids)
pulumi.export("publicSubnetIds", network.public_subnet_ids)
