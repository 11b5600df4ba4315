"""Licence entry: officers over the holder's family record a licence; the audit log keeps who and when."""
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect
from django.urls import reverse
from django.views.generic import FormView

from inventory.models import Cluster, Organization, Site
from inventory.services.licences import license_create

from ..licence_form import LicenceForm
from .base import StaffRoleRequiredMixin


class LicenceCreateView(StaffRoleRequiredMixin, FormView):
    form_class = LicenceForm
    template_name = "web/licence_form.html"

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and not self.triage_scope.granted:
            raise PermissionDenied("entering a licence needs an officer or admin role")
        return super().dispatch(request, *args, **kwargs)

    def get_form_kwargs(self):
        scope = self.triage_scope
        return {**super().get_form_kwargs(), "organizations": scope.filter(Organization.objects.all(), ("id",)),
                "sites": scope.filter(Site.objects.all(), ("organization",))}

    def get_initial(self):
        """?cluster=ID (from a cluster page) proposes its operator, country and site; ?holder=ID the holder."""
        initial = {}
        params = self.request.GET
        if params.get("cluster", "").isdigit():
            cluster = (self.triage_scope.filter(Cluster.objects.select_related("site"), ("operator",))
                       .filter(pk=int(params["cluster"])).first())
            if cluster is not None:
                initial.update(holder=cluster.operator_id, destination_country=cluster.site.country,
                               sites=[cluster.site_id])
        if params.get("holder", "").isdigit():
            initial["holder"] = int(params["holder"])
        return initial

    def form_valid(self, form):
        data = form.cleaned_data
        try:
            licence = license_create(number=data["number"], holder=data["holder"],
                                     destination_country=data["destination_country"], eccns=data["eccns"],
                                     valid_from=data["valid_from"], valid_until=data["valid_until"],
                                     quantity=data["quantity"], sites=list(data["sites"]))
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
            return self.form_invalid(form)
        messages.success(request=self.request, message=(
            f"Licence {licence.number} recorded for {licence.holder.name} ({licence.destination_country}); "
            f"the clusters it may cover are being re-scored."))
        cluster = self.request.GET.get("cluster", "")
        if cluster.isdigit():
            return redirect(reverse("web:cluster", args=[int(cluster)]) + "#license")
        return redirect(reverse("web:organization", args=[licence.holder_id]) + "#licences")
