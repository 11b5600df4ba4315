"""The gate of the access pages: logged in, and holding the capability the page needs."""
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied

from .scope import Capability, user_roles, user_scope


class CapabilityRequiredMixin(LoginRequiredMixin):
    """A logged-in user without the capability anywhere gets 403 (not an empty page)."""

    required_capability = Capability.READ
    refusal = "this page needs an officer or admin role"

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and not self.capability_granted(request.user):
            raise PermissionDenied(self.refusal)
        return super().dispatch(request, *args, **kwargs)

    def capability_granted(self, user) -> bool:
        return user_scope(user, self.required_capability).granted

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["roles"] = sorted(user_roles(self.request.user))
        return context
