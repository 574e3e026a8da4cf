"""eci-operator: Alibaba Cloud Serverless Kubernetes (ASK) virtual nodes and a simulated ECI runtime.

The package is layered (enforced by import-linter, see pyproject.toml):
``models`` (pydantic CRD models) <- ``domain`` (pure decisions) <- ``runtime`` / ``kube``
(simulation, API I/O) <- ``handlers`` (thin Kopf handlers) <- ``cli``. ``devcluster`` is the local control
plane used by ``make run`` and the tests; the operator itself never imports it.
"""

__version__ = "0.1.0"
