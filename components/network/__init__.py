"""The network plane: the VPC."""

from components.network.vpc import Network, NetworkArgs

__all__ = [
    "Network", "NetworkArgs",
]
