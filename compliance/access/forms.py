from django import forms

from .models import Role
from .selectors import clusters_managed, token_users_managed


class EnrollmentSecretForm(forms.Form):
    cluster = forms.ModelChoiceField(queryset=None, help_text="Where the hosts it enrolls are placed")
    label = forms.CharField(max_length=200, required=False, help_text="What it is for (default: cluster and date)")
    max_uses = forms.IntegerField(required=False, min_value=1, label="Uses", help_text="Empty: any number of hosts")
    expires_in_days = forms.IntegerField(required=False, min_value=1, max_value=3650, label="Expires in (days)",
                                         help_text="Empty: never")

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["cluster"].queryset = clusters_managed(user).order_by("name", "id")
        self.fields["cluster"].label_from_instance = lambda c: f"{c.name} ({c.site.name})"


class ApiTokenForm(forms.Form):
    user = forms.ModelChoiceField(queryset=None, help_text="The token acts as this user")
    role = forms.ChoiceField(choices=[("", "all of the user's roles")] + list(Role.choices), required=False,
                             label="At most", help_text="An auditor cap makes a read-only token")
    label = forms.CharField(max_length=200, required=False, help_text="What it is for")

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = token_users_managed(user)
