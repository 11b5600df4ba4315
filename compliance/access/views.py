"""Officer pages for access: enrollment secrets and API tokens (issued once, listed, revoked), and
the agents that stopped reporting.  Each list is narrowed to what the viewer manages (selectors)."""
from datetime import timedelta

from django.contrib import messages
from django.db.models import Exists, OuterRef, Subquery
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.views import View
from django.views.generic import ListView, TemplateView

from inventory.models import Agent, IngestRejection
from inventory.services.enrollment import enrollment_secret_create

from .enrollment import enrollment_secret_revoke
from .forms import ApiTokenForm, EnrollmentSecretForm
from .mixins import CapabilityRequiredMixin
from .scope import Capability, user_scope
from .selectors import api_tokens_managed, enrollment_secret_state, enrollment_secrets_managed
from .services import api_token_create, api_token_revoke

AGENT_SCOPE = ("host__cluster__operator",)


class OfficerPageMixin(CapabilityRequiredMixin):
    required_capability = Capability.TRIAGE


class EnrollmentSecretsView(OfficerPageMixin, TemplateView):
    """GET: the secrets and the form; POST: a new secret, shown in this one response only."""

    template_name = "access/secrets.html"

    def get_context_data(self, form=None, **kwargs):
        now = timezone.now()
        secrets = list(enrollment_secrets_managed(self.request.user)[:500])
        for secret in secrets:
            secret.state = enrollment_secret_state(secret, now)
        return super().get_context_data(form=form or EnrollmentSecretForm(user=self.request.user), secrets=secrets,
                                        **kwargs)

    def post(self, request):
        form = EnrollmentSecretForm(request.POST, user=request.user)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(form=form), status=400)
        data, now = form.cleaned_data, timezone.now()
        secret, plaintext = enrollment_secret_create(
            label=data["label"] or f"{data['cluster'].name} {now:%Y-%m-%d}", cluster=data["cluster"],
            max_uses=data["max_uses"],
            expires_at=now + timedelta(days=data["expires_in_days"]) if data["expires_in_days"] else None)
        response = self.render_to_response(self.get_context_data(created=secret, plaintext=plaintext))
        response["Cache-Control"] = "no-store"
        return response


class EnrollmentSecretRevokeView(OfficerPageMixin, View):
    def post(self, request, pk: int):
        secret = enrollment_secret_revoke(secret=get_object_or_404(enrollment_secrets_managed(request.user), pk=pk))
        messages.success(request, f"Enrollment secret “{secret.label}” revoked.")
        return redirect("access:secrets")


class ApiTokensView(OfficerPageMixin, TemplateView):
    template_name = "access/tokens.html"

    def get_context_data(self, form=None, **kwargs):
        return super().get_context_data(form=form or ApiTokenForm(user=self.request.user),
                                        tokens=api_tokens_managed(self.request.user)[:500], **kwargs)

    def post(self, request):
        form = ApiTokenForm(request.POST, user=request.user)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(form=form), status=400)
        token, plaintext = api_token_create(user=form.cleaned_data["user"], role=form.cleaned_data["role"],
                                            label=form.cleaned_data["label"], created_by=request.user)
        response = self.render_to_response(self.get_context_data(created=token, plaintext=plaintext))
        response["Cache-Control"] = "no-store"
        return response


class ApiTokenRevokeView(OfficerPageMixin, View):
    def post(self, request, pk: int):
        token = api_token_revoke(token=get_object_or_404(api_tokens_managed(request.user), pk=pk),
                                 revoked_by=request.user)
        messages.success(request, f"Token {token.prefix}… of {token.user} revoked.")
        return redirect("access:tokens")


class SilentAgentsView(CapabilityRequiredMixin, ListView):
    """Agents silent for longer than ?minutes= (default 60): when each was last seen, its key state
    (live; revoked; retired = superseded by a newer key on its host) and the last report refused."""

    template_name = "access/agents.html"
    paginate_by = 100
    default_minutes = 60

    def silent_minutes(self) -> int:
        value = self.request.GET.get("minutes", "")
        return int(value) if value.isdigit() and 0 < int(value) <= 525_600 else self.default_minutes

    def get_queryset(self):
        cutoff = timezone.now() - timedelta(minutes=self.silent_minutes())
        last_rejection = IngestRejection.objects.filter(agent=OuterRef("pk")).order_by("-received_at", "-id")
        agents = (Agent.objects.filter(enrolled_at__lt=cutoff).exclude(last_seen__gte=cutoff)
                  .select_related("host__cluster")
                  .annotate(superseded=Exists(Agent.objects.filter(host=OuterRef("host"),
                                                                   enrolled_at__gt=OuterRef("enrolled_at"))),
                            rejection_reason=Subquery(last_rejection.values("reason")[:1]),
                            rejection_detail=Subquery(last_rejection.values("detail")[:1]),
                            rejection_at=Subquery(last_rejection.values("received_at")[:1]))
                  .order_by("revoked_at", "last_seen", "enrolled_at"))
        return user_scope(self.request.user, Capability.READ).filter(agents, AGENT_SCOPE)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(minutes=self.silent_minutes(), query=f"minutes={self.silent_minutes()}",
                                           **kwargs)
        for agent in context["object_list"]:
            agent.key_state = "live" if agent.revoked_at is None else "retired" if agent.superseded else "revoked"
        return context
