"""The demo business systems (finance, security, tickets, training, payroll) as real HTTP services.

``async with serve_demo_systems(seed, employees) as demo:`` serves all five on loopback; each
reports the values of :mod:`hub.demo.values`, and each can be made slow, failing, throttled,
garbled or down through ``demo.faults`` or its ``/_faults`` endpoint.
"""

from hub.demo.systems.faults import FaultInjection, Faults, Garbage
from hub.demo.systems.runner import SYSTEMS, DemoSystems, serve_demo_systems, systems_config

__all__ = ["SYSTEMS", "DemoSystems", "FaultInjection", "Faults", "Garbage", "serve_demo_systems", "systems_config"]
