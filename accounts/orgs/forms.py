"""Forms of the organisation pages."""

from __future__ import annotations

from typing import Any

from django import forms

from accounts.models import Membership, Role


class OrgRenameForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        label="Organisation name",
        error_messages={"required": "Give the organisation a name."},
    )

    def clean_name(self) -> str:
        name = str(self.cleaned_data["name"]).strip()
        if not name:
            raise forms.ValidationError("Give the organisation a name.")
        return name


class OrgCreateForm(OrgRenameForm):
    """A new organisation's name."""


class InviteForm(forms.Form):
    email = forms.EmailField(label="Email address", max_length=254)
    role = forms.ChoiceField(choices=Role.choices, initial=Role.DEVELOPER)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class MemberRemoveForm(forms.Form):
    KEYS_CHOICES = [
        ("revoke", "Revoke their keys"),
        ("hand_over", "Hand their keys over to another member"),
    ]
    keys = forms.ChoiceField(
        choices=KEYS_CHOICES, initial="revoke", widget=forms.RadioSelect, label="Their API keys"
    )
    hand_to = forms.ModelChoiceField(
        queryset=Membership.objects.none(),
        required=False,
        label="Hand over to",
        empty_label="Choose a member",
    )

    def __init__(self, *args: Any, membership: Membership, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["hand_to"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = (
            Membership.objects.filter(
                account_id=membership.account_id,
                role__in=[Role.OWNER, Role.ADMIN, Role.DEVELOPER],
            )
            .exclude(pk=membership.pk)
            .select_related("user")
        )
        field.label_from_instance = lambda m: f"{m.user.email} ({m.get_role_display()})"  # type: ignore[method-assign,assignment]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("keys") == "hand_over" and not data.get("hand_to"):
            self.add_error("hand_to", "Choose the member who takes the keys over.")
        return data
