"""What the rules say about the inventory: classifications, cluster scores, findings."""
from django.conf import settings
from django.db import models


class GpuClassification(models.Model):
    """The current catalog match and export classification of one GPU.

    Derived from reported identity; recomputable for any date from the pure core,
    so only the latest evaluation is kept here.
    """

    gpu = models.OneToOneField("inventory.Gpu", on_delete=models.CASCADE, related_name="classification")
    catalog_model = models.CharField(max_length=64, blank=True, db_index=True, help_text="'' when no catalog match")
    match_basis = models.CharField(max_length=200, blank=True, help_text="How the catalog entry was chosen")
    eccn = models.CharField(max_length=16, blank=True)
    paragraph = models.CharField(max_length=32, blank=True)
    rule = models.CharField(max_length=120, blank=True, help_text="Citation of the regime applied")
    as_of = models.DateField()
    evaluated_at = models.DateTimeField()
    observation = models.ForeignKey("inventory.Observation", null=True, on_delete=models.SET_NULL, related_name="+")

    def __str__(self):
        return f"{self.gpu_id}: {self.catalog_model or '?'} {self.eccn or 'not 3A090'}"


class ClusterScore(models.Model):
    """A cluster's figures and risk score as of a date, under the regime then in force."""

    cluster = models.ForeignKey("inventory.Cluster", on_delete=models.CASCADE, related_name="scores")
    as_of = models.DateField()
    rule = models.CharField(max_length=120)
    gpu_count = models.PositiveIntegerField()
    controlled_gpu_count = models.PositiveIntegerField()
    aggregate_tpp = models.FloatField()
    h100_equivalents = models.FloatField()
    risk_score = models.PositiveSmallIntegerField()
    figures = models.JSONField(help_text="Every figure, threshold and explained contribution")
    content_sha256 = models.CharField(max_length=64)
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["-as_of", "cluster"]
        constraints = [models.UniqueConstraint(fields=["cluster", "as_of"], name="cluster_score_unique_per_day")]


class Finding(models.Model):
    """Something that looks wrong, with its evidence and the rule it concerns.

    Deduplicated by `dedup_key`: the same condition seen again updates last_seen
    and occurrences instead of raising a second finding.
    """

    class Severity(models.IntegerChoices):
        INFO = 10, "info"
        LOW = 20, "low"
        MEDIUM = 30, "medium"
        HIGH = 40, "high"
        CRITICAL = 50, "critical"

    class Status(models.TextChoices):
        OPEN = "open"
        ACKNOWLEDGED = "acknowledged"
        RESOLVED = "resolved"
        FALSE_POSITIVE = "false_positive", "false positive"

    class Subject(models.TextChoices):
        GPU = "gpu"
        HOST = "host"
        CLUSTER = "cluster"
        ORGANIZATION = "organization"

    kind = models.CharField(max_length=64, db_index=True)
    severity = models.PositiveSmallIntegerField(choices=Severity.choices, db_index=True)
    subject_type = models.CharField(max_length=16, choices=Subject.choices)
    subject_id = models.BigIntegerField()
    cluster = models.ForeignKey("inventory.Cluster", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="findings")
    organization = models.ForeignKey("inventory.Organization", null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="findings")
    dedup_key = models.CharField(max_length=200, unique=True)
    title = models.CharField(max_length=300)
    evidence = models.JSONField(help_text='{"observation_ids": [...], "figures": {...}}')
    citation = models.CharField(max_length=300)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN, db_index=True)
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    occurrences = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-severity", "-last_seen"]
        indexes = [models.Index(fields=["subject_type", "subject_id"]), models.Index(fields=["status", "severity"])]

    def __str__(self):
        return self.title


class FindingEvent(models.Model):
    """One step in a finding's life: raised, re-seen, triaged.  Never edited."""

    finding = models.ForeignKey(Finding, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField()
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    from_status = models.CharField(max_length=16, blank=True)
    to_status = models.CharField(max_length=16)
    note = models.TextField()
    # What the finding asserted at this step: detectors refresh a finding's title, severity and evidence in
    # place, so an audit as of a past date reads them from its last event by then, never from the finding.
    title = models.CharField(max_length=300, blank=True)
    severity = models.PositiveSmallIntegerField(choices=Finding.Severity.choices, null=True)
    observation_ids = models.JSONField(default=list)

    class Meta:
        ordering = ["at", "id"]


class HostClassification(models.Model):
    """The host as a computer (4A090.a/.b or not) from the GPUs it holds, as of the last evaluation.

    Recomputable for any date from the pure core (`compliance.core.systems`); the audit report
    derives it again from each host's observation of that day.
    """

    host = models.OneToOneField("inventory.Host", on_delete=models.CASCADE, related_name="classification")
    eccn = models.CharField(max_length=16, blank=True, help_text="'' when not 4A090 (or undetermined)")
    paragraph = models.CharField(max_length=32, blank=True, help_text="4A090 paragraph met, or 'undetermined'")
    rule = models.CharField(max_length=120, blank=True, help_text="Citation of the regime applied")
    governing_model = models.CharField(max_length=64, blank=True, help_text="The catalog chip that decided it")
    gpu_count = models.PositiveIntegerField()
    unidentified_gpus = models.PositiveIntegerField(default=0)
    reasons = models.JSONField(default=list)
    as_of = models.DateField()
    evaluated_at = models.DateTimeField()

    def __str__(self):
        return f"{self.host_id}: {self.eccn or self.paragraph or 'not 4A090'}"


class HostEvaluation(models.Model):
    """What the last evaluation of a host rested on: the identity its GPU classifications came from
    and the cluster it was scored in.  The batch evaluation (compliance.evaluation) compares a
    marked host against it, so a report that changed neither re-classifies and re-scores nothing."""

    host = models.OneToOneField("inventory.Host", on_delete=models.CASCADE, related_name="evaluation")
    identity_sha256 = models.CharField(max_length=64, blank=True, help_text="Host.identity_sha256 when evaluated")
    cluster = models.ForeignKey("inventory.Cluster", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+", help_text="The cluster the host was scored in")
    evaluated_at = models.DateTimeField()

    def __str__(self):
        return f"{self.host_id} evaluated {self.evaluated_at:%Y-%m-%d %H:%M:%S}"
