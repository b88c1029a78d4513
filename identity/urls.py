from django.urls import path

from . import oidc, saml

app_name = "identity"

urlpatterns = [
    path("oidc/<slug:key>/login/", oidc.login, name="oidc_login"),
    path("oidc/<slug:key>/callback/", oidc.callback, name="oidc_callback"),
    path("saml/<slug:key>/login/", saml.login, name="saml_login"),
    path("saml/<slug:key>/acs/", saml.acs, name="saml_acs"),
    path("saml/<slug:key>/metadata/", saml.metadata, name="saml_metadata"),
]
