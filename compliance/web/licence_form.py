"""Licence entry in the officer UI: the ECCNs are chosen from the controlled paragraphs, never typed as JSON."""
from __future__ import annotations

from django import forms

from inventory.countries import COUNTRY_CHOICES
from inventory.models import Organization, Site

# The ECCNs a licence for AI compute names (15 CFR 774 Supp. 1, as amended by 87 FR 62186 and 88 FR 73458):
# the 3A090/4A090 paragraphs and the .z items that carry them inside larger products.
LICENCE_ECCNS = (
    ("3A090.a", "3A090.a — advanced computing ICs (TPP ≥ 4800, or TPP ≥ 1600 and PD ≥ 5.92)"),
    ("3A090.b", "3A090.b — ICs below .a but above the .b lines"),
    ("4A090.a", "4A090.a — computers containing 3A090.a ICs"),
    ("4A090.b", "4A090.b — computers containing 3A090.b ICs"),
    ("3A001.z", "3A001.z — 3A001 items meeting 3A090"),
    ("4A003.z", "4A003.z — 4A003 computers meeting 4A090"),
    ("5A992.z", "5A992.z — 5A992 items meeting 3A090/4A090"),
)


class LicenceForm(forms.Form):
    number = forms.CharField(max_length=64, label="Licence number")
    holder = forms.ModelChoiceField(queryset=Organization.objects.none())
    destination_country = forms.ChoiceField(choices=COUNTRY_CHOICES, label="Destination country")
    eccns = forms.MultipleChoiceField(choices=LICENCE_ECCNS, label="ECCNs", widget=forms.CheckboxSelectMultiple,
                                      help_text="Every ECCN the licence names; a GPU is covered only if its ECCN "
                                                "is among them")
    sites = forms.ModelMultipleChoiceField(queryset=Site.objects.none(), required=False,
                                           help_text="None selected: the whole destination country")
    quantity = forms.IntegerField(min_value=1, required=False, help_text="Authorised GPU count; empty: unlimited")
    valid_from = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    valid_until = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}),
                                  help_text="Empty: open-ended")

    def __init__(self, *args, organizations, sites, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["holder"].queryset = organizations.order_by("name")
        self.fields["sites"].queryset = sites.select_related("organization").order_by("country", "name")

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("valid_from"), cleaned.get("valid_until")
        if start and end and end < start:
            self.add_error("valid_until", "the licence cannot end before it starts")
        country = cleaned.get("destination_country")
        elsewhere = [site.name for site in cleaned.get("sites") or () if site.country != country]
        if country and elsewhere:
            self.add_error("sites", f"not in {country}: {', '.join(elsewhere)}")
        return cleaned
