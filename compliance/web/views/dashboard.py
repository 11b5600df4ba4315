"""The fleet dashboard: every chart's bars open the list of what they count."""
from urllib.parse import urlencode

from django.urls import reverse
from django.views.generic import TemplateView

from .. import charts, selectors
from .base import SEVERITY_CSS, StaffRoleRequiredMixin


def _chart(title: str, rows, list_url: str, **options) -> charts.BarChart:
    """rows: (label, value, filter params or None) → a bar chart whose bars link to `list_url?params`."""
    links = {label: f"{list_url}?{urlencode(params, doseq=True)}" for label, _, params in rows if params}
    return charts.bar_chart(title, [(label, value) for label, value, _ in rows], links=links, **options)


class DashboardView(StaffRoleRequiredMixin, TemplateView):
    template_name = "web/dashboard.html"

    def get_context_data(self, **kwargs):
        scope = self.read_scope
        gpus, clusters, findings = reverse("web:gpus"), reverse("web:clusters"), reverse("web:findings")
        by_country = selectors.compute_by_country(scope)
        by_family = selectors.compute_by_family(scope)
        countries = [(r["label"], {"country": r["label"]}) for r in by_country]
        families = [(r["label"], {"family": r["root_id"]}) for r in by_family]
        weeks, raised, closed = selectors.findings_over_time(scope)
        return super().get_context_data(
            bar_charts=[
                _chart("GPUs by model", selectors.gpus_by_model(scope), gpus),
                _chart("GPUs by classification", selectors.gpus_by_classification(scope), gpus),
                _chart("Aggregate TPP by country",
                       [(label, r["tpp"], params) for (label, params), r in zip(countries, by_country)], clusters),
                _chart("H100-equivalents by country",
                       [(label, r["h100e"], params) for (label, params), r in zip(countries, by_country)], clusters),
                _chart("Aggregate TPP by organization family",
                       [(label, r["tpp"], params) for (label, params), r in zip(families, by_family)], clusters),
                _chart("H100-equivalents by organization family",
                       [(label, r["h100e"], params) for (label, params), r in zip(families, by_family)], clusters),
                _chart("Unresolved findings by severity", selectors.unresolved_findings(scope, "severity"), findings,
                       css=SEVERITY_CSS),
                _chart("Unresolved findings by kind", selectors.unresolved_findings(scope, "kind"), findings),
            ],
            timeline=charts.line_chart("Findings per week", weeks,
                                       [("raised", "series-raised", raised), ("closed", "series-closed", closed)]),
            by_country=by_country, by_family=by_family, **kwargs)
