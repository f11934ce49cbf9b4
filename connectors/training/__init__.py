"""Training systems: where employees' completed courses come from."""

from connectors.training.xapi import XapiSettings, XapiTrainingSource

__all__ = ["XapiSettings", "XapiTrainingSource"]
