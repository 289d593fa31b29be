from django import forms
from django.contrib.auth import get_user_model

from comms.models import ContractTarget, Customer, CustomerContact
from config.forms import ModelChoiceField, ModelMultipleChoiceField, formfield
from incidents.forms import Select
from incidents.models import CustomerTier, Service, Severity
from incidents.services import DESCRIPTION_MAX, TITLE_MAX

User = get_user_model()
SUGGESTED = "suggested"


class CustomerFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=200, widget=forms.TextInput(
        attrs={"type": "search", "placeholder": "Name or external id",
               "aria-label": "Search customers"}))
    tier = ModelChoiceField(CustomerTier.objects.all(), required=False,
                                  to_field_name="slug", empty_label="Every tier",
                                  widget=Select(attrs={"aria-label": "Tier"}))


class CustomerForm(forms.ModelForm):
    csm = ModelChoiceField(User.objects.filter(is_active=True).order_by("username"),
                                 required=False, label="Owning CSM", widget=Select)

    class Meta:
        formfield_callback = formfield  # relations refuse keys the database cannot hold
        model = Customer
        fields = ["name", "external_id", "tier", "csm", "notes"]
        widgets = {"notes": forms.Textarea(attrs={"rows": 3}), "tier": Select}


class ContactForm(forms.ModelForm):
    class Meta:
        formfield_callback = formfield  # relations refuse keys the database cannot hold
        model = CustomerContact
        fields = ["name", "email", "role", "receives_updates"]

    def has_changed(self):
        # A blank extra row is blank whatever its checkbox says.
        return bool({"name", "email", "role"} & set(self.changed_data))


class TargetForm(forms.ModelForm):
    class Meta:
        formfield_callback = formfield  # relations refuse keys the database cannot hold
        model = ContractTarget
        fields = ["severity", "response_minutes", "resolution_minutes"]
        widgets = {"severity": Select}


ContactFormSet = forms.formset_factory(ContactForm, extra=1, can_delete=True, max_num=50,
                                       validate_max=True)
TargetFormSet = forms.formset_factory(TargetForm, extra=0, max_num=len(Severity.values),
                                      validate_max=True)


def rows_of(formset) -> list[dict]:
    """The filled-in, not deleted rows of a valid formset, as the service takes them."""
    return [{k: v for k, v in form.cleaned_data.items() if k != "DELETE"}
            for form in formset.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE")]


class CustomersField(ModelMultipleChoiceField):
    widget = forms.CheckboxSelectMultiple

    def label_from_instance(self, customer):
        return f"{customer.name} ({customer.tier.name})"


def customer_choices():
    return Customer.objects.select_related("tier").order_by("name", "id")


class IncidentCustomersForm(forms.Form):
    customers = CustomersField(customer_choices(), required=False)


class ReportForm(forms.Form):
    title = forms.CharField(max_length=TITLE_MAX, widget=forms.TextInput(
        attrs={"placeholder": "What is the customer's problem? e.g. Acme cannot log in"}))
    service = ModelChoiceField(Service.objects.select_related("team").order_by("name"),
                                     required=False, label="Affected service",
                                     empty_label="Not sure", widget=Select)
    customers = CustomersField(customer_choices())
    what_customer_sees = forms.CharField(
        max_length=DESCRIPTION_MAX, label="What the customer sees",
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "Error messages, since when, "
                                                                "who is affected"}))
    severity = forms.ChoiceField(
        choices=[(SUGGESTED, "Suggested"), *Severity.choices], initial=SUGGESTED,
        widget=Select, help_text="Suggested from the customers' tiers; choose another if the "
                                 "customer's situation calls for it.")
