"""What every officer page shares: the login, the role check, filtered and paginated lists."""
from django.contrib.auth import views as auth_views
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied

from inventory import selectors as inventory_selectors

from ...access.scope import Capability, user_scope
from ...models import Finding

OBSERVATION_SCOPE = ("host__cluster__operator",)
HOST_SCOPE = ("cluster__operator",)
GPU_SCOPE = ("host__cluster__operator",)
SEVERITY_CSS = {label: f"sev-{label}" for _, label in Finding.Severity.choices}


class LoginView(auth_views.LoginView):
    template_name = "web/login.html"
    redirect_authenticated_user = True
    next_page = "web:dashboard"


class StaffRoleRequiredMixin(LoginRequiredMixin):
    """Logged in, and holding a chipwatch role; a user without one gets 403, not an empty UI."""

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and not user_scope(request.user, Capability.READ).granted:
            raise PermissionDenied("this account has no chipwatch role")
        return super().dispatch(request, *args, **kwargs)

    @property
    def read_scope(self):
        return user_scope(self.request.user, Capability.READ)

    @property
    def triage_scope(self):
        return user_scope(self.request.user, Capability.TRIAGE)


class FilteredListMixin:
    """A ListView narrowed by a django-filter set whose form the template shows."""

    filterset_class = None
    paginate_by = 50
    row_annotations: dict = {}

    def get_queryset(self):
        self.filterset = self.filterset_class(self.request.GET or None, queryset=super().get_queryset(),
                                              request=self.request)
        if not self.filterset.is_bound:
            return self.filterset.queryset
        # A filter that cannot be read shows its error over an empty list, never the unfiltered one.
        return self.filterset.qs if self.filterset.is_valid() else self.filterset.queryset.none()

    def paginate_queryset(self, queryset, page_size):
        paginator, page, rows, is_paginated = super().paginate_queryset(queryset, page_size)
        return paginator, page, inventory_selectors.rows_annotate(rows, self.row_annotations), is_paginated

    def get_context_data(self, **kwargs):
        query = self.request.GET.copy()
        query.pop("page", None)
        return super().get_context_data(filter=self.filterset, query=query.urlencode(), **kwargs)
