"""The alerting plane: routing (SNS, PagerDuty, Slack, the Vercel rule), rules, Alertmanager, monitoring."""

from components.alerting.monitoring import MONITORING_NAMESPACE, ClusterMonitoring, ClusterMonitoringArgs
from components.alerting.routing import AlarmTargets, AlertRouting, AlertRoutingArgs

__all__ = [
    "MONITORING_NAMESPACE", "ClusterMonitoring", "ClusterMonitoringArgs", "AlarmTargets", "AlertRouting",
    "AlertRoutingArgs",
]
