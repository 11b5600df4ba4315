from django.apps import AppConfig


class ComputeConfig(AppConfig):
    """Training compute accounting: GPU-hours, energy and operations per cluster, and training runs."""

    name = "compliance.compute"
    label = "compute"
    verbose_name = "Compute accounting"
