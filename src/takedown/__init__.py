"""takedown: botnet takedown operations (sinkholes, telemetry, forecasts, planning)."""

__version__ = "0.1.0"
