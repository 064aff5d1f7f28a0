"""The observability plane: Sentry and the Vercel log drain."""

from components.observability.log_drain import VercelLogDrain, VercelLogDrainArgs
from components.observability.sentry import ErrorTracking, ErrorTrackingArgs

__all__ = [
    "VercelLogDrain", "VercelLogDrainArgs", "ErrorTracking", "ErrorTrackingArgs",
]
