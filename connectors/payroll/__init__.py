"""Payroll systems: where employees' compensation history comes from."""

from connectors.payroll.odata import BASE_PAY_COMPONENT, BONUS_PAY_COMPONENT, ODataCompensationSource, ODataSettings

__all__ = ["BASE_PAY_COMPONENT", "BONUS_PAY_COMPONENT", "ODataCompensationSource", "ODataSettings"]
