"""The hourly compute rollup: derived from GpuSample by compliance.compute.services, replaced
whenever its hour is rolled up again (late reports), never edited by hand."""
from django.db import models


class HourlyUsage(models.Model):
    """The sums the estimate reads for one hour and one reported chip.

    Operations are not stored: they are these busy seconds times the catalog's peak rates
    (compliance.compute.model.estimate_ops), so a corrected rate corrects every period.
    """

    start = models.DateTimeField(help_text="Start of the hour (UTC); intervals are attributed where they start")
    chip_name = models.CharField(max_length=128, help_text="The name the GPUs reported (NVML)")
    pci_device_id = models.IntegerField(null=True, blank=True)
    catalog_model = models.CharField(max_length=64, blank=True, help_text="'' when no catalog entry matches")
    gpus = models.PositiveIntegerField(help_text="GPUs with at least one counted interval")
    samples = models.PositiveIntegerField(help_text="Counted intervals (one per sample after the first)")
    gpu_seconds = models.FloatField(help_text="Time covered by samples, gaps excluded")
    busy_gpu_seconds = models.FloatField(help_text="Σ utilization × Δt where utilization was reported")
    unknown_util_seconds = models.FloatField(help_text="Covered time whose utilization was not reported")
    energy_j = models.FloatField(help_text="Σ increase of the energy counters, resets handled")
    counter_resets = models.PositiveIntegerField()
    gaps = models.PositiveIntegerField(help_text="Intervals longer than the gap bound (not counted as running)")
    gap_seconds = models.FloatField()
    skew_corrected = models.PositiveIntegerField(help_text="Samples whose clock was ahead: placed at receipt")
    training_gpus = models.PositiveIntegerField(help_text="GPUs busy at least CHIPWATCH_TRAINING_UTILIZATION_PCT")
    training_gpu_seconds = models.FloatField()
    training_busy_seconds = models.FloatField()
    training_unknown_seconds = models.FloatField()
    first_sample_id = models.BigIntegerField(null=True, help_text="Lowest GpuSample id that fed this row")
    last_sample_id = models.BigIntegerField(null=True, help_text="Highest GpuSample id that fed this row")
    computed_at = models.DateTimeField()

    class Meta:
        abstract = True


class ComputeBucket(HourlyUsage):
    """One hour of one cluster's telemetry for one reported chip."""

    cluster = models.ForeignKey("inventory.Cluster", on_delete=models.CASCADE, related_name="compute_buckets")

    class Meta:
        ordering = ["cluster", "start", "chip_name"]
        # One row per (cluster, start, chip_name, pci_device_id): the rollup replaces an hour's rows
        # in one transaction (a unique constraint cannot name a nullable PCI id portably).
        indexes = [models.Index(fields=["cluster", "start"]), models.Index(fields=["start"])]

    def __str__(self):
        return f"{self.cluster_id} {self.start:%Y-%m-%d %H:00} {self.chip_name}"


class FabricComputeBucket(HourlyUsage):
    """One hour of the GPUs of one NVLink fabric (a connected component of NVLink peers, within one
    cluster) for one reported chip; kept only for fabrics large enough to hold a training run
    (CHIPWATCH_TRAINING_MIN_GPUS GPUs), so a run can be placed on one fabric."""

    cluster = models.ForeignKey("inventory.Cluster", on_delete=models.CASCADE, related_name="fabric_compute_buckets")
    fabric = models.BigIntegerField(help_text="The fabric's lowest GPU id (its name)")
    fabric_gpus = models.PositiveIntegerField(help_text="GPUs in the fabric when this hour was rolled up")

    class Meta:
        ordering = ["cluster", "fabric", "start", "chip_name"]
        indexes = [models.Index(fields=["cluster", "fabric", "start"]), models.Index(fields=["start"])]

    def __str__(self):
        return f"{self.cluster_id}/fabric {self.fabric} {self.start:%Y-%m-%d %H:00} {self.chip_name}"
