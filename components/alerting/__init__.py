"""The alerting plane: routing (SNS, PagerDuty, Slack, the Vercel rule), rules, Alertmanager, monitoring."""

from components.alerting.monitoring import MONITORING_NAMESPACE, ClusterMonitoring, ClusterMonitoringArgs
from components.alerting.recorder import AlertRecorder, AlertRecorderArgs
from components.alerting.routing import AlarmTargets, AlertRouting, AlertRoutingArgs

__all__ = [
    "AlertRecorder", "AlertRecorderArgs",
    "MONITORING_NAMESPACE", "ClusterMonitoring", "ClusterMonitoringArgs", "AlarmTargets", "AlertRouting",
    "AlertRoutingArgs",
]
