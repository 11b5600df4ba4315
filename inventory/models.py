"""What exists and where: organizations, sites, clusters, hosts, GPUs, links, and
the append-only history of what each agent reported.

Current-state rows (Host, Gpu, NvLink) are derived from Observations and say
which observation set them; history lives in Observation and GpuSample and is
never overwritten.
"""
import uuid

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q

from .countries import validate_country


class Provenance(models.TextChoices):
    """Where a stored fact came from, strongest last."""

    DECLARED = "declared", "declared (entered or imported)"
    REPORTED = "reported", "reported (agent/NVML; the host owner can forge it)"
    ATTESTED = "attested", "attested (GPU-signed over our nonce)"
    MEASURED = "measured", "measured (server-side timing)"


class CountryField(models.CharField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_length", 2)
        kwargs.setdefault("validators", [validate_country])
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs.pop("validators", None)
        return name, path, args, kwargs


class Organization(models.Model):
    class Kind(models.TextChoices):
        OPERATOR = "operator"
        CLOUD_PROVIDER = "cloud_provider", "cloud provider"
        RESELLER = "reseller"
        END_USER = "end_user", "end user"

    name = models.CharField(max_length=200, unique=True)
    aliases = models.JSONField(default=list, blank=True, help_text="Other names, e.g. local-script or former names")
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.OPERATOR)
    country_of_incorporation = CountryField()
    headquarters_country = CountryField()
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="subsidiaries")
    provenance = models.CharField(max_length=10, choices=Provenance.choices, default=Provenance.DECLARED)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.CheckConstraint(condition=~Q(parent=F("id")), name="organization_not_own_parent")]

    def __str__(self):
        return self.name

    def ancestors(self) -> list["Organization"]:
        """Parent chain from the direct parent up to the ultimate parent (cycle-safe)."""
        chain, seen, node = [], {self.pk}, self.parent
        while node is not None and node.pk not in seen:
            chain.append(node)
            seen.add(node.pk)
            node = node.parent
        return chain

    @property
    def ultimate_parent(self) -> "Organization":
        chain = self.ancestors()
        return chain[-1] if chain else self

    def clean(self):
        if not isinstance(self.aliases, list) or not all(isinstance(a, str) for a in self.aliases):
            raise ValidationError({"aliases": "aliases must be a list of strings"})
        node = self.parent
        while node is not None:
            if node.pk == self.pk:
                raise ValidationError({"parent": "this parent would make the ownership chain a cycle"})
            node = node.parent


class Site(models.Model):
    name = models.CharField(max_length=200)
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="sites")
    country = CountryField()
    city = models.CharField(max_length=120, blank=True)
    latitude = models.FloatField(null=True, blank=True, validators=[MinValueValidator(-90), MaxValueValidator(90)])
    longitude = models.FloatField(null=True, blank=True, validators=[MinValueValidator(-180), MaxValueValidator(180)])
    provenance = models.CharField(max_length=10, choices=Provenance.choices, default=Provenance.DECLARED)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="site_unique_name_per_org"),
            models.CheckConstraint(
                condition=Q(latitude__isnull=True) | Q(latitude__gte=-90, latitude__lte=90), name="site_latitude_range"
            ),
            models.CheckConstraint(
                condition=Q(longitude__isnull=True) | Q(longitude__gte=-180, longitude__lte=180),
                name="site_longitude_range",
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.country})"


class Cluster(models.Model):
    class Purpose(models.TextChoices):
        TRAINING = "training"
        INFERENCE = "inference"
        MIXED = "mixed"
        RESEARCH = "research"
        UNKNOWN = "unknown"

    name = models.CharField(max_length=200)
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="clusters")
    operator = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="clusters")
    declared_purpose = models.CharField(max_length=20, choices=Purpose.choices, default=Purpose.UNKNOWN)
    provenance = models.CharField(max_length=10, choices=Provenance.choices, default=Provenance.DECLARED)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["site", "name"], name="cluster_unique_name_per_site")]

    def __str__(self):
        return self.name


