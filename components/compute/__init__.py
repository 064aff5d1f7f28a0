"""The compute plane: the EKS cluster, fenced service namespaces, the blue/green ETL service."""

from components.compute.blue_green import BlueGreenArgs, BlueGreenService
from components.compute.cluster import Cluster, ClusterArgs
from components.compute.namespace import Fence, ServiceNamespace, ServiceNamespaceArgs

__all__ = [
    "BlueGreenArgs", "BlueGreenService", "Cluster", "ClusterArgs", "Fence", "ServiceNamespace",
    "ServiceNamespaceArgs",
]
