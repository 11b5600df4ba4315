"""The rules timeline page: what changed when, with sources, as `manage.py rules timeline` prints it
(same core function, same filters), so an officer sees which dated fact an answer rests on."""
from django import forms
from django.views.generic import TemplateView

from ..core.ruledata import default_rule_data
from ..core.timeline import timeline
from .views.base import StaffRoleRequiredMixin


class TimelineFilter(forms.Form):
    country = forms.CharField(required=False, max_length=2, help_text="ISO code, e.g. KH")
    since = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean_country(self):
        code = self.cleaned_data["country"].strip()
        if not code:
            return None
        try:
            return default_rule_data().country(code)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None


class RulesTimelineView(StaffRoleRequiredMixin, TemplateView):
    template_name = "web/rules_timeline.html"

    def get(self, request, *args, **kwargs):
        self.filter_form = TimelineFilter(request.GET or None)
        response = super().get(request, *args, **kwargs)
        if self.filter_form.is_bound and not self.filter_form.is_valid():
            response.status_code = 400
        return response

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        form = self.filter_form
        chosen = form.cleaned_data if form.is_bound and form.is_valid() else {}
        context["form"] = form
        context["events"] = timeline(country=chosen.get("country"), since=chosen.get("since")) \
            if not form.is_bound or form.is_valid() else ()
        return context
