"""What base.html needs on every page, whichever app's view renders it (the location pages too)."""
from ..access.scope import user_roles


def chipwatch_roles(request) -> dict:
    """The viewer's role names, for the navigation (one query, only when a template reads them)."""
    user = getattr(request, "user", None)
    return {"roles": _LazyRoles(user)}


class _LazyRoles:
    def __init__(self, user):
        self._user = user
        self._roles = None

    def _get(self) -> list[str]:
        if self._roles is None:
            self._roles = sorted(user_roles(self._user))
        return self._roles

    def __iter__(self):
        return iter(self._get())

    def __contains__(self, role) -> bool:
        return role in self._get()

    def __bool__(self) -> bool:
        return bool(self._get())

    def __len__(self) -> int:
        return len(self._get())
