"""The chip catalog (compliance/core/data/chips.yaml) as a page: every figure with its source,
and how each chip classifies under the rule in force today."""
from django.utils import timezone
from django.views.generic import TemplateView

from ...core.catalog import default_catalog
from ...core.classify import classify_or_undetermined
from .base import StaffRoleRequiredMixin


def catalog_rows(as_of) -> list[dict]:
    catalog = default_catalog()
    rows = []
    for chip in sorted(catalog, key=lambda c: (c.vendor, c.model)):
        classification = classify_or_undetermined(chip, as_of)
        sources = sorted({p.source for p in chip.provenance.values()})
        rows.append({
            "chip": chip,
            "tpp": chip.tpp,
            "performance_density": chip.performance_density,
            "classification": classification,
            "sources": [(source, catalog.sources.get(source, source)) for source in sources],
            "unconfirmed": sorted(chip.unconfirmed().items()),
        })
    return rows


class CatalogView(StaffRoleRequiredMixin, TemplateView):
    template_name = "web/catalog.html"

    def get_context_data(self, **kwargs):
        today = timezone.localdate()
        return super().get_context_data(rows=catalog_rows(today), as_of=today, **kwargs)