class Host(models.Model):
    hostname = models.CharField(max_length=255)
    cluster = models.ForeignKey(Cluster, null=True, blank=True, on_delete=models.PROTECT, related_name="hosts")
    machine_id = models.CharField(max_length=64, blank=True,
                                  help_text="Bound at enrollment; a report never changes it (docs/security.md)")
    reported_machine_id = models.CharField(max_length=64, blank=True,
                                           help_text="What the last report said; differing from machine_id is a finding")
    boot_id = models.CharField(max_length=64, blank=True)
    os = models.CharField(max_length=200, blank=True)
    kernel = models.CharField(max_length=200, blank=True)
    driver_version = models.CharField(max_length=64, blank=True)
    nvml_version = models.CharField(max_length=64, blank=True)
    cuda_driver_version = models.IntegerField(null=True, blank=True)
    nvml_ok = models.BooleanField(default=True, help_text="False while the agent cannot initialise NVML")
    nvml_error = models.CharField(max_length=256, blank=True)
    identity_sha256 = models.CharField(max_length=64, blank=True, help_text="Hash of the last full identity section")
    first_seen = models.DateTimeField(null=True, blank=True)
    last_seen = models.DateTimeField(null=True, blank=True)
    last_observation = models.ForeignKey(
        "Observation", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The durable outbox: set in the ingest transaction, cleared by the evaluation
    # that saw it.  A lost Celery message is re-enqueued by the sweeper.
    needs_evaluation = models.DateTimeField(null=True, blank=True, db_index=True)
    provenance = models.CharField(max_length=10, choices=Provenance.choices, default=Provenance.REPORTED)

    class Meta:
        ordering = ["hostname"]
        indexes = [models.Index(fields=["machine_id"])]

    def __str__(self):
        return self.hostname


class Gpu(models.Model):
    class UuidStatus(models.TextChoices):
        """Whether ``uuid`` is the GPU's NVML UUID, or a per-host key for a GPU the host reported
        without a UUID it may hold (inventory.services.gpu_rows decides which)."""

        REPORTED = "reported", "reported by this GPU's host"
        UNREADABLE = "unreadable", "unreadable (NVML answered an error)"
        HELD_ELSEWHERE = "held_elsewhere", "held by another host (duplicate identity)"

    uuid = models.CharField(max_length=80, unique=True, help_text="NVML UUID, e.g. GPU-…, or a per-host key")
    uuid_status = models.CharField(max_length=16, choices=UuidStatus.choices, default=UuidStatus.REPORTED)
    reported_uuid = models.CharField(max_length=256, blank=True,
                                     help_text="The UUID the host reported, when another host holds it")
    # Indexed by Meta's (host, index), which serves every lookup by host: a second index on host
    # alone was one more index write for each GPU of every report.
    host = models.ForeignKey(Host, null=True, blank=True, on_delete=models.SET_NULL, related_name="gpus",
                             db_index=False)
    index = models.PositiveSmallIntegerField(null=True, blank=True)
    name = models.CharField(max_length=128, blank=True, help_text="As NVML reports it")
    serial = models.CharField(max_length=64, blank=True, db_index=True)
    board_id = models.BigIntegerField(null=True, blank=True)
    multi_gpu_board = models.BooleanField(null=True, blank=True)
    module_id = models.IntegerField(null=True, blank=True)
    pci_bus_id = models.CharField(max_length=32, blank=True)
    pci_device_id = models.IntegerField(null=True, blank=True, db_index=True, help_text="16-bit PCI device id")
    pci_vendor_id = models.IntegerField(null=True, blank=True)
    pci_subsystem_id = models.BigIntegerField(null=True, blank=True)
    board_part_number = models.CharField(max_length=64, blank=True)
    vbios_version = models.CharField(max_length=64, blank=True)
    memory_total_bytes = models.BigIntegerField(null=True, blank=True)
    num_cores = models.IntegerField(null=True, blank=True)
    max_sm_clock_mhz = models.IntegerField(null=True, blank=True)
    max_mem_clock_mhz = models.IntegerField(null=True, blank=True)
    power_limit_default_mw = models.IntegerField(null=True, blank=True)
    power_limit_max_mw = models.IntegerField(null=True, blank=True)
    mig_mode = models.SmallIntegerField(null=True, blank=True)
    active_nvlinks = models.PositiveSmallIntegerField(null=True, blank=True)
    nvlink_version = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Highest active NVLink generation")
    fabric_cluster_uuid = models.CharField(max_length=64, blank=True, db_index=True)
    fabric_clique_id = models.BigIntegerField(null=True, blank=True)
    identity = models.JSONField(default=dict, help_text="The GPU's identity section exactly as last reported")
    first_seen = models.DateTimeField()
    # Not indexed: every report sets it on each of its host's GPUs, and with no index on the column
    # PostgreSQL updates the row in place (HOT) instead of writing every index of the table again.
    # Nothing looks GPUs up by last_seen alone; the detectors filter by host first.
    last_seen = models.DateTimeField()
    last_observation = models.ForeignKey(
        "Observation", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    provenance = models.CharField(max_length=10, choices=Provenance.choices, default=Provenance.REPORTED)

    class Meta:
        ordering = ["uuid"]
        indexes = [
            models.Index(fields=["host", "index"]),
            # duplicate_identity's fleet-wide look for stand-in rows, which last_seen's index served.
            models.Index(fields=["reported_uuid"], condition=Q(uuid_status="held_elsewhere"),
                         name="gpu_held_elsewhere_idx"),
        ]

    def __str__(self):
        return f"{self.name or 'GPU'} {self.uuid}"


class NvLink(models.Model):
    gpu = models.ForeignKey(Gpu, on_delete=models.CASCADE, related_name="nvlinks")
    link_index = models.PositiveSmallIntegerField()
    state = models.CharField(max_length=10, choices=[("active", "active"), ("inactive", "inactive")])
    version = models.PositiveSmallIntegerField(null=True, blank=True)
    speed_mbps = models.IntegerField(null=True, blank=True, help_text="Per direction, as NVML reports it")
    remote_device_type = models.CharField(max_length=16, blank=True)
    remote_pci_bus_id = models.CharField(max_length=32, blank=True)
    last_observation = models.ForeignKey(
        "Observation", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    provenance = models.CharField(max_length=10, choices=Provenance.choices, default=Provenance.REPORTED)

    class Meta:
        ordering = ["gpu", "link_index"]
        constraints = [models.UniqueConstraint(fields=["gpu", "link_index"], name="nvlink_unique_per_gpu")]

    def __str__(self):
        return f"{self.gpu.uuid} link {self.link_index}"


class AppendOnlyModel(models.Model):
    """History rows: written once, never updated or deleted through the ORM."""

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise ValidationError(f"{type(self).__name__} is append-only: rows are never updated")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError(f"{type(self).__name__} is append-only: rows are never deleted")


class Agent(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    host = models.ForeignKey(Host, on_delete=models.PROTECT, related_name="agents")
    public_key = models.CharField(max_length=64, unique=True, help_text="Raw Ed25519 public key, base64")
    enrollment_secret = models.ForeignKey(
        "EnrollmentSecret", null=True, blank=True, on_delete=models.SET_NULL, related_name="agents"
    )
    enrolled_at = models.DateTimeField(auto_now_add=True)
    last_seen = models.DateTimeField(null=True, blank=True)
    last_sequence = models.BigIntegerField(default=-1)
    revoked_at = models.DateTimeField(null=True, blank=True, help_text="Final: a revoked key is never valid again")
    # Per-agent budgets (CHIPWATCH_AGENT_*), counted on the agent row that ingest locks anyway.
    budget_minute_start = models.DateTimeField(null=True, blank=True)
    budget_minute_reports = models.PositiveIntegerField(default=0)
    budget_day = models.DateField(null=True, blank=True)
    budget_day_bytes = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["-enrolled_at"]
        constraints = [models.UniqueConstraint(fields=["host"], condition=Q(revoked_at__isnull=True),
                                               name="agent_one_live_key_per_host")]

    def __str__(self):
        return f"agent {self.id} on {self.host}"

    def save(self, *args, **kwargs):
        update_fields = kwargs.get("update_fields")
        touches_revocation = update_fields is None or "revoked_at" in update_fields
        if touches_revocation and self.revoked_at is None and not self._state.adding and Agent.objects.filter(
                pk=self.pk, revoked_at__isnull=False).exists():
            raise ValidationError("a revoked agent key stays revoked: enroll a new key instead")
        super().save(*args, **kwargs)


class EnrollmentSecret(models.Model):
    """A one-time or limited-use secret an operator hands to new hosts; only its hash is stored."""

    label = models.CharField(max_length=200)
    secret_sha256 = models.CharField(max_length=64, unique=True)
    cluster = models.ForeignKey(
        Cluster, null=True, blank=True, on_delete=models.PROTECT, help_text="Where enrolled hosts are placed"
    )
    max_uses = models.PositiveIntegerField(null=True, blank=True)
    uses = models.PositiveIntegerField(default=0)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.label


class Observation(AppendOnlyModel):
    """One agent report, exactly as received (canonical JSON and its SHA-256)."""

    class Signature(models.TextChoices):
        VALID = "valid"
        INVALID = "invalid"
        MISSING = "missing"

    report_id = models.UUIDField(unique=True)
    # Indexed by Meta's (host, collected_at) and (agent, sequence), which serve every lookup by
    # either: no single-column copies for each stored report to maintain.
    agent = models.ForeignKey(Agent, on_delete=models.PROTECT, related_name="observations", db_index=False)
    host = models.ForeignKey(Host, on_delete=models.PROTECT, related_name="observations", db_index=False)
    sequence = models.BigIntegerField()
    collected_at = models.DateTimeField()
    received_at = models.DateTimeField()
    clock_skew_seconds = models.FloatField(help_text="collected_at minus received_at")
    payload = models.JSONField()
    payload_sha256 = models.CharField(max_length=64)
    identity_sha256 = models.CharField(max_length=64)
    full_identity = models.BooleanField(help_text="Whether the report carried the identity section")
    synthetic = models.BooleanField(default=False)
    signature_status = models.CharField(max_length=10, choices=Signature.choices)
    provenance = models.CharField(max_length=10, choices=Provenance.choices, default=Provenance.REPORTED)

    class Meta:
        ordering = ["-received_at"]
        indexes = [models.Index(fields=["host", "collected_at"]), models.Index(fields=["agent", "sequence"])]

    def __str__(self):
        return f"report {self.report_id}"


class GpuSample(AppendOnlyModel):
    """Per-GPU telemetry of one observation: the fleet-wide time series detectors query set-wise."""

    observation = models.ForeignKey(Observation, on_delete=models.PROTECT, related_name="samples")
    gpu = models.ForeignKey(Gpu, on_delete=models.PROTECT, related_name="samples")
    host = models.ForeignKey(Host, on_delete=models.PROTECT, related_name="+")
    collected_at = models.DateTimeField()
    sm_clock_mhz = models.IntegerField(null=True)
    mem_clock_mhz = models.IntegerField(null=True)
    utilization_gpu_pct = models.SmallIntegerField(null=True)
    power_draw_mw = models.IntegerField(null=True)
    temperature_c = models.SmallIntegerField(null=True)
    energy_mj = models.BigIntegerField(null=True)

    class Meta:
        indexes = [models.Index(fields=["gpu", "collected_at"]), models.Index(fields=["host", "collected_at"])]


class IngestRejection(AppendOnlyModel):
    """A report the server refused for a security reason: the evidence trail of forgery attempts."""

    received_at = models.DateTimeField(auto_now_add=True)
    agent = models.ForeignKey(Agent, null=True, blank=True, on_delete=models.PROTECT, related_name="rejections")
    claimed_agent_id = models.CharField(max_length=64, blank=True)
    report_id = models.CharField(max_length=64, blank=True)
    reason = models.CharField(max_length=40)
    detail = models.CharField(max_length=500, blank=True)
    payload_sha256 = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-received_at"]
        indexes = [models.Index(fields=["reason", "received_at"])]


class Declaration(models.Model):
    """A GPU the operator declared (imported from a CSV of serials or UUIDs): who may use it and where."""

    gpu_uuid = models.CharField(max_length=80, blank=True, db_index=True)
    serial = models.CharField(max_length=64, blank=True, db_index=True)
    licensed_end_user = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="declarations")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="declarations")
    license_number = models.CharField(max_length=64, blank=True)
    source_sha256 = models.CharField(max_length=64, help_text="SHA-256 of the imported file")
    imported_at = models.DateTimeField()
    provenance = models.CharField(max_length=10, choices=Provenance.choices, default=Provenance.DECLARED)

    class Meta:
        ordering = ["site", "gpu_uuid", "serial"]
        constraints = [
            models.CheckConstraint(condition=~Q(gpu_uuid="") | ~Q(serial=""), name="declaration_names_a_gpu"),
            models.UniqueConstraint(fields=["gpu_uuid"], condition=~Q(gpu_uuid=""), name="declaration_unique_uuid"),
            models.UniqueConstraint(fields=["serial"], condition=Q(gpu_uuid=""), name="declaration_unique_serial"),
        ]

    def __str__(self):
        return self.gpu_uuid or self.serial


class Transfer(models.Model):
    """A recorded, authorised move of GPUs between sites; relocations without one are findings."""

    gpu_uuid = models.CharField(max_length=80, db_index=True)
    from_site = models.ForeignKey(Site, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    to_site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    effective_date = models.DateField()
    license_number = models.CharField(max_length=64, blank=True)
    provenance = models.CharField(max_length=10, choices=Provenance.choices, default=Provenance.DECLARED)

    class Meta:
        ordering = ["-effective_date"]


class License(models.Model):
    """An export licence on record for an organization at a destination."""

    number = models.CharField(max_length=64, unique=True)
    holder = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="licenses")
    destination_country = CountryField()
    eccns = models.JSONField(default=list, help_text='e.g. ["3A090.a", "4A090.a"]')
    sites = models.ManyToManyField(Site, blank=True, related_name="licenses", help_text="Empty: the whole country")
    quantity = models.PositiveIntegerField(null=True, blank=True, help_text="Authorised GPU count; empty: unlimited")
    valid_from = models.DateField()
    valid_until = models.DateField(null=True, blank=True)
    provenance = models.CharField(max_length=10, choices=Provenance.choices, default=Provenance.DECLARED)

    class Meta:
        ordering = ["-valid_from"]
        constraints = [
            models.CheckConstraint(condition=Q(valid_until__isnull=True) | Q(valid_until__gte=F("valid_from")),
                                   name="license_valid_range"),
        ]

    def __str__(self):
        return self.number


class ArchivedPartition(AppendOnlyModel):
    """A month of history exported by ``manage.py retention`` and detached from its table
    (inventory.services.retention); the file's SHA-256 is what a restore is checked against."""

    table = models.CharField(max_length=63, help_text="The partitioned table, e.g. inventory_gpusample")
    partition = models.CharField(max_length=63, help_text="The detached partition's table name")
    range_start = models.DateTimeField(help_text="First instant the partition held (inclusive)")
    range_end = models.DateTimeField(help_text="End of its range (exclusive)")
    rows = models.BigIntegerField()
    file_name = models.CharField(max_length=255, help_text="The gzip'd CSV (COPY … WITH HEADER) it was exported to")
    file_bytes = models.BigIntegerField()
    sha256 = models.CharField(max_length=64, help_text="SHA-256 of the compressed file")
    dropped = models.BooleanField(help_text="False: the detached table is still in the database")
    archived_at = models.DateTimeField()

    class Meta:
        ordering = ["table", "range_start"]

    def __str__(self):
        return f"{self.partition} ({self.rows} rows)"
